// Point ids (DESIGN.md "Mappings"):
//   one integer key column (int2/int4/int8) with a value ≥ 0 → that integer (kept as bigint and
//     written as bare JSON digits, so ids above 2^53 are exact);
//   one uuid key column → that uuid;
//   anything else (text, composite, negative) → UUIDv5(pipeline namespace, canonical key), and
//     the canonical key goes into the payload so the row can be found again.
import { v5 as uuidv5 } from 'uuid';
import { canonicalKey } from '../../event/key.js';
import type { ColumnValue } from '../../event/change-event.js';
import type { TableDescriptor } from '../../event/table-descriptor.js';

export type PointId = bigint | string;

/** Payload field holding the canonical key when the point id is derived from it. */
export const KEY_FIELD = '_vecrelay_key';

const INTEGER_TYPES = new Set(['int2', 'int4', 'int8']);
/** Fixed root, so every deployment derives the same ids for the same pipeline and key. */
const ROOT_NAMESPACE = 'a4d8c1e2-5b7f-4c3d-9e6a-0f1b2c3d4e5f';

export function pipelineNamespace(pipeline: string): string {
  return uuidv5(`vecrelay:${pipeline}`, ROOT_NAMESPACE);
}

export interface PointIdOf {
  id: PointId;
  /** Set when the id is derived (UUIDv5): the canonical key, for the payload. */
  derivedFrom?: string;
}

export function pointIdOf(
  descriptor: Pick<TableDescriptor, 'key'>,
  namespace: string,
  key: Record<string, ColumnValue>,
): PointIdOf {
  const columns = descriptor.key;
  if (columns.length === 1) {
    const [{ name, type }] = columns as [{ name: string; type: string }];
    const value = key[name];
    if (INTEGER_TYPES.has(type) && typeof value === 'bigint' && value >= 0n && value < 2n ** 64n)
      return { id: value };
    if (type === 'uuid' && value && typeof value === 'object' && 'kind' in value && value.kind === 'uuid')
      return { id: value.uuid };
  }
  const canonical = canonicalKey(
    columns.map((c) => c.name),
    key,
  );
  return { id: uuidv5(canonical, namespace), derivedFrom: canonical };
}

/** The id as JSON text: bigints as bare digits, uuids quoted. */
export function pointIdJson(id: PointId): string {
  return typeof id === 'bigint' ? id.toString() : JSON.stringify(id);
}
