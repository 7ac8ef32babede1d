// The clients the operator commands need: a Postgres connection and a Kafka admin.
import pg from 'pg';
import type { Admin } from 'kafkajs';
import type { LoadedConfig } from '../config/load.js';
import { createKafka } from '../kafka/client.js';
import type { Logger } from '../shared/log.js';
import { pgClientConfig } from '../source/postgres/connect.js';

export interface OpsClients {
  sql: pg.Client;
  admin: Admin;
  close(): Promise<void>;
}

export async function openOps(config: LoadedConfig, log: Logger): Promise<OpsClients> {
  const sql = new pg.Client(pgClientConfig(config));
  await sql.connect();
  const admin = createKafka(
    { brokers: config.kafka.brokers, clientId: `${config.kafka.clientId}-ops` },
    log,
  ).admin();
  try {
    await admin.connect();
  } catch (err) {
    await sql.end().catch(() => {});
    throw err;
  }
  return {
    sql,
    admin,
    async close() {
      await admin.disconnect().catch(() => {});
      await sql.end().catch(() => {});
    },
  };
}
