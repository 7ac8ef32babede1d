// The pipeline's identity as recorded with its topics (src/event/identity.ts). pg_control_system()
// needs no privilege.
import type pg from 'pg';
import type { PipelineIdentity } from '../../event/identity.js';

export async function readIdentity(client: pg.Client, pipeline: string): Promise<PipelineIdentity> {
  const { rows } = await client.query<{ system_id: string; database: string }>(
    `SELECT system_identifier::text AS system_id, current_database() AS database FROM pg_control_system()`,
  );
  return { systemId: rows[0]!.system_id, database: rows[0]!.database, pipeline };
}
