// Turns what plan read into report lines. The blocker conditions are the source's and the sink's
// own checks (src/source/postgres/preflight.ts, slot.ts, src/sink/collections.ts), called here
// so `plan` and a real start can never disagree; plan adds the OK lines and the warnings.
import type { SlotState, ServerState } from '../source/postgres/preflight.js';
import {
  freeSlotProblem,
  replicationRoleProblem,
  slotBusyProblem,
  slotProblem,
  versionProblem,
  walLevelProblem,
  walSenderProblem,
} from '../source/postgres/preflight.js';
import type { Problem } from '../shared/problems.js';
import type { Check, Level, TableReport } from './types.js';

export function fromProblem(level: Level, p: Problem): Check {
  return { level, object: p.object, message: p.message, fix: p.fix };
}

export const ok = (object: string, message: string): Check => ({ level: 'ok', object, message, fix: '' });

/** The blocker when there is one, else an OK line. */
function either(problem: Problem | undefined, object: string, message: string): Check {
  return problem ? fromProblem('blocker', problem) : ok(object, message);
}

export function formatMb(mb: number): string {
  if (mb >= 1024 && mb % 1024 === 0) return `${mb / 1024} GB`;
  return `${mb} MB`;
}

/** A cap to suggest for max_slot_wal_keep_size when it is unlimited. */
export const SUGGESTED_WAL_KEEP = '50GB';

export function serverChecks(
  s: ServerState,
  pgvector: { installed: string | null; available: string | null },
  database: string,
): Check[] {
  const checks: Check[] = [
    either(versionProblem(s), 'server_version', `PostgreSQL ${s.version}`),
    either(walLevelProblem(s), 'wal_level', 'logical'),
  ];
  if (pgvector.installed)
    checks.push(ok('pgvector', `pgvector ${pgvector.installed} installed in ${database}`));
  else
    checks.push({
      level: 'blocker',
      object: 'pgvector',
      message: `pgvector is not installed in database ${database}`,
      fix: pgvector.available
        ? `CREATE EXTENSION vector (version ${pgvector.available} is available on the server)`
        : `install pgvector on the server (e.g. the postgresql-${Math.floor(s.versionNum / 10000)}-pgvector package), then CREATE EXTENSION vector`,
    });
  checks.push(
    either(
      replicationRoleProblem(s),
      `role ${s.role.name}`,
      s.role.superuser ? `role ${s.role.name} is a superuser` : `role ${s.role.name} has REPLICATION`,
    ),
  );
  if (s.maxSlotWalKeepSizeMb < 0)
    checks.push({
      level: 'warn',
      object: 'max_slot_wal_keep_size',
      message:
        'max_slot_wal_keep_size = -1 (unlimited): a stopped or stuck pipeline makes PostgreSQL keep WAL until the disk is full',
      fix:
        `cap it below the free space of the WAL disk, e.g. ALTER SYSTEM SET max_slot_wal_keep_size = '${SUGGESTED_WAL_KEEP}'; ` +
        'SELECT pg_reload_conf() (a slot past the cap is lost and needs a new snapshot)',
    });
  else
    checks.push(
      ok(
        'max_slot_wal_keep_size',
        `${formatMb(s.maxSlotWalKeepSizeMb)}: a slot further behind loses its WAL and needs a new snapshot`,
      ),
    );
  return checks;
}

/** Free slots and WAL senders, and the pipeline's own slot when it exists. */
export function slotChecks(s: ServerState, name: string, database: string, slot: SlotState): Check[] {
  const checks = [
    either(
      freeSlotProblem(s, slot.exists),
      'max_replication_slots',
      `${s.usedReplicationSlots} of ${s.maxReplicationSlots} used` +
        (slot.exists ? ` (the pipeline's slot ${name} exists)` : '; the pipeline needs one'),
    ),
    either(
      walSenderProblem(s),
      'max_wal_senders',
      `${s.usedWalSenders} of ${s.maxWalSenders} in use; the pipeline needs one`,
    ),
  ];
  const problem = slotProblem(name, database, slot);
  const busy = slotBusyProblem(name, slot);
  if (problem) checks.push(fromProblem('blocker', problem));
  else if (busy) checks.push(fromProblem('warn', busy));
  else if (slot.exists)
    checks.push(
      ok(`slot ${name}`, `exists (wal_status ${slot.walStatus ?? 'unknown'}): the pipeline resumes from it`),
    );
  else checks.push(ok(`slot ${name}`, 'does not exist yet: the source creates it'));
  return checks;
}

/** Lines for one table, from its report and the shared key/privilege problems. */
export function tableChecks(
  t: TableReport,
  problems: { key: Problem | undefined; select: Problem | undefined; dimension: Array<Problem | undefined> },
): Check[] {
  const checks: Check[] = [];
  const identity = `replica identity ${t.replicaIdentity}`;
  if (problems.key) checks.push(fromProblem('blocker', problems.key));
  else if (t.replicaIdentity === 'full')
    checks.push({
      level: 'warn',
      object: t.table,
      message:
        `keyed by ${t.primaryKey.length ? 'primary key' : 'unique key'} (${t.key.join(', ')}), ${identity}: ` +
        'every update and delete writes the whole old row, vectors included, to WAL',
      fix: t.primaryKey.length
        ? `ALTER TABLE ${t.table} REPLICA IDENTITY DEFAULT`
        : `add a primary key (ALTER TABLE ${t.table} ADD PRIMARY KEY (${t.key.join(', ')})), then REPLICA IDENTITY DEFAULT`,
    });
  else
    checks.push(
      ok(
        t.table,
        `${t.primaryKey.join(',') === t.key.join(',') ? 'primary key' : 'key'} (${t.key.join(', ')}), ${identity}`,
      ),
    );
  checks.push(
    problems.select
      ? fromProblem('blocker', problems.select)
      : ok(t.table, 'SELECT granted: it can be snapshotted'),
  );
  if (t.vectors.length === 0)
    checks.push({
      level: 'warn',
      object: t.table,
      message: `table ${t.table} has no vector column: its points would carry payload only`,
      fix: 'name its vector columns in tables[].vectors, or leave the table out',
    });
  const large = (t.rowEstimate ?? 0) >= 1_000_000;
  t.vectors.forEach((v, i) => {
    const object = `${t.table}.${v.column}`;
    const dim = problems.dimension[i];
    if (dim) checks.push(fromProblem('blocker', dim));
    else if (v.dimension === null)
      checks.push({
        level: 'warn',
        object,
        message: `${v.type} has no dimension`,
        fix: `declare it as ${v.kind}(n) to check values against it`,
      });
    if (v.distanceFrom === 'index')
      checks.push(ok(object, `${v.type}: Qdrant distance ${v.distance}, from index ${v.index}`));
    else if (v.distanceFrom === 'config') {
      const index = t.indexes.find((x) => x.column === v.column && x.distance);
      if (index && index.distance !== v.distance)
        checks.push({
          level: 'info',
          object,
          message: `${v.type}: tables[].distance ${v.distance} overrides ${index.distance} of index ${index.name}`,
          fix: '',
        });
      else checks.push(ok(object, `${v.type}: Qdrant distance ${v.distance}, from tables[].distance`));
    } else {
      const unmapped = t.indexes.find((x) => x.column === v.column);
      checks.push({
        level: 'warn',
        object,
        message:
          (unmapped
            ? `${v.type}: index ${unmapped.name} (${unmapped.opclass}) implies no Qdrant distance`
            : `${v.type}: no pgvector index`) +
          ': Cosine by default' +
          (large
            ? ` (~${t.rowEstimate} rows: changing it later means a new collection and a new snapshot)`
            : ''),
        fix: 'set tables[].distance (Cosine, Euclid, Dot or Manhattan) to the metric the embeddings were made for',
      });
    }
    if (v.nulls)
      checks.push({
        level: 'warn',
        object,
        message: `${v.nullsExact ? '' : '~'}${v.nulls} rows have NULL ${v.column}: they become points without that vector`,
        fix: `fill them in before the snapshot (or accept points that vector search does not find)`,
      });
  });
  return checks;
}
