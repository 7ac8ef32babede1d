// Turns decoded pgoutput row messages into change events (the contract of src/event/).
//
// Which columns are vectors and which payload is decided per Relation message, not once at start:
// ALTER TABLE sends a new Relation and the next rows follow it without a restart. Columns of
// type vector/halfvec/sparsevec are vectors unless the config lists the vectors; every other
// column is payload unless the config lists the payload (a vector-typed column only if it does).
import type { TableConfig } from '../config/schema.js';
import type { ChangeEvent, ColumnValue, Op, SourceInfo, VectorValue } from '../event/change-event.js';
import type { Cell, ResolvedColumn, ResolvedRelation, Tuple, ValueCell } from './pgoutput/index.js';
import { VecrelayError } from '../shared/errors.js';

export interface CellDecoders {
  value(column: ResolvedColumn, cell: ValueCell): ColumnValue;
  vector(column: ResolvedColumn, cell: ValueCell): VectorValue | null;
}

export interface TxInfo {
  lsn: bigint;
  xid: number;
  commitTimeMicros: bigint;
  snapshot: boolean;
  /** The position the transaction's next event gets (SourceInfo.seq); starts at 0. */
  seq: number;
}

const AUTO_VECTOR_TYPES = new Set(['vector', 'halfvec', 'sparsevec']);

interface ColumnPlan {
  column: ResolvedColumn;
  index: number;
  role: 'vector' | 'payload' | 'skip';
}

/** How one relation's columns map to an event; rebuilt when a new Relation message arrives. */
export class RelationPlan {
  readonly columns: ColumnPlan[];
  readonly keyIndexes: number[];
  readonly keyNames: string[];

  constructor(
    readonly relation: ResolvedRelation,
    private readonly table: TableConfig,
  ) {
    const vectors = table.vectors ? new Set(table.vectors) : null;
    const payload = table.payload ? new Set(table.payload) : null;
    this.columns = relation.columns.map((column, index) => {
      const vectorType = AUTO_VECTOR_TYPES.has(column.typeName);
      const isVector = vectors ? vectors.has(column.name) : vectorType;
      // A pgvector column left out of a configured tables[].vectors (say one added while
      // streaming) is not payload either, unless tables[].payload names it: a vector is no payload
      // value (decodeValue refuses it, which dead-lettered every row).
      const inPayload = payload ? payload.has(column.name) : !vectorType;
      const role = isVector ? 'vector' : inPayload ? 'payload' : 'skip';
      return { column, index, role };
    });
    this.keyNames = table.key ?? relation.keyColumns;
    this.keyIndexes = this.keyNames.map((name) => {
      const i = relation.columns.findIndex((c) => c.name === name);
      if (i < 0)
        throw new VecrelayError(
          `${relation.schema}.${relation.name}: key column ${name} is not in the replicated row (was it dropped or renamed?)`,
        );
      return i;
    });
  }
}

export class ChangeBuilder {
  constructor(private readonly decoders: CellDecoders) {}

  private source(plan: RelationPlan, tx: TxInfo): SourceInfo {
    // Spelled out: a spread copy of `tx` cost ~3% of the source's CPU (bench/source.ts profile).
    return {
      lsn: tx.lsn,
      xid: tx.xid,
      commitTimeMicros: tx.commitTimeMicros,
      snapshot: tx.snapshot,
      schema: plan.relation.schema,
      table: plan.relation.name,
      seq: tx.seq++,
    };
  }

  /** The key of a tuple; a key cell that is null or unchanged is a protocol or config error. */
  key(plan: RelationPlan, tuple: Tuple): Record<string, ColumnValue> {
    const key: Record<string, ColumnValue> = {};
    for (let k = 0; k < plan.keyIndexes.length; k++) {
      const i = plan.keyIndexes[k]!;
      const cell = tuple[i]!;
      const column = plan.relation.columns[i]!;
      if (cell.kind === 'null' || cell.kind === 'unchanged')
        throw new VecrelayError(
          `${plan.relation.schema}.${plan.relation.name}: key column ${column.name} arrived ${cell.kind}: ` +
            `the key must be the primary key, or the table needs REPLICA IDENTITY FULL`,
        );
      key[column.name] = this.decoders.value(column, cell);
    }
    return key;
  }

  /** insert (c), snapshot row (r) or update (u): every sent column, and the list of unsent ones. */
  row(op: Op, plan: RelationPlan, tx: TxInfo, tuple: Tuple, old?: Tuple): ChangeEvent {
    const values: Record<string, ColumnValue> = {};
    const vectors: Record<string, VectorValue | null> = {};
    const unchanged: string[] = [];
    for (const { column, index, role } of plan.columns) {
      if (role === 'skip') continue;
      let cell: Cell = tuple[index]!;
      // Under REPLICA IDENTITY FULL the old row carries the value the new one left unsent.
      if (cell.kind === 'unchanged' && old && old[index]?.kind !== 'unchanged') cell = old[index]!;
      if (cell.kind === 'unchanged') {
        unchanged.push(column.name);
        continue;
      }
      if (role === 'vector') vectors[column.name] = this.decoders.vector(column, cell);
      else values[column.name] = this.decoders.value(column, cell);
    }
    return { op, source: this.source(plan, tx), key: this.key(plan, tuple), values, vectors, unchanged };
  }

  delete(plan: RelationPlan, tx: TxInfo, oldTuple: Tuple): ChangeEvent {
    return {
      op: 'd',
      source: this.source(plan, tx),
      key: this.key(plan, oldTuple),
      values: null,
      vectors: {},
      unchanged: [],
    };
  }

  truncate(plan: RelationPlan, tx: TxInfo): ChangeEvent {
    return { op: 't', source: this.source(plan, tx), key: {}, values: null, vectors: {}, unchanged: [] };
  }
}
