// The table descriptors the source publishes to `<topicPrefix>._tables` (src/event/table-descriptor.ts):
// at start, when a table's first snapshot starts and ends (the sink bulk-loads in between), and
// when a vector column changes while streaming — so a sink that creates a collection later (a
// rebuild into a new one) creates it right.
import type { Producer } from 'kafkajs';
import type { LoadedConfig } from '../config/load.js';
import type { PipelineIdentity } from '../event/identity.js';
import { tablesTopic } from '../event/names.js';
import type { TableDescriptor } from '../event/table-descriptor.js';
import type { RelationPlan } from './changes.js';
import type { TableInfo } from './postgres/catalog.js';
import type { RoutedTable } from './stream-session.js';

/** Tells sinks what each table looks like (src/event/table-descriptor.ts). */
export async function publishDescriptors(
  producer: Producer,
  config: LoadedConfig,
  tables: TableInfo[],
  routed: Map<string, RoutedTable>,
  owner: PipelineIdentity,
  snapshot: (table: string) => TableDescriptor['snapshot'],
) {
  const topic = tablesTopic(config.kafka.topicPrefix); // created by prepare()
  const messages = tables.map((t) => {
    const status = snapshot(`${t.schema}.${t.table}`);
    const types = new Map(t.columns.map((c) => [c.name, c.udtName]));
    const descriptor: TableDescriptor = {
      schema: t.schema,
      table: t.table,
      topic: routed.get(`${t.schema}.${t.table}`)!.route.topic,
      key: t.key.map((name) => ({ name, type: types.get(name)! })),
      vectors: t.vectors,
      payload: t.payload,
      owner,
      ...(status ? { snapshot: status } : {}),
    };
    return { key: `${t.schema}.${t.table}`, value: JSON.stringify(descriptor) };
  });
  await producer.send({ topic, acks: -1, messages });
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
