// What `teardown` drops: the slot (a forgotten slot retains WAL forever), the publication, and
// on request the pipeline's topics. It says what it will drop before it drops anything.
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { splitTable, type LoadedConfig } from '../config/load.js';
import { changeTopic } from '../kafka/topics.js';
import { ConfigError } from '../shared/errors.js';
import { dropPublication, dropSlot } from '../source/postgres/slot.js';
import { readSlot } from '../source/postgres/preflight.js';

export interface TeardownPlan {
  slot: string | null;
  publication: string | null;
  topics: string[];
}

export async function planTeardown(
  sql: pg.Client,
  admin: Admin | null,
  config: LoadedConfig,
): Promise<TeardownPlan> {
  const slot = await readSlot(sql, config.postgres.slot);
  if (slot.active)
    throw new ConfigError(
      `replication slot ${config.postgres.slot} is in use (pid ${slot.activePid}): stop the vecrelay source first`,
    );
  const pub = await sql.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [
    config.postgres.publication,
  ]);
  // The change, state and dead-letter topics; `<prefix>._tables` may describe other pipelines too.
  const ours = new Set(
    config.tables
      .map((t) => {
        const { schema, table } = splitTable(t.table);
        return changeTopic(config.kafka.topicPrefix, schema, table);
      })
      .concat([
        `${config.kafka.topicPrefix}._state.${config.name}`,
        `${config.kafka.topicPrefix}._dlq.${config.name}`,
      ]),
  );
  const topics = admin ? (await admin.listTopics()).filter((t) => ours.has(t)).sort() : [];
  return {
    slot: slot.exists ? config.postgres.slot : null,
    publication: pub.rows.length ? config.postgres.publication : null,
    topics,
  };
}

export async function executeTeardown(
  sql: pg.Client,
  admin: Admin | null,
  plan: TeardownPlan,
): Promise<void> {
  if (plan.slot) await dropSlot(sql, plan.slot);
  if (plan.publication) await dropPublication(sql, plan.publication);
  if (admin && plan.topics.length) await admin.deleteTopics({ topics: plan.topics });
}
