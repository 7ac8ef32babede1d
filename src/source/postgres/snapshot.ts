// Reads a table as of the slot's exported snapshot (DESIGN.md guarantee 4): REPEATABLE READ,
// SET TRANSACTION SNAPSHOT, then a cursor fetched in pages with binary results — never the whole
// table in memory. Rows come back as raw binary cells, decoded by the same decoders as the stream.
import pg from 'pg';
import type { BinaryCell, NullCell } from '../pgoutput/index.js';
import { quoteIdent, quoteTable, type PgConfig } from './connect.js';

export type SnapshotRow = Array<BinaryCell | NullCell>;

const NULL: NullCell = Object.freeze({ kind: 'null' });
// Binary result columns arrive as Buffers when the type parser is the identity.
const RAW_TYPES = { getTypeParser: () => (value: unknown) => value };

export interface SnapshotReadOptions {
  snapshotName: string;
  schema: string;
  table: string;
  columns: string[];
  fetchRows: number;
}

/** Yields pages of rows (cells in `columns` order) of one table as the exported snapshot saw it. */
export async function* readTableSnapshot(pgConfig: PgConfig, opts: SnapshotReadOptions): AsyncGenerator<SnapshotRow[]> {
  const client = new pg.Client(pgConfig);
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT '${opts.snapshotName.replaceAll("'", "''")}'`);
    const list = opts.columns.map(quoteIdent).join(', ');
    await client.query(`DECLARE vecrelay_snapshot NO SCROLL CURSOR FOR SELECT ${list} FROM ${quoteTable(opts.schema, opts.table)}`);
    for (;;) {
      // `binary` is a node-pg option its typings lack.
      const query: pg.QueryArrayConfig & { binary: boolean } = {
        text: `FETCH ${opts.fetchRows} FROM vecrelay_snapshot`,
        rowMode: 'array',
        binary: true,
        types: RAW_TYPES as unknown as pg.CustomTypesConfig,
      };
      const res = await client.query<unknown[]>(query);
      if (res.rows.length === 0) break;
      yield res.rows.map((row: unknown[]) => row.map((v): BinaryCell | NullCell => (v === null ? NULL : { kind: 'binary', bytes: v as Buffer })));
    }
    await client.query('COMMIT');
  } finally {
    await client.end().catch(() => {});
  }
}

/** Rows in the table now: the progress bar's total (an estimate is fine; this is exact and cheap enough once). */
export async function estimateRows(client: pg.Client, schema: string, table: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    `SELECT GREATEST(c.reltuples, 0)::bigint AS n FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
      WHERE s.nspname = $1 AND c.relname = $2`,
    [schema, table],
  );
  return Number(rows[0]?.n ?? 0);
}
