// The Postgres side of `verify`: a table read in key order, chunk by chunk (keyset pagination:
// `WHERE key > last ORDER BY key LIMIT n`, so memory is one chunk whatever the table's size), and
// rows read by key. Each row becomes the event the source itself makes of it — the same COPY
// binary cells, decoders and column roles as the snapshot (snapshot.ts, changes.ts) — so what is
// compared with Qdrant is exactly what the pipeline would have written.
import type pg from 'pg';
import type { TableConfig } from '../../config/schema.js';
import type { ChangeEvent, ColumnValue } from '../../event/change-event.js';
import { cellDecoders } from '../../source/cell-decoders.js';
import { ChangeBuilder, RelationPlan, type TxInfo } from '../../source/changes.js';
import { decodesBinary } from '../../source/decode/index.js';
import type { BinaryCell, NullCell, TextCell } from '../../source/pgoutput/index.js';
import type { TableInfo } from '../../source/postgres/catalog.js';
import { quoteIdent, quoteTable } from '../../source/postgres/connect.js';
import { CopyOut } from '../../source/postgres/copy-out.js';
import { isRowFailure } from '../../source/row-failure.js';
import { relationFromCatalog } from '../../source/snapshot/catalog-relation.js';
import { messageOf } from '../../shared/errors.js';

export interface TableRow {
  key: Record<string, ColumnValue>;
  /** The event the source makes of the row; undefined when a cell does not decode (`error`). */
  event: ChangeEvent | undefined;
  error?: string;
  /** The key columns as Postgres prints them: the next chunk starts after the last one. */
  keyText: string[];
  /** The `extra` expressions asked for, as text (null for NULL). */
  extras: Array<string | null>;
}

/** A string literal that reads back as `text` whatever standard_conforming_strings says. */
export const literal = (text: string): string => `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;

/** A key value as Postgres text input for its column type (the inverse of the decoders). */
export function pgText(v: ColumnValue): string {
  if (v === null) throw new Error('a key value is never NULL');
  switch (typeof v) {
    case 'bigint':
    case 'number':
      return String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'string':
      return v;
  }
  if (v instanceof Uint8Array)
    return `\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  switch (v.kind) {
    case 'json':
      return v.json;
    case 'decimal':
      return v.text;
    case 'uuid':
      return v.uuid;
  }
}

const SNAPSHOT_TX: TxInfo = { lsn: 0n, xid: 0, commitTimeMicros: 0n, snapshot: true, seq: 0 };

export class TableReader {
  readonly plan: RelationPlan;
  readonly keyNames: string[];
  private readonly builder = new ChangeBuilder(cellDecoders);
  private readonly select: string;
  /** The key's cells only, the others NULL (a COPY cell carries no type): whether a row exists. */
  private readonly selectKey: string;
  private readonly keyTypes: string[];
  private readonly isText: boolean[];
  /** The table, quoted. */
  readonly from: string;

  constructor(
    private readonly client: pg.Client,
    readonly info: TableInfo,
    tableConfig: TableConfig,
  ) {
    this.plan = new RelationPlan(relationFromCatalog(info), tableConfig);
    this.keyNames = this.plan.keyNames;
    const byName = new Map(info.columns.map((c) => [c.name, c]));
    this.keyTypes = this.keyNames.map((k) => byName.get(k)!.typeName);
    // Types whose binary form vecrelay does not decode are read as text, as the snapshot does.
    this.isText = info.columns.map((c) => !decodesBinary(c.udtName));
    const cells = info.columns.map((c, i) =>
      this.isText[i] ? `${quoteIdent(c.name)}::text` : quoteIdent(c.name),
    );
    const keys = this.keyNames.map((k, i) => `${quoteIdent(k)}::text AS "_vecrelay_key${i}"`);
    this.select = [...cells, ...keys].join(', ');
    const isKey = new Set(this.keyNames);
    this.selectKey = [
      ...cells.map((cell, i) => (isKey.has(info.columns[i]!.name) ? cell : 'NULL')),
      ...keys,
    ].join(', ');
    this.from = quoteTable(info.schema, info.table);
  }

  /** `(k1, k2)` — or `k1` for a one-column key — for comparisons and ORDER BY. */
  get keyTuple(): string {
    const cols = this.keyNames.map(quoteIdent);
    return cols.length === 1 ? cols[0]! : `(${cols.join(', ')})`;
  }

  /** Qualified: a bare name in ORDER BY would mean the output column (a ::text one, say). */
  get orderBy(): string {
    return this.keyNames.map((k) => `${this.from}.${quoteIdent(k)}`).join(', ');
  }

  /** Key texts as a typed literal tuple matching keyTuple. */
  keyLiteral(texts: string[]): string {
    const parts = texts.map((t, i) => `${literal(t)}::${this.keyTypes[i]}`);
    return parts.length === 1 ? parts[0]! : `(${parts.join(', ')})`;
  }

  /** The rows after `after` (key texts; null: from the start), `limit` of them, in key order. */
  async chunk(after: string[] | null, limit: number): Promise<TableRow[]> {
    const where = after ? `WHERE ${this.keyTuple} > ${this.keyLiteral(after)}` : '';
    return this.rows(`${where} ORDER BY ${this.orderBy} LIMIT ${limit}`);
  }

  /** The rows of these keys that exist (in no particular order). */
  async byKeys(keys: Array<Record<string, ColumnValue>>): Promise<TableRow[]> {
    if (keys.length === 0) return [];
    const list = keys.map((k) => this.keyLiteral(this.keyNames.map((n) => pgText(k[n]!))));
    return this.rows(`WHERE ${this.keyTuple} IN (${list.join(', ')})`);
  }

  /**
   * The rows of these keys that exist, with their key only (the other columns read as NULL): a
   * presence check that does not read and decode every vector again.
   */
  async existing(keys: Array<Record<string, ColumnValue>>): Promise<TableRow[]> {
    if (keys.length === 0) return [];
    const list = keys.map((k) => this.keyLiteral(this.keyNames.map((n) => pgText(k[n]!))));
    return this.rows(`WHERE ${this.keyTuple} IN (${list.join(', ')})`, [], this.selectKey);
  }

  /**
   * `n` keys drawn at random, uniformly, among the rows where one of `columns` is not NULL (a
   * scan of the table without its out-of-line values: a NULL test does not fetch them).
   */
  async sampleKeys(columns: string[], n: number): Promise<Array<Record<string, ColumnValue>>> {
    if (n <= 0 || columns.length === 0) return [];
    const where = columns.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(' OR ');
    const rows = await this.rows(`WHERE ${where} ORDER BY random() LIMIT ${n}`, [], this.selectKey);
    return rows.map((r) => r.key);
  }

  /**
   * Rows chosen by `tail` (a WHERE / ORDER BY / LIMIT clause over the table), each with the text
   * of the `extra` expressions.
   */
  async rows(tail: string, extra: string[] = [], cells = this.select): Promise<TableRow[]> {
    const select = [cells, ...extra.map((e, i) => `(${e})::text AS "_vecrelay_extra${i}"`)].join(', ');
    const copy = this.client.query(
      new CopyOut(`COPY (SELECT ${select} FROM ${this.from} ${tail}) TO STDOUT (FORMAT binary)`),
    );
    const n = this.info.columns.length;
    const k = this.keyNames.length;
    const out: TableRow[] = [];
    for await (const batch of copy.batches()) {
      for (const raw of batch) {
        const text = (cell: BinaryCell | NullCell) =>
          cell.kind === 'null' ? null : cell.bytes.toString('utf8');
        const tuple: Array<BinaryCell | TextCell | NullCell> = raw.slice(0, n);
        for (let i = 0; i < n; i++) {
          const cell = tuple[i]!;
          // A text column's send format is its UTF-8 bytes.
          if (this.isText[i] && cell.kind === 'binary')
            tuple[i] = { kind: 'text', text: cell.bytes.toString('utf8') };
        }
        const keyText = raw.slice(n, n + k).map((c) => text(c) ?? '');
        const extras = raw.slice(n + k).map(text);
        let event: ChangeEvent | undefined;
        let error: string | undefined;
        let key: Record<string, ColumnValue>;
        try {
          event = this.builder.row('r', this.plan, { ...SNAPSHOT_TX }, tuple);
          key = event.key;
        } catch (err) {
          if (!isRowFailure(err)) throw err;
          error = messageOf(err);
          key = this.builder.key(this.plan, tuple);
        }
        out.push({ key, event, ...(error === undefined ? {} : { error }), keyText, extras });
      }
    }
    return out;
  }
}
