// The table descriptors the source publishes (src/event/table-descriptor.ts; in Kafka the
// `<topicPrefix>._tables` topic, which adds each table's topic): at start, when a table's first snapshot starts and ends (the sink bulk-loads in between), and
// when a vector column changes while streaming — so a sink that creates a collection later (a
// rebuild into a new one) creates it right.
import type { PipelineIdentity } from '../event/identity.js';
import type { TableDescriptor } from '../event/table-descriptor.js';
import type { TableDescription } from './change-log.js';
import type { RelationPlan } from './changes.js';
import type { TableInfo } from './postgres/catalog.js';

/** What each table looks like, for the sinks (src/event/table-descriptor.ts). */
export function describeTables(
  tables: TableInfo[],
  owner: PipelineIdentity,
  snapshot: (table: string) => TableDescriptor['snapshot'],
): TableDescription[] {
  return tables.map((t) => {
    const status = snapshot(`${t.schema}.${t.table}`);
    const types = new Map(t.columns.map((c) => [c.name, c.udtName]));
    return {
      schema: t.schema,
      table: t.table,
      key: t.key.map((name) => ({ name, type: types.get(name)! })),
      vectors: t.vectors,
      payload: t.payload,
      owner,
      ...(status ? { snapshot: status } : {}),
    };
  });
}

/** A table's vector columns as the catalog has them: "name:dimension", sorted. */
export function catalogVectors(t: TableInfo): string {
  return t.vectors
    .map((v) => `${v.name}:${v.dimension ?? -1}`)
    .sort()
    .join(',');
}

/** The same, as a Relation message has them (its typmod is the dimension). */
export function relationVectors(plan: RelationPlan): string {
  return plan.columns
    .filter((c) => c.role === 'vector')
    .map((c) => `${c.column.name}:${c.column.typeMod > 0 ? c.column.typeMod : -1}`)
    .sort()
    .join(',');
}
