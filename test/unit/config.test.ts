// parseConfig: every error is a ConfigError naming the file, the field path and what to write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/shared/errors.js';

const FILE = '/etc/vecrelay/items.yaml';

function config(overrides: { postgres?: Record<string, unknown>; [key: string]: unknown } = {}) {
  const { postgres, ...rest } = overrides;
  return {
    name: 'items',
    postgres: {
      host: 'db',
      port: 5432,
      database: 'app',
      user: 'vecrelay',
      slot: 'vecrelay_items',
      publication: 'vecrelay_items',
      ...postgres,
    },
    kafka: { brokers: ['kafka:9092'] },
    tables: [{ table: 'public.items' }],
    ...rest,
  };
}

/** parseConfig must throw a ConfigError whose message matches every pattern. */
function rejects(raw: unknown, env: NodeJS.ProcessEnv, ...patterns: RegExp[]) {
  assert.throws(
    () => parseConfig(stringify(raw), FILE, env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
      assert.ok(err.message.startsWith(`${FILE}: `), `names the file: ${err.message}`);
      for (const p of patterns) assert.match(err.message, p);
      return true;
    },
  );
}

test('a valid config parses, with defaults filled in and the password from the environment', () => {
  const loaded = parseConfig(stringify(config({ postgres: { passwordEnv: 'PGPW' } })), FILE, {
    PGPW: 's3cret',
  });
  assert.equal(loaded.file, FILE);
  assert.equal(loaded.postgresPassword, 's3cret');
  assert.equal(loaded.kafka.topicPrefix, 'vecrelay');
  assert.equal(loaded.source.slotBusyRetries, 10);
  assert.deepEqual(loaded.snapshot, {
    mode: 'initial',
    parallelism: 2,
    chunkRows: 10_000,
    chunkBytes: 8 * 1024 * 1024,
  });
});

test('an unknown field is named by its full path, at every level', () => {
  rejects(config({ bogus: 1 }), {}, /^\S+: bogus: unknown field/);
  rejects(config({ postgres: { sslmode: 'require' } }), {}, /: postgres\.sslmode: unknown field/);
  rejects(
    config({ tables: [{ table: 'public.items', colums: ['a'] }] }),
    {},
    /: tables\.0\.colums: unknown field/,
  );
});

test('a slot name in upper case names postgres.slot and the allowed characters', () => {
  rejects(
    config({ postgres: { slot: 'Vecrelay_Items' } }),
    {},
    /: postgres\.slot: .*lower-case letters, digits and _/,
  );
});

test('a passwordEnv variable that is not set names the field, the variable and the fix', () => {
  rejects(
    config({ postgres: { passwordEnv: 'VECRELAY_PG_PASSWORD' } }),
    {},
    /: postgres\.passwordEnv names VECRELAY_PG_PASSWORD, which is not set/,
    /export VECRELAY_PG_PASSWORD=/,
  );
});

test('a missing required field and a wrong type name their paths', () => {
  const { user: _user, ...noUser } = config().postgres;
  rejects({ ...config(), postgres: noUser }, {}, /: postgres\.user: /);
  rejects(config({ kafka: { brokers: ['kafka:9092'], partitions: 'six' } }), {}, /: kafka\.partitions: /);
});

test('several problems are all reported, one line each', () => {
  assert.throws(
    () => parseConfig(stringify(config({ bogus: 1, postgres: { slot: 'BAD' } })), FILE, {}),
    (err: Error) => {
      const lines = err.message.split('\n');
      assert.equal(lines.length, 2, err.message);
      assert.ok(lines.every((l) => l.startsWith(`${FILE}: `)));
      return true;
    },
  );
});

test('a table listed twice and a column both vector and payload name the table entry', () => {
  rejects(
    config({ tables: [{ table: 'public.items' }, { table: 'public.items' }] }),
    {},
    /: tables\.1\.table: public\.items is listed twice/,
  );
  rejects(
    config({ tables: [{ table: 'public.items', vectors: ['emb'], payload: ['emb', 'title'] }] }),
    {},
    /: tables\.0: emb cannot be both a vector and payload/,
  );
});

test('text that is not YAML names the file', () => {
  assert.throws(
    () => parseConfig('name: [unclosed', FILE, {}),
    (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^\/etc\/vecrelay\/items\.yaml: not valid YAML/);
      return true;
    },
  );
});
