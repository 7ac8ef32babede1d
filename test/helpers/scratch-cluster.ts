// A throwaway PostgreSQL 15 cluster for tests that need server settings the stack's cluster must
// not have (wal_level = replica, max_replication_slots = 1, a tiny max_slot_wal_keep_size...).
// initdb'd in a temp dir on a free port, trust auth, no fsync; `stop()` kills it and removes it.
// As root, initdb and pg_ctl run as the `postgres` OS user (like scripts/stack/lib.sh `as_pg`).
import { execFile } from 'node:child_process';
import {
  appendFileSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.js';

const run = promisify(execFile);
const PG_BIN = '/usr/lib/postgresql/15/bin';
const isRoot = process.getuid?.() === 0;

export interface ScratchCluster {
  host: string;
  port: number;
  /** The superuser (trust auth: any password works). */
  user: string;
  database: string;
  /** The temp dir holding data/, run/ and postgres.log. */
  dir: string;
  /** A connected client as the superuser; the caller ends it. */
  connect(): Promise<pg.Client>;
  /** The server log so far, for failure messages. */
  log(): string;
  /**
   * pg_ctl restart -m `mode` (fast: a clean shutdown that terminates every backend with 57P01;
   * immediate: no shutdown checkpoint, crash recovery at start). Resolves once it accepts
   * connections again; every client's connection is gone.
   */
  restart(mode: 'fast' | 'immediate'): Promise<void>;
  /** pg_ctl -m immediate stop, then removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Runs a PostgreSQL binary, as the postgres OS user when we are root. */
async function asPg(bin: string, args: string[]): Promise<void> {
  const file = path.join(PG_BIN, bin);
  if (isRoot) await run('runuser', ['-u', 'postgres', '--', file, ...args]);
  else await run(file, args);
}

async function ownerOf(user: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', user]), run('id', ['-g', user])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * Starts a new cluster with `settings` appended to postgresql.conf (later lines win, so they
 * override the defaults set here). Values are written as given: quote strings yourself.
 */
export async function startScratchCluster(
  settings: Record<string, string | number> = {},
): Promise<ScratchCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vecrelay-pg-'));
  const data = path.join(dir, 'data');
  const runDir = path.join(dir, 'run');
  const logFile = path.join(dir, 'postgres.log');
  mkdirSync(runDir);
  if (isRoot) {
    const { uid, gid } = await ownerOf('postgres');
    for (const d of [dir, runDir]) chownSync(d, uid, gid);
  }
  let started = false;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (started) await asPg('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  const log = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  try {
    const port = await freePort();
    await asPg('initdb', [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--locale=C.UTF-8',
      '--no-sync',
      '--no-instructions',
    ]);
    const conf = {
      listen_addresses: "'127.0.0.1'",
      port,
      unix_socket_directories: `'${runDir}'`,
      fsync: 'off',
      full_page_writes: 'off',
      synchronous_commit: 'off',
      shared_buffers: '32MB',
      max_connections: 30,
      log_min_messages: 'warning',
      ...settings,
    };
    appendFileSync(
      path.join(data, 'postgresql.conf'),
      `\n# --- vecrelay scratch cluster ---\n${Object.entries(conf)
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n')}\n`,
    );
    started = true;
    await asPg('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', 'start']).catch((err: Error) => {
      throw new Error(`scratch cluster did not start: ${err.message}\n${log()}`, { cause: err });
    });
    const cluster: ScratchCluster = {
      host: '127.0.0.1',
      port,
      user: 'postgres',
      database: 'postgres',
      dir,
      async connect() {
        const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
        await client.connect();
        return client;
      },
      log,
      async restart(mode) {
        await asPg('pg_ctl', ['-D', data, '-l', logFile, '-m', mode, '-w', '-t', '60', 'restart']);
      },
      stop,
    };
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * A scratch cluster with pgvector and a connected superuser client, both undone by `cleanup`
 * (the client first): what most tests on a scratch cluster start with.
 */
export async function scratchClusterWithVector(
  settings: Record<string, string | number>,
  { cleanup }: { cleanup(fn: () => Promise<unknown>): void },
): Promise<{ cluster: ScratchCluster; client: pg.Client }> {
  const cluster = await startScratchCluster(settings);
  cleanup(() => cluster.stop());
  const client = await cluster.connect();
  cleanup(() => client.end());
  await client.query('CREATE EXTENSION IF NOT EXISTS vector');
  return { cluster, client };
}

/**
 * Makes `role` log in to the cluster with its password over TCP (the cluster trusts every local
 * connection otherwise), and returns the config's postgres section for it, password aside.
 */
export async function requirePassword(
  cluster: ScratchCluster,
  client: pg.Client,
  role: string,
): Promise<{ host: string; port: number; database: string; user: string }> {
  const hba = path.join(cluster.dir, 'data', 'pg_hba.conf');
  writeFileSync(hba, `host all ${role} 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
  await client.query('SELECT pg_reload_conf()');
  return { host: cluster.host, port: cluster.port, database: cluster.database, user: role };
}
