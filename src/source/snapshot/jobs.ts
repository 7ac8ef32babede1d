// What to snapshot at start, from the state topic's records (src/event/snapshot-state.ts): every
// table with no record of its own (the first start, a crash right after the slot was created, a
// table added to the config), every job left running (resumed after its last chunk), and every
// resync request recorded and not finished. With a new slot (none, or dropped by hand) every
// table is read again: the changes since the old one are gone.
import type { LoadedConfig } from '../../config/load.js';
import {
  LEGACY_SNAPSHOT_KEY,
  snapshotStateKey,
  type TableSnapshotState,
} from '../../event/snapshot-state.js';
import type { TableInfo } from '../postgres/catalog.js';
import type { SnapshotJob } from './snapshotter.js';

/** The one snapshot record of pipelines from before chunked snapshots. */
interface LegacySnapshotState {
  slot: string;
  status: 'pending' | 'done';
}

export function planSnapshots(
  config: LoadedConfig,
  tables: TableInfo[],
  records: Map<string, unknown>,
  slotExisted: boolean,
): { jobs: SnapshotJob[]; anyRecord: boolean } {
  const legacy = records.get(LEGACY_SNAPSHOT_KEY) as LegacySnapshotState | undefined;
  const own = (t: TableInfo) =>
    records.get(snapshotStateKey(t.schema, t.table)) as TableSnapshotState | undefined;
  const anyRecord = tables.some((t) => own(t) !== undefined) || legacy?.status === 'done';
  const jobs: SnapshotJob[] = [];
  // Resync requests recorded and not finished (`resync:<id>`): resumed, the slot having kept them.
  for (const [key, value] of records) {
    const r = value as TableSnapshotState;
    if (!slotExisted || !key.startsWith('resync:') || r.status !== 'running') continue;
    jobs.push({
      table: r.table,
      reason: 'resync',
      where: r.where,
      request: r.request,
      resume: r,
      ...(r.keys ? { keys: r.keys } : {}),
    });
  }
  for (const t of tables) {
    const table = `${t.schema}.${t.table}`;
    const record = own(t);
    if (slotExisted && record?.status === 'done') continue;
    if (slotExisted && record?.status === 'running') {
      jobs.push({
        table,
        reason: record.reason,
        where: record.where,
        request: record.request,
        resume: record,
      });
      continue;
    }
    if (slotExisted && !record && legacy?.status === 'done' && legacy.slot === config.postgres.slot) continue;
    if (config.snapshot.mode === 'never') continue;
    jobs.push({ table, reason: slotExisted && anyRecord ? 'added' : 'initial', where: null });
  }
  return { jobs, anyRecord };
}
