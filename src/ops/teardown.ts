// What `teardown` drops: the slot (a forgotten slot retains WAL forever), the publication, and
// on request the pipeline's topics. It says what it will drop before it drops anything.
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { splitTable, type LoadedConfig } from '../config/load.js';
import { changeTopic, deadLetterTopic, stateTopic } from '../event/names.js';
import { ConfigError } from '../shared/errors.js';
import { dropPublication, dropSlot } from '../source/postgres/slot.js';
import { readSlot } from '../source/postgres/preflight.js';
import { Unreachable, bounded } from './connect.js';

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
        stateTopic(config.kafka.topicPrefix, config.name),
        deadLetterTopic(config.kafka.topicPrefix, config.name),
      ]),
  );
  const topics = admin
    ? (await bounded('Kafka (kafka.brokers)', admin.listTopics())).filter((t) => ours.has(t)).sort()
    : [];
  return {
    slot: slot.exists ? config.postgres.slot : null,
    publication: pub.rows.length ? config.postgres.publication : null,
    topics,
  };
}

/**
 * Drops what the plan lists and returns what is gone, one phrase each. Topics are deleted in one
 * request and counted gone once the broker no longer lists them (deletion is asynchronous in
 * Kafka); each call is bounded, so a broker that stops answering is named, not waited on.
 */
export async function executeTeardown(
  sql: pg.Client,
  admin: Admin | null,
  plan: TeardownPlan,
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<string[]> {
  const gone: string[] = [];
  if (plan.slot) {
    await dropSlot(sql, plan.slot);
    gone.push(`replication slot ${plan.slot} dropped`);
  }
  if (plan.publication) {
    await dropPublication(sql, plan.publication);
    gone.push(`publication ${plan.publication} dropped`);
  }
  if (admin && plan.topics.length) {
    const where = `Kafka (kafka.brokers)`;
    // No kafkajs retries past the request's own timeout: a topic already gone is not an error.
    await bounded(where, admin.deleteTopics({ topics: plan.topics, timeout: 10_000 })).catch(
      (err: unknown) => {
        if (!/UNKNOWN_TOPIC_OR_PARTITION|does not host this topic/i.test(String(err))) throw err;
      },
    );
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const listed = new Set(await bounded(where, admin.listTopics()));
      const left = plan.topics.filter((t) => listed.has(t));
      if (left.length === 0) break;
      if (Date.now() > deadline)
        throw new Unreachable(
          `${where}: topics still listed ${timeoutMs / 1000} s after deletion: ${left.join(', ')}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    gone.push(`Kafka topics deleted: ${plan.topics.join(', ')}`);
  }
  return gone;
}
