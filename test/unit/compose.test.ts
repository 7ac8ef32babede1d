// docker-compose.yml and connectors/example.yaml must agree: the example config the compose stack
// runs names hosts, ports, mounts and environment variables that compose has to provide. Each test
// derives what it expects from one file and checks it against the other. No Docker engine needed;
// `docker-compose config -q` validates the file offline when the binary is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/stack.js';

// ---- the two files, typed as far as these tests read them ----

type Env = Record<string, string | number | null> | string[];
type PortSpec = string | number | { target: number; published?: number | string };
type VolumeSpec = string | { type?: string; source?: string; target: string; read_only?: boolean };

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Env;
  ports?: PortSpec[];
  expose?: (string | number)[];
  volumes?: VolumeSpec[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: string[] | Record<string, { condition?: string }>;
}

interface PipelineConfig {
  postgres: { host: string; port: number; database: string; user: string; passwordEnv: string };
  kafka: { brokers: string[] };
  qdrant: { url: string };
  metrics: { port: number; host?: string };
}

const composeFile = path.join(repoRoot, 'docker-compose.yml');
const configFile = path.join(repoRoot, 'connectors/example.yaml');
const compose = parse(readFileSync(composeFile, 'utf8')) as { services: Record<string, Service> };
const configRaw: unknown = parse(readFileSync(configFile, 'utf8'));
const config = configRaw as PipelineConfig;

function service(name: string): Service {
  const s = compose.services[name];
  assert.ok(s, `docker-compose.yml has no service '${name}'`);
  return s;
}

// ---- compose helpers ----

/** The service's environment as name → value (undefined: passed through from the shell). */
function envOf(s: Service): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  if (Array.isArray(s.environment)) {
    for (const entry of s.environment) {
      const eq = entry.indexOf('=');
      if (eq < 0) env.set(entry, undefined);
      else env.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
  } else {
    for (const [k, v] of Object.entries(s.environment ?? {})) env.set(k, v === null ? undefined : String(v));
  }
  return env;
}

function envValue(s: Service, name: string): string {
  const v = envOf(s).get(name);
  assert.ok(v !== undefined && v !== '', `environment variable ${name} is not set`);
  return v;
}

/** Container-side ports of `ports:` entries ("5432", "5432:5432", "127.0.0.1:5432:5432/tcp", long form). */
function publishedContainerPorts(s: Service): number[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p === 'object') return Number(p.target);
    const parts = String(p)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    return Number(parts[parts.length - 1]);
  });
}

/** Kafka listener lists ("NAME://host:port,..."): name → host and port. */
function kafkaListeners(value: string): Map<string, { host: string; port: number }> {
  const listeners = new Map<string, { host: string; port: number }>();
  for (const item of value.split(',')) {
    const m = /^([A-Za-z0-9_]+):\/\/(.*):(\d+)$/.exec(item.trim());
    assert.ok(m, `cannot parse Kafka listener '${item}'`);
    listeners.set(m[1]!, { host: m[2]!, port: Number(m[3]) });
  }
  return listeners;
}

/** The container ports compose makes reachable: published (`ports:`) or internal (`expose:`). */
function declaredPorts(s: Service): Set<number> {
  return new Set([...publishedContainerPorts(s), ...(s.expose ?? []).map(Number)]);
}

function commandArgs(s: Service): string[] {
  if (Array.isArray(s.command)) return s.command;
  return (s.command ?? '').split(/\s+/).filter(Boolean);
}

/** Postgres server settings given as `-c name=value` on the command line. */
function postgresSettings(s: Service): Map<string, string> {
  const args = commandArgs(s);
  const settings = new Map<string, string>();
  args.forEach((arg, i) => {
    const setting = arg === '-c' ? args[i + 1] : undefined;
    const eq = setting?.indexOf('=') ?? -1;
    if (setting && eq > 0) settings.set(setting.slice(0, eq), setting.slice(eq + 1));
  });
  return settings;
}

function dependsOn(s: Service): Map<string, string> {
  const deps = s.depends_on ?? [];
  if (Array.isArray(deps)) return new Map(deps.map((d) => [d, 'service_started']));
  return new Map(Object.entries(deps).map(([d, opts]) => [d, opts.condition ?? 'service_started']));
}

function hasHealthcheck(s: Service): boolean {
  return Boolean(s.healthcheck?.test) && !s.healthcheck?.disable;
}

/** Bind mounts as host path (resolved against the compose file's folder), container path, mode. */
function bindMounts(s: Service): { source: string; target: string; readOnly: boolean }[] {
  return (s.volumes ?? []).flatMap((v) => {
    const [source, target, mode] =
      typeof v === 'string'
        ? v.split(':')
        : [v.type === 'bind' ? v.source : undefined, v.target, v.read_only ? 'ro' : 'rw'];
    if (!source || !target || !/^[./~]/.test(source)) return []; // a named volume, not a bind mount
    return [{ source: path.resolve(path.dirname(composeFile), source), target, readOnly: mode === 'ro' }];
  });
}

/** The host file a container path of the service is, through its bind mounts. */
function hostPathOf(s: Service, containerPath: string) {
  for (const mount of bindMounts(s)) {
    const rel = path.posix.relative(mount.target, containerPath);
    if (!rel.startsWith('..') && !path.posix.isAbsolute(rel)) {
      return { file: path.join(mount.source, rel), readOnly: mount.readOnly };
    }
  }
  return undefined;
}

// ---- config helpers ----

/** The ports a service's server listens on for a protocol: its own settings, else its default. */
const serverPorts = {
  postgres: (s: Service) => [Number(postgresSettings(s).get('port') ?? 5432)],
  kafka: (s: Service) => [...kafkaListeners(envValue(s, 'KAFKA_LISTENERS')).values()].map((l) => l.port),
  qdrantRest: (s: Service) => [Number(envOf(s).get('QDRANT__SERVICE__HTTP_PORT') ?? 6333)],
};

/** Every network endpoint the example config connects to, with the protocol it speaks there. */
function configEndpoints() {
  const endpoints: { what: string; host: string; port: number; protocol: keyof typeof serverPorts }[] = [
    {
      what: 'postgres',
      host: config.postgres.host,
      port: Number(config.postgres.port),
      protocol: 'postgres',
    },
  ];
  for (const broker of config.kafka.brokers) {
    const [host = '', port = ''] = broker.split(':');
    endpoints.push({ what: `kafka broker ${broker}`, host, port: Number(port), protocol: 'kafka' });
  }
  const qdrant = new URL(config.qdrant.url);
  const port = Number(qdrant.port || (qdrant.protocol === 'https:' ? 443 : 80));
  endpoints.push({ what: 'qdrant url', host: qdrant.hostname, port, protocol: 'qdrantRest' });
  return endpoints;
}

/** Every (path, key, value) in a parsed YAML tree. */
function* entries(node: unknown, at = ''): Generator<{ at: string; key: string; value: unknown }> {
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    const here = at ? `${at}.${key}` : key;
    yield { at: here, key, value };
    yield* entries(value, here);
  }
}

/** The environment variables the config names in its `*Env` fields. */
function configEnvNames(): string[] {
  return [...entries(configRaw)].filter((e) => e.key.endsWith('Env')).map((e) => String(e.value));
}

function vecrelayConfigPath(): string {
  const args = commandArgs(service('vecrelay'));
  const i = args.indexOf('--config');
  assert.ok(i >= 0 && args[i + 1], `vecrelay's command has no --config <file>: ${JSON.stringify(args)}`);
  return args[i + 1]!;
}

function onPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

// ---- tests ----

test('compose defines the postgres, kafka, qdrant and vecrelay services', () => {
  for (const name of ['postgres', 'kafka', 'qdrant', 'vecrelay']) service(name);
});

test('every image is pinned to a version, and services without one are built', () => {
  for (const [name, s] of Object.entries(compose.services)) {
    if (!s.image) {
      assert.ok(s.build, `service ${name} has neither image nor build`);
      continue;
    }
    if (s.image.includes('@sha256:')) continue;
    const lastPart = s.image.slice(s.image.lastIndexOf('/') + 1);
    const tag = lastPart.includes(':') ? lastPart.slice(lastPart.indexOf(':') + 1) : '';
    assert.ok(tag && tag !== 'latest' && /\d/.test(tag), `service ${name}: image ${s.image} is not pinned`);
  }
});

test('postgres runs with logical decoding, replication slots, walsenders and a WAL cap per slot', () => {
  const settings = postgresSettings(service('postgres'));
  assert.equal(settings.get('wal_level'), 'logical');
  const slots = Number(settings.get('max_replication_slots'));
  const senders = Number(settings.get('max_wal_senders'));
  assert.ok(slots >= 1, `max_replication_slots=${settings.get('max_replication_slots')}`);
  // Every slot may stream at once, plus the snapshot connection of a starting pipeline.
  assert.ok(senders >= slots, `max_wal_senders=${senders} is below max_replication_slots=${slots}`);
  const cap = settings.get('max_slot_wal_keep_size');
  assert.ok(cap && cap !== '-1', 'max_slot_wal_keep_size must cap the WAL a forgotten slot retains');
});

test('kafka runs KRaft: one node that is broker and controller, with a cluster id', () => {
  const kafka = service('kafka');
  const env = envOf(kafka);
  assert.deepEqual(envValue(kafka, 'KAFKA_PROCESS_ROLES').split(',').sort(), ['broker', 'controller']);
  assert.equal(env.get('KAFKA_ZOOKEEPER_CONNECT'), undefined);
  envValue(kafka, 'CLUSTER_ID'); // the image refuses to format KRaft storage without it

  const listeners = kafkaListeners(envValue(kafka, 'KAFKA_LISTENERS'));
  const controllerListener = envValue(kafka, 'KAFKA_CONTROLLER_LISTENER_NAMES');
  const controllerPort = listeners.get(controllerListener)?.port;
  assert.ok(controllerPort, `no listener named ${controllerListener} in KAFKA_LISTENERS`);
  const voters = envValue(kafka, 'KAFKA_CONTROLLER_QUORUM_VOTERS').split(',');
  assert.deepEqual(voters, [`${envValue(kafka, 'KAFKA_NODE_ID')}@kafka:${controllerPort}`]);

  const protocols = new Set(
    envValue(kafka, 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP')
      .split(',')
      .map((pair) => pair.split(':')[0]),
  );
  for (const name of listeners.keys()) assert.ok(protocols.has(name), `no security protocol for ${name}`);
  assert.ok(listeners.has(envValue(kafka, 'KAFKA_INTER_BROKER_LISTENER_NAME')));
});

test('kafka keeps its internal topics within the one broker it has', () => {
  const kafka = service('kafka');
  const brokers = envValue(kafka, 'KAFKA_CONTROLLER_QUORUM_VOTERS').split(',').length;
  // With the default of 3 the offsets topic is never created: consumer groups get no coordinator.
  for (const name of [
    'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR',
    'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR',
    'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR',
  ]) {
    const value = Number(envValue(kafka, name));
    assert.ok(value >= 1 && value <= brokers, `${name}=${value} with ${brokers} broker(s)`);
  }
  assert.equal(envValue(kafka, 'KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS'), '0');
});

test("kafka advertises the listener the example config's brokers use", () => {
  const kafka = service('kafka');
  const advertised = kafkaListeners(envValue(kafka, 'KAFKA_ADVERTISED_LISTENERS'));
  const listeners = kafkaListeners(envValue(kafka, 'KAFKA_LISTENERS'));
  for (const broker of config.kafka.brokers) {
    const match = [...advertised].find(([, l]) => `${l.host}:${l.port}` === broker);
    assert.ok(match, `no advertised listener is ${broker}: ${envValue(kafka, 'KAFKA_ADVERTISED_LISTENERS')}`);
    const [name, { port }] = match;
    assert.equal(listeners.get(name)?.port, port, `listener ${name} does not listen on ${port}`);
  }
});

test('every host:port in the example config is a compose service and a port it listens on', () => {
  for (const { what, host, port, protocol } of configEndpoints()) {
    const s = compose.services[host];
    assert.ok(s, `${what}: '${host}' is not a compose service`);
    const listening = serverPorts[protocol](s);
    assert.ok(listening.includes(port), `${what}: ${host} serves ${protocol} on ${listening.join(', ')}`);
    const declared = declaredPorts(s);
    assert.ok(declared.has(port), `${what}: ${host} declares ${[...declared].join(', ')} in ports/expose`);
  }
});

test('vecrelay reads the example config through a read-only mount of connectors/', () => {
  const mounted = hostPathOf(service('vecrelay'), vecrelayConfigPath());
  assert.ok(mounted, `no bind mount of vecrelay holds ${vecrelayConfigPath()}`);
  assert.equal(realpathSync(mounted.file), realpathSync(configFile));
  assert.ok(mounted.readOnly, 'the config mount should be read-only (:ro)');
});

test('vecrelay gets every environment variable the config names', () => {
  const env = envOf(service('vecrelay'));
  const names = configEnvNames();
  assert.ok(names.includes(config.postgres.passwordEnv), 'the config names no password variable');
  for (const name of names) assert.ok(env.has(name), `vecrelay's environment lacks ${name}`);
});

test("the config's postgres user, database and password are the ones postgres is created with", () => {
  const postgres = service('postgres');
  assert.equal(config.postgres.user, envValue(postgres, 'POSTGRES_USER'));
  assert.equal(config.postgres.database, envValue(postgres, 'POSTGRES_DB'));
  // The same expression (e.g. ${POSTGRES_PASSWORD:-...}) on both sides gives the same password.
  assert.equal(
    envValue(service('vecrelay'), config.postgres.passwordEnv),
    envValue(postgres, 'POSTGRES_PASSWORD'),
  );
});

test('the metrics port in the config is published by the vecrelay service', () => {
  const published = publishedContainerPorts(service('vecrelay'));
  assert.ok(published.includes(Number(config.metrics.port)), `ports ${published.join(', ')}`);
});

test('in the container the metrics server listens on every interface; the example config stays on loopback', () => {
  // Published ports reach a container's interface, not its loopback; on a host, the same config
  // must not expose the metrics to the network.
  const args = commandArgs(service('vecrelay'));
  const i = args.indexOf('--metrics-host');
  assert.ok(i >= 0, `vecrelay's command has no --metrics-host: ${JSON.stringify(args)}`);
  assert.equal(args[i + 1], '0.0.0.0');
  assert.ok(
    config.metrics.host === undefined || config.metrics.host === '127.0.0.1',
    `example.yaml metrics.host: ${config.metrics.host}`,
  );
});

test('vecrelay starts only after every service it connects to is healthy', () => {
  const vecrelayDeps = dependsOn(service('vecrelay'));
  for (const { host } of configEndpoints()) {
    assert.ok(vecrelayDeps.has(host), `vecrelay does not depend_on ${host}`);
    assert.ok(hasHealthcheck(service(host)), `service ${host} has no healthcheck`);
  }
  for (const [name, s] of Object.entries(compose.services)) {
    for (const [dep, condition] of dependsOn(s)) {
      if (hasHealthcheck(service(dep))) assert.equal(condition, 'service_healthy', `${name} → ${dep}`);
    }
  }
});

test('the example config holds no literal secret', () => {
  for (const { at, key, value } of entries(configRaw)) {
    if (/pass(word|wd)?|secret|token|api_?key|credential/i.test(key)) {
      assert.ok(key.endsWith('Env'), `${at} looks like a secret; name an environment variable (${key}Env)`);
      assert.match(String(value), /^[A-Z_][A-Z0-9_]*$/, `${at} should name an environment variable`);
    }
    if (typeof value === 'string' && URL.canParse(value)) {
      const url = new URL(value);
      assert.ok(!url.username && !url.password, `${at} carries credentials in its URL`);
    }
  }
});

const dockerCompose = onPath('docker-compose');
test(
  'docker-compose config -q accepts docker-compose.yml',
  { skip: dockerCompose ? false : 'docker-compose is not on PATH: offline validation of the file skipped' },
  () => {
    try {
      execFileSync(dockerCompose!, ['-f', composeFile, 'config', '-q'], { cwd: repoRoot, stdio: 'pipe' });
    } catch (err) {
      const { stderr, stdout } = err as { stderr?: Buffer; stdout?: Buffer };
      assert.fail(`docker-compose config -q failed:\n${String(stderr ?? '')}${String(stdout ?? '')}`);
    }
  },
);

test('postgres creates, on its first start, every table the example config replicates', () => {
  const init = (service('postgres').volumes ?? [])
    .map((v) => (typeof v === 'string' ? v.split(':') : [v.source ?? '', v.target]))
    .filter(([, target]) => target?.startsWith('/docker-entrypoint-initdb.d/'))
    .map(([source]) => readFileSync(path.join(repoRoot, source!), 'utf8'))
    .join('\n');
  assert.ok(init, 'postgres mounts an init script into /docker-entrypoint-initdb.d/');
  assert.match(init, /CREATE EXTENSION IF NOT EXISTS vector/);
  const tables = (configRaw as { tables: Array<{ table: string; vectors?: string[] }> }).tables;
  for (const t of tables) {
    assert.match(
      init,
      new RegExp(`CREATE TABLE IF NOT EXISTS ${t.table.replace('.', '\\.')} \\(`),
      `creates ${t.table}`,
    );
    for (const v of t.vectors ?? [])
      assert.match(init, new RegExp(`\\b${v} vector\\(\\d+\\)`), `${t.table}.${v} is a vector(n)`);
  }
});
