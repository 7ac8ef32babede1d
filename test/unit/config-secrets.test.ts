// postgres.ssl, kafka.ssl, kafka.sasl and the *File fields: files are read at load time (a missing
// one names its field; the Postgres password file at each connection too), each sslmode maps to the checks libpq makes, passwords come from exactly
// one of *Env or *File, and nothing secret is left in the parsed config's printable part.
// qdrant.caFile: its certificates checked when parsed, trusted by Node once loadConfig runs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import tls from 'node:tls';
import { inspect } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { kafkajsSasl } from '../../src/kafka/security.js';
import { targetFromUrl } from '../../src/plan/target.js';
import { ConfigError } from '../../src/shared/errors.js';
import { pgClientConfig } from '../../src/source/postgres/connect.js';
import { makeTestCa, type TestCa } from '../helpers/tls-certs.js';

const FILE = '/etc/vecrelay/items.yaml';
const dir = mkdtempSync(path.join(tmpdir(), 'vecrelay-secrets-'));
const write = (name: string, text: string) => {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
};
const CA = write('ca.crt', 'CA PEM\n');
const CERT = write('client.crt', 'CERT PEM\n');
const KEY = write('client.key', 'KEY PEM\n');
const PASSWORD = write('password', 's3cret\n');
const MISSING = path.join(dir, 'missing.pem');

function config(sections: { postgres?: Record<string, unknown>; kafka?: Record<string, unknown> } = {}) {
  return stringify({
    name: 'items',
    postgres: {
      host: 'db.example',
      database: 'app',
      user: 'vecrelay',
      slot: 'vecrelay_items',
      publication: 'vecrelay_items',
      ...sections.postgres,
    },
    kafka: { brokers: ['kafka:9093'], ...sections.kafka },
    tables: [{ table: 'public.items' }],
  });
}

function rejects(text: string, env: NodeJS.ProcessEnv, ...patterns: RegExp[]) {
  assert.throws(
    () => parseConfig(text, FILE, env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
      for (const p of patterns) assert.match(err.message, p);
      return true;
    },
  );
}

const pgSsl = (ssl: Record<string, unknown>) => {
  const loaded = parseConfig(config({ postgres: { ssl } }), FILE, {});
  return pgClientConfig(loaded).ssl;
};

test('no postgres.ssl: node-postgres is left as before (no ssl option)', () => {
  const loaded = parseConfig(config(), FILE, {});
  assert.equal('ssl' in pgClientConfig(loaded), false);
  assert.deepEqual(loaded.kafkaSecurity, {});
});

test('each sslmode maps to the checks libpq makes', () => {
  assert.equal(pgSsl({ mode: 'disable' }), false);
  assert.deepEqual(pgSsl({ mode: 'prefer' }), { rejectUnauthorized: false });
  assert.deepEqual(pgSsl({ mode: 'require' }), { rejectUnauthorized: false });
  // verify-full is the default mode and checks the host name (node's default checkServerIdentity).
  assert.deepEqual(pgSsl({ caFile: CA }), { rejectUnauthorized: true, ca: 'CA PEM\n' });
  for (const mode of ['verify-ca', 'require']) {
    const ssl = pgSsl({ mode, caFile: CA }) as Record<string, unknown>;
    assert.equal(ssl.rejectUnauthorized, true, mode);
    assert.equal(ssl.ca, 'CA PEM\n', mode);
    assert.equal(typeof ssl.checkServerIdentity, 'function', `${mode}: the name is not checked`);
  }
  const withCert = pgSsl({ mode: 'verify-full', caFile: CA, certFile: CERT, keyFile: KEY }) as Record<
    string,
    unknown
  >;
  assert.equal(withCert.cert, 'CERT PEM\n');
  assert.equal(withCert.key, 'KEY PEM\n');
});

test('every connection gets its own ssl object (node-postgres redefines `key` on the one it is given)', () => {
  const loaded = parseConfig(config({ postgres: { ssl: { caFile: CA } } }), FILE, {});
  assert.notEqual(pgClientConfig(loaded).ssl, pgClientConfig(loaded).ssl);
  assert.deepEqual(pgClientConfig(loaded, { replication: true }).ssl, pgClientConfig(loaded).ssl);
});

test('a TLS file that cannot be read, or a certificate without its key, names the field', () => {
  rejects(
    config({ postgres: { ssl: { caFile: MISSING } } }),
    {},
    /^\/etc\/vecrelay\/items\.yaml: postgres\.ssl\.caFile: cannot read .*missing\.pem: ENOENT/,
  );
  rejects(
    config({ postgres: { ssl: { certFile: CERT } } }),
    {},
    /postgres\.ssl: certFile and keyFile come together/,
  );
  rejects(config({ kafka: { ssl: { keyFile: KEY } } }), {}, /kafka\.ssl: certFile and keyFile come together/);
  rejects(config({ kafka: { ssl: { caFile: MISSING } } }), {}, /kafka\.ssl\.caFile: cannot read/);
  rejects(config({ postgres: { ssl: { mode: 'verify-all' } } }), {}, /postgres\.ssl\.mode/);
});

test('kafka.ssl: true uses the system CAs; an object reads its files', () => {
  assert.deepEqual(parseConfig(config({ kafka: { ssl: true } }), FILE, {}).kafkaSecurity, { tls: {} });
  assert.deepEqual(parseConfig(config({ kafka: { ssl: false } }), FILE, {}).kafkaSecurity, {});
  const loaded = parseConfig(
    config({ kafka: { ssl: { caFile: CA, certFile: CERT, keyFile: KEY } } }),
    FILE,
    {},
  );
  assert.deepEqual(loaded.kafkaSecurity.tls, { ca: 'CA PEM\n', cert: 'CERT PEM\n', key: 'KEY PEM\n' });
});

test('kafka.sasl: the password from exactly one of passwordEnv or passwordFile', () => {
  const sasl = { mechanism: 'SCRAM-SHA-512', username: 'vecrelay' };
  const fromEnv = parseConfig(config({ kafka: { sasl: { ...sasl, passwordEnv: 'KPW' } } }), FILE, {
    KPW: 'pw',
  });
  assert.deepEqual(fromEnv.kafkaSecurity.sasl, {
    mechanism: 'SCRAM-SHA-512',
    username: 'vecrelay',
    password: 'pw',
  });
  // One trailing newline (echo pw > file) is not part of the password.
  const fromFile = parseConfig(config({ kafka: { sasl: { ...sasl, passwordFile: PASSWORD } } }), FILE, {});
  assert.equal(fromFile.kafkaSecurity.sasl?.password, 's3cret');
  assert.deepEqual(kafkajsSasl(fromFile.kafkaSecurity), {
    mechanism: 'scram-sha-512',
    username: 'vecrelay',
    password: 's3cret',
  });
  rejects(
    config({ kafka: { sasl: { ...sasl, passwordEnv: 'KPW' } } }),
    {},
    /kafka\.sasl\.passwordEnv names KPW, which is not set: export KPW=\.\.\. before starting/,
  );
  rejects(config({ kafka: { sasl } }), {}, /kafka\.sasl: give the password in exactly one of passwordEnv/);
  rejects(
    config({ kafka: { sasl: { ...sasl, passwordEnv: 'KPW', passwordFile: PASSWORD } } }),
    { KPW: 'pw' },
    /exactly one of/,
  );
  rejects(
    config({ kafka: { sasl: { ...sasl, mechanism: 'GSSAPI', passwordEnv: 'KPW' } } }),
    { KPW: 'x' },
    /kafka\.sasl\.mechanism/,
  );
});

test('postgres.passwordFile: read at load time and again at each connection (a rotated password); not together with passwordEnv', () => {
  const loaded = parseConfig(config({ postgres: { passwordFile: PASSWORD } }), FILE, {});
  assert.equal(loaded.postgresPassword, 's3cret');
  const rotating = write('rotating-password', 's3cret\n');
  const password = pgClientConfig(parseConfig(config({ postgres: { passwordFile: rotating } }), FILE, {}))
    .password as () => string;
  assert.equal(password(), 's3cret');
  writeFileSync(rotating, 'r0tated\n');
  assert.equal(password(), 'r0tated', 'the file as it is now');
  writeFileSync(rotating, '');
  assert.equal(password(), 's3cret', 'an empty file (being replaced): the start-up password');
  rmSync(rotating);
  assert.equal(password(), 's3cret', 'no file: the start-up password');
  rejects(
    config({ postgres: { passwordFile: PASSWORD, passwordEnv: 'PGPW' } }),
    { PGPW: 'x' },
    /postgres: passwordEnv and passwordFile are both set/,
  );
  rejects(config({ postgres: { passwordFile: MISSING } }), {}, /postgres\.passwordFile: cannot read/);
});

test('plan --url: sslmode, sslrootcert, sslcert and sslkey mean what postgres.ssl does', () => {
  const url = (query: string) => targetFromUrl(`postgresql://u@db.example/app?${query}`, {}).connection.ssl;
  assert.equal(url('sslmode=disable'), undefined);
  assert.deepEqual(url('sslmode=require'), { rejectUnauthorized: false });
  const verifyCa = url(`sslmode=verify-ca&sslrootcert=${CA}&sslcert=${CERT}&sslkey=${KEY}`) as Record<
    string,
    unknown
  >;
  assert.equal(verifyCa.ca, 'CA PEM\n');
  assert.equal(verifyCa.cert, 'CERT PEM\n');
  assert.equal(typeof verifyCa.checkServerIdentity, 'function');
  assert.deepEqual(url(`sslmode=verify-full&sslrootcert=${CA}`), {
    rejectUnauthorized: true,
    ca: 'CA PEM\n',
  });
  assert.throws(
    () => url(`sslmode=verify-full&sslrootcert=${MISSING}`),
    (err: unknown) =>
      err instanceof ConfigError && /--url: sslrootcert=.*: cannot read it: ENOENT/.test(err.message),
  );
});

test('TLS material and the Kafka password print as [redacted] (JSON, pino, inspect), and still work', () => {
  const loaded = parseConfig(
    config({
      postgres: { ssl: { caFile: CA, certFile: CERT, keyFile: KEY } },
      kafka: {
        ssl: { certFile: CERT, keyFile: KEY },
        sasl: { mechanism: 'PLAIN', username: 'vecrelay', passwordFile: PASSWORD },
      },
    }),
    FILE,
    {},
  );
  const { postgresSsl, kafkaSecurity } = loaded;
  for (const printed of [
    JSON.stringify({ postgresSsl, kafkaSecurity, sasl: kafkaSecurity.sasl, tls: kafkaSecurity.tls }),
    inspect({ postgresSsl, kafkaSecurity, sasl: kafkaSecurity.sasl }, { depth: 10 }),
  ]) {
    assert.doesNotMatch(printed, /PEM|s3cret/, printed);
    assert.match(printed, /\[redacted\]/);
  }
  // What the clients read is all there, in copies too.
  assert.equal(kafkaSecurity.sasl?.password, 's3cret');
  assert.deepEqual({ ...kafkaSecurity.tls }, { cert: 'CERT PEM\n', key: 'KEY PEM\n' });
  assert.equal((pgClientConfig(loaded).ssl as { key?: string }).key, 'KEY PEM\n');
});

describe('qdrant.caFile', () => {
  let ca: TestCa;
  let other: TestCa;
  before(async () => {
    [ca, other] = await Promise.all([makeTestCa('qdrant CA'), makeTestCa('another CA')]);
  });
  after(() => {
    ca?.remove();
    other?.remove();
  });
  const withCa = (caFile: string) =>
    stringify({
      ...(parseYaml(config()) as object),
      qdrant: { url: 'https://qdrant.example:6333', caFile },
    });

  test('a missing file, or one without a readable PEM certificate, names qdrant.caFile', () => {
    rejects(withCa(MISSING), {}, /items\.yaml: qdrant\.caFile: cannot read .*missing\.pem: ENOENT/);
    rejects(withCa(CA), {}, /qdrant\.caFile: .*ca\.crt holds no PEM certificate: give the PEM file/);
    const pem = readFileSync(ca.caFile, 'utf8');
    const garbled = write('garbled.crt', pem.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!'));
    rejects(withCa(garbled), {}, /qdrant\.caFile: .*garbled\.crt: certificate 1 of 1 cannot be read/);
  });

  test('a bundle is read whole; parsing trusts nothing, loadConfig trusts every certificate of it', () => {
    const bundle = write('bundle.crt', readFileSync(ca.caFile, 'utf8') + readFileSync(other.caFile, 'utf8'));
    // Node re-encodes the certificates it lists: compare fingerprints.
    const trusted = () =>
      new Set(tls.getCACertificates('default').map((p) => new X509Certificate(p).fingerprint256));
    const defaults = tls.getCACertificates('default');
    const before = trusted();
    try {
      const parsed = parseConfig(withCa(bundle), FILE, {});
      assert.equal(parsed.qdrantCa?.length, 2);
      const mine = parsed.qdrantCa!.map((p) => new X509Certificate(p).fingerprint256);
      assert.deepEqual(trusted(), before, 'parseConfig changes nothing global');
      assert.ok(!mine.some((f) => before.has(f)));

      const file = write('qdrant.yaml', withCa(bundle));
      loadConfig(file, {});
      const after = trusted();
      for (const f of mine) assert.ok(after.has(f), 'each certificate of the bundle is a default CA now');
      for (const f of before) assert.ok(after.has(f), "added to the system's CAs, not instead of them");
      assert.equal(after.size, before.size + 2);
      loadConfig(file, {});
      assert.deepEqual(trusted(), after, 'loading again adds nothing');
    } finally {
      tls.setDefaultCACertificates(defaults);
    }
  });
});
