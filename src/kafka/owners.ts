// Refuses topics another pipeline recorded as its own (src/event/identity.ts): called by the
// start-up preflight (src/plan/preflight.ts), before the source writes or the sink reads. Owners are read from two places the source writes on every start:
//   - `<prefix>._tables`: each table descriptor carries the identity of the pipeline that
//     published it, so a change topic claimed by another database or pipeline name is found;
//   - `<prefix>._state.<pipeline>`: key "owner", so the same pipeline name on another database
//     (which would share snapshot bookkeeping even without a common table) is found too.
// It also refuses a table whose change topic was renamed by the reversible escaping of names
// (src/event/names.ts) while its events are still in the old topic: the sink would skip them.
// A topic without a recorded owner (created before owners were recorded) is taken over, and so
// is a change topic that no longer exists (deleted by `vecrelay teardown`: its descriptor stays).
// Two pipelines starting at the same instant may both find no owner: the check is for the
// misconfiguration, not a lock.
import type { Admin, Kafka } from 'kafkajs';
import { describeIdentity, sameIdentity, type PipelineIdentity } from '../event/identity.js';
import { changeTopic, legacyChangeTopic } from '../event/names.js';
import { ConfigError } from '../shared/errors.js';
import { readCompacted } from './compacted.js';
import { readDescriptors } from './descriptors.js';

/** The state topic's key holding its owner. */
export const OWNER_KEY = 'owner';

export async function checkOwners(
  kafka: Kafka,
  admin: Admin,
  options: {
    topicPrefix: string;
    me: PipelineIdentity;
    tables: Array<{ schema: string; table: string }>;
    stateTopic: string;
  },
): Promise<void> {
  const { topicPrefix, me } = options;
  const [existing, descriptors, stateOwner] = await Promise.all([
    admin.listTopics().then((topics) => new Set(topics)),
    readDescriptors(kafka, admin, topicPrefix),
    readStateOwner(kafka, admin, options.stateTopic),
  ]);
  const refuse = (topic: string, owner: PipelineIdentity) =>
    new ConfigError(
      `kafka.topicPrefix "${topicPrefix}": topic ${topic} belongs to ${describeIdentity(owner)}, ` +
        `and this is ${describeIdentity(me)}; two pipelines sharing a prefix would mix their events. ` +
        `Give this pipeline its own kafka.topicPrefix (or, if it replaces that pipeline, delete the ` +
        `old pipeline's topics first: vecrelay teardown with its config)`,
    );
  for (const { schema, table } of options.tables) {
    const topic = changeTopic(topicPrefix, schema, table);
    const owner = existing.has(topic) ? descriptors.get(topic)?.owner : undefined;
    if (owner && !sameIdentity(owner, me)) throw refuse(topic, owner);
    const legacy = legacyChangeTopic(topicPrefix, schema, table);
    const old = descriptors.get(legacy);
    if (
      legacy !== topic &&
      existing.has(legacy) &&
      !existing.has(topic) &&
      old?.schema === schema &&
      old.table === table
    )
      throw new ConfigError(
        `table ${schema}.${table}: its change topic is now ${topic} (table names are escaped reversibly ` +
          `since this version, so that no two tables share a topic), but its events so far are in ` +
          `${legacy}, named the old way. Let the sink read ${legacy} to its end with the previous ` +
          `vecrelay, stop the pipeline, delete ${legacy}, and start again; to make ${topic} a complete ` +
          `copy of the table, run vecrelay teardown --topics first (a new snapshot fills it)`,
      );
  }
  if (stateOwner && !sameIdentity(stateOwner, me)) throw refuse(options.stateTopic, stateOwner);
}

async function readStateOwner(
  kafka: Kafka,
  admin: Admin,
  topic: string,
): Promise<PipelineIdentity | undefined> {
  let owner: PipelineIdentity | undefined;
  await readCompacted(kafka, admin, topic, (message) => {
    if (message.key?.toString() === OWNER_KEY && message.value)
      owner = JSON.parse(message.value.toString()) as PipelineIdentity;
  });
  return owner;
}
