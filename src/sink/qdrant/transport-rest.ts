// The REST wire of the collection writer (transport.ts): points' JSON written by hand into the
// request's Arena (points.ts: ids keep every digit, float32 vectors with 9 significant digits),
// requests sent as their pieces through QdrantHttp (http.ts) with wait=true.
import type { PointChange } from '../plan.js';
import type { Arena, Json } from './arena.js';
import { anyOf, notNewerThan, pointGuard } from './fence.js';
import type { QdrantHttp } from './http.js';
import { KEY_FIELD, pointIdJson } from './point-id.js';
import {
  LSN_FIELD,
  SEQ_FIELD,
  payloadJson,
  vectorJson,
  vectorsJsonBound,
  writeVectorsJson,
} from './points.js';
import {
  positionOf,
  type OpKind,
  type Pending,
  type PointsTransport,
  type Unit,
  type WriteShape,
} from './transport.js';

const ROUTES: Record<OpKind, [method: string, path: string]> = {
  delete: ['POST', '/points/delete'],
  tombstone: ['POST', '/points/delete'],
  upsert: ['PUT', '/points'],
  clearing: ['POST', '/points/batch'],
  partial: ['POST', '/points/batch'],
};

/** A unit's JSON and its point's guard (fence.ts), written into the request's filter. */
interface RestUnit {
  json: Json;
  guard: string;
}

const enc = (u: Unit) => u.enc as RestUnit;
const enclose = (open: string, units: Unit[], close: string): Json[] => {
  const parts: Json[] = [open];
  for (let i = 0; i < units.length; i++) {
    if (i) parts.push(',');
    parts.push(enc(units[i]!).json);
  }
  parts.push(close);
  return parts;
};
const guards = (units: Unit[]) => anyOf(units.map((u) => enc(u).guard));

export class RestPoints implements PointsTransport {
  constructor(
    private readonly http: QdrantHttp,
    private readonly shape: WriteShape,
  ) {}

  encode(kind: OpKind, p: Pending, arena: Arena): { enc: RestUnit; bytes: number } {
    const idJson = pointIdJson(p.id);
    const { lsn, event } = p.change;
    const guard = this.shape.conditional ? pointGuard(idJson, lsn, event.source.seq) : '';
    let json: Json;
    switch (kind) {
      case 'delete':
      case 'tombstone':
        json = idJson;
        break;
      case 'upsert':
        json = this.pointJson(arena, idJson, p);
        break;
      case 'clearing':
        json = this.upsertClearing(arena, idJson, p);
        break;
      case 'partial':
        json = this.partialOps(idJson, p);
        break;
    }
    return { enc: { json, guard }, bytes: json.length + guard.length + 1 };
  }

  async write(kind: OpKind, units: Unit[], signal: AbortSignal): Promise<void> {
    const conditional = this.shape.conditional;
    let body: Json[];
    switch (kind) {
      case 'delete':
        body = conditional
          ? [`{"filter":${guards(units)}}`]
          : [`{"points":[${units.map((u) => enc(u).json as string).join(',')}]}`];
        break;
      case 'tombstone':
        // A tombstone has no position to guard by: by id (plan.ts, tombstoneChange, says why).
        body = [`{"points":[${units.map((u) => enc(u).json as string).join(',')}]}`];
        break;
      case 'upsert':
        body = enclose('{"points":[', units, conditional ? `],"update_filter":${guards(units)}}` : ']}');
        break;
      case 'clearing':
      case 'partial':
        body = enclose('{"operations":[', units, ']}');
        break;
    }
    const [method, path] = ROUTES[kind];
    await this.http.write(method, this.shape.collection, path, body, signal);
  }

  async truncate(lsn: bigint, seq: number, signal: AbortSignal): Promise<void> {
    // Every point older than the truncate goes; points written after it (any partition) stay.
    // Older: an earlier transaction, or earlier in the truncate's own transaction.
    const l = Number(lsn);
    const body =
      `{"filter":{"should":[{"key":"${LSN_FIELD}","range":{"lt":${l}}},` +
      `{"must":[{"key":"${LSN_FIELD}","match":{"value":${l}}},{"key":"${SEQ_FIELD}","range":{"lt":${seq}}}]}]}}`;
    await this.http.write('POST', this.shape.collection, '/points/delete', body, signal);
  }

  private extra({ change, derivedFrom }: Pending): Record<string, string> {
    const { lsn, seq } = positionOf(change);
    const extra: Record<string, string> = { [LSN_FIELD]: String(lsn), [SEQ_FIELD]: String(seq) };
    if (derivedFrom !== undefined) extra[KEY_FIELD] = JSON.stringify(derivedFrom);
    return extra;
  }

  /** A point's JSON, between `before` and `after` (written with it, as one piece). */
  private pointJson(arena: Arena, idJson: string, p: Pending, before = '', after = ''): Json {
    const { layout } = this.shape;
    const head = `${before}{"id":${idJson},"vector":`;
    const tail = `,"payload":${payloadJson(p.change.values, this.extra(p))}}${after}`;
    const bound = 3 * (head.length + tail.length) + vectorsJsonBound(layout, p.change.vectors);
    return arena.write(bound, (b, at) => {
      at += b.write(head, at, 'utf8');
      at = writeVectorsJson(b, at, layout, p.change.vectors);
      return at + b.write(tail, at, 'utf8');
    });
  }

  /**
   * A whole row with a NULL vector (writer.ts says why): the upsert, and a delete_vectors right
   * after it in the same request. Conditional: the upsert by its guard, the delete by the same
   * guard as a filter; the upsert stored that position, so the delete matches the point it
   * wrote, and nothing newer.
   */
  private upsertClearing(arena: Arena, idJson: string, p: Pending): Json {
    const { conditional } = this.shape;
    const { lsn } = p.change;
    const { seq } = p.change.event.source;
    const filter = conditional ? `,"update_filter":${notNewerThan(lsn, seq)}` : '';
    const select = conditional ? `"filter":${pointGuard(idJson, lsn, seq)}` : `"points":[${idJson}]`;
    const names = this.shape.cleared(p.change).map((n) => JSON.stringify(n));
    return this.pointJson(
      arena,
      idJson,
      p,
      '{"upsert":{"points":[',
      `]${filter}}},{"delete_vectors":{${select},"vector":[${names.join(',')}]}}`,
    );
  }

  /**
   * set_payload for the sent columns, update_vectors / delete_vectors for the sent vectors.
   * Conditional: each by its guard (fence.ts); set_payload first, so the later operations see
   * the position it wrote (equal: still not newer). A partial of a missing point then changes
   * nothing, unless it sets a vector (update_vectors answers 404: dead-lettered).
   */
  private partialOps(idJson: string, p: Pending): string {
    const { conditional, layout } = this.shape;
    const change: PointChange = p.change;
    const guard = notNewerThan(change.lsn, change.event.source.seq);
    const select = conditional
      ? `"filter":${pointGuard(idJson, change.lsn, change.event.source.seq)}`
      : `"points":[${idJson}]`;
    const ops = [`{"set_payload":{"payload":${payloadJson(change.values, this.extra(p))},${select}}}`];
    const set: string[] = [];
    const cleared: string[] = [];
    for (const name of [...layout.dense, ...layout.sparse]) {
      if (!Object.hasOwn(change.vectors, name)) continue; // unchanged
      const v = change.vectors[name];
      const field = layout.unnamed ? '' : name;
      if (v) set.push(layout.unnamed ? vectorJson(v) : `${JSON.stringify(field)}:${vectorJson(v)}`);
      else cleared.push(JSON.stringify(field));
    }
    if (set.length)
      ops.push(
        `{"update_vectors":{"points":[{"id":${idJson},"vector":${layout.unnamed ? set[0] : `{${set.join(',')}}`}}]` +
          `${conditional ? `,"update_filter":${guard}` : ''}}}`,
      );
    if (cleared.length) ops.push(`{"delete_vectors":{${select},"vector":[${cleared.join(',')}]}}`);
    return ops.join(',');
  }
}
