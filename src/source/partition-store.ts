// The partitions the source last saw of each captured partitioned table, kept in the pipeline's
// state topic (key `partitions:<schema>.<table>`, src/event/snapshot-state.ts): what the
// partition watch (postgres/partition-watch.ts) compares its first look with after a restart.
import { partitionsStateKey, type PartitionsState } from '../event/snapshot-state.js';
import type { ChangeLogClient } from './change-log.js';
import type { PartitionSets, PartitionStore } from './postgres/partition-watch.js';

/** The store over the state records read at start (`records`), writing through `changeLog`. */
export function partitionStore(records: Map<string, unknown>, changeLog: ChangeLogClient): PartitionStore {
  const recorded: PartitionSets = new Map();
  for (const [key, value] of records) {
    const r = value as Partial<PartitionsState> | undefined;
    if (key === partitionsStateKey(r?.table ?? '') && Array.isArray(r?.partitions))
      recorded.set(r.table!, new Set(r.partitions));
  }
  return {
    recorded,
    write: (table, partitions) =>
      changeLog.writeState(partitionsStateKey(table), {
        table,
        partitions: [...partitions].sort(),
        updatedAt: new Date().toISOString(),
      } satisfies PartitionsState),
  };
}
