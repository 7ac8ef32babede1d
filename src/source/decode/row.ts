// A pgoutput tuple → the value parts of a ChangeEvent (values, vectors, unchanged), by its
// relation's columns. The source adds op, source position and key.
import type { ColumnValue, VectorValue } from '../../event/change-event.js';
import type { Tuple } from '../pgoutput/messages.js';
import type { ResolvedRelation } from '../pgoutput/relation-cache.js';
import { DecodeError, UnsupportedTypeError } from './errors.js';
import { FLOAT_ARRAY_TYPES, VECTOR_TYPES, decodeValue, decodeVector } from './value.js';

export interface DecodedRow {
  /** Non-vector columns that were sent. */
  values: Record<string, ColumnValue>;
  /** Vector columns that were sent (null for a NULL vector). */
  vectors: Record<string, VectorValue | null>;
  /** Columns sent as 'u' (unchanged TOAST): in neither map; the sink keeps what it has. */
  unchanged: string[];
}

export interface DecodeRowOptions {
  /** real[] / double precision[] columns to treat as vectors; pgvector columns always are. */
  vectorColumns?: ReadonlySet<string>;
}

/** True when `column` decodes with decodeVector under these options. */
export function isVectorColumn(
  column: { name: string; typeName: string },
  options: DecodeRowOptions = {},
): boolean {
  return (
    VECTOR_TYPES.has(column.typeName) ||
    (FLOAT_ARRAY_TYPES.has(column.typeName) && (options.vectorColumns?.has(column.name) ?? false))
  );
}

/** Decodes every cell; errors are DecodeErrors naming schema.table.column and the type. */
export function decodeRow(
  relation: ResolvedRelation,
  tuple: Tuple,
  options: DecodeRowOptions = {},
): DecodedRow {
  const { columns } = relation;
  if (tuple.length !== columns.length) {
    throw new Error(
      `pgoutput: a row of ${relation.schema}.${relation.name} has ${tuple.length} columns, its Relation message ${columns.length}`,
    );
  }
  const row: DecodedRow = { values: {}, vectors: {}, unchanged: [] };
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!;
    const cell = tuple[i]!;
    try {
      if (cell.kind === 'unchanged') row.unchanged.push(column.name);
      else if (isVectorColumn(column, options)) row.vectors[column.name] = decodeVector(column, cell);
      else row.values[column.name] = decodeValue(column, cell);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      const table = `${relation.schema}.${relation.name}`;
      if (err instanceof UnsupportedTypeError)
        throw new UnsupportedTypeError(err.column, err.typeName, { table });
      throw new DecodeError(err.column, err.typeName, err.problem, { cause: err.cause, table });
    }
  }
  return row;
}
