// Reads a table as of the slot's exported snapshot (DESIGN.md guarantee 4): REPEATABLE READ,
// SET TRANSACTION SNAPSHOT, then COPY (SELECT ...) TO STDOUT (FORMAT binary) streamed with
// backpressure (copy-out.ts) — never the whole table in memory. Cells are the types' send
// formats, the same bytes pgoutput sends in binary mode, so the stream's decoders read them too.
import type { BinaryCell, NullCell, TextCell } from '../pgoutput/index.js';
import { CopyOut } from './copy-out.js';
import { newClient, quoteIdent, quoteTable, type PgConfig } from './connect.js';

export type SnapshotRow = Array<BinaryCell | TextCell | NullCell>;

export interface SnapshotReadOptions {
  snapshotName: string;
  schema: string;
  table: string;
  columns: string[];
  /** Columns read as their text form (types whose binary format vecrelay does not decode). */
  textColumns?: ReadonlySet<string>;
}

/** Yields batches of rows (cells in `columns` order) of one table as the exported snapshot saw it. */
export async function* readTableSnapshot(
  pgConfig: PgConfig,
  opts: SnapshotReadOptions,
): AsyncGenerator<SnapshotRow[]> {
  const client = newClient(pgConfig);
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT '${opts.snapshotName.replaceAll("'", "''")}'`);
    const text = opts.textColumns ?? new Set<string>();
    const list = opts.columns.map((c) => (text.has(c) ? `${quoteIdent(c)}::text` : quoteIdent(c))).join(', ');
    const isText = opts.columns.map((c) => text.has(c));
    const copy = client.query(
      new CopyOut(
        `COPY (SELECT ${list} FROM ${quoteTable(opts.schema, opts.table)}) TO STDOUT (FORMAT binary)`,
      ),
    );
    for await (const rows of copy.batches()) {
      for (const row of rows as SnapshotRow[]) {
        for (let i = 0; i < row.length; i++) {
          const cell = row[i]!;
          // A text column's send format is its UTF-8 bytes.
          if (isText[i] && cell.kind === 'binary')
            row[i] = { kind: 'text', text: cell.bytes.toString('utf8') };
        }
      }
      yield rows as SnapshotRow[];
    }
    await client.query('COMMIT');
  } finally {
    await client.end().catch(() => {});
  }
}
