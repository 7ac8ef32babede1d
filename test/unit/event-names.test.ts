import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  changeTopic,
  decodeNameComponent,
  deadLetterTopic,
  encodeNameComponent,
  MAX_TOPIC_NAME_LENGTH,
  stateTopic,
  tableOfChangeTopic,
  tablesTopic,
} from '../../src/event/names.js';
import { ConfigError } from '../../src/shared/errors.js';

const KAFKA_TOPIC = /^[a-zA-Z0-9._-]+$/;

test('names made of letters, digits and _ keep the topic they always had', () => {
  assert.equal(changeTopic('vr', 'public', 'items'), 'vr.public.items');
  assert.equal(changeTopic('vr', 'Sales_2024', 'Order_Items_v2'), 'vr.Sales_2024.Order_Items_v2');
  assert.equal(changeTopic('a.b-c', 'public', '_private'), 'a.b-c.public._private');
});

test('a$b and a_b get different topics (they used to share one)', () => {
  assert.equal(changeTopic('vr', 'public', 'a_b'), 'vr.public.a_b');
  assert.equal(changeTopic('vr', 'public', 'a$b'), 'vr.public.a-24b');
  assert.notEqual(changeTopic('vr', 'public', 'a$b'), changeTopic('vr', 'public', 'a_b'));
});

test('dots in a name cannot move the schema/table boundary', () => {
  const ab_c = changeTopic('vr', 'a.b', 'c');
  const a_bc = changeTopic('vr', 'a', 'b.c');
  assert.equal(ab_c, 'vr.a-2eb.c');
  assert.equal(a_bc, 'vr.a.b-2ec');
  assert.notEqual(ab_c, a_bc);
  assert.deepEqual(tableOfChangeTopic('vr', ab_c), { schema: 'a.b', table: 'c' });
  assert.deepEqual(tableOfChangeTopic('vr', a_bc), { schema: 'a', table: 'b.c' });
});

test('the escape character is escaped itself: a-24b (a table) is not a$b', () => {
  assert.equal(encodeNameComponent('a-24b'), 'a-2d24b');
  assert.notEqual(encodeNameComponent('a-24b'), encodeNameComponent('a$b'));
});

test('unicode is escaped byte by byte (UTF-8) and decodes back', () => {
  assert.equal(encodeNameComponent('café'), 'caf-c3-a9');
  assert.equal(encodeNameComponent('表'), '-e8-a1-a8');
  assert.equal(encodeNameComponent('🙂'), '-f0-9f-99-82');
  for (const name of ['café', '表', '🙂', 'Ωmega x', 'tab\there', 'quo"te']) {
    const topic = changeTopic('vr', name, name);
    assert.match(topic, KAFKA_TOPIC);
    assert.deepEqual(tableOfChangeTopic('vr', topic), { schema: name, table: name });
  }
});

test('a schema named like an internal topic never lands on the pipeline topics', () => {
  // <prefix>._dlq.<pipeline> and <prefix>._state.<pipeline> are the pipeline's own topics.
  assert.equal(changeTopic('vr', '_dlq', 'main'), 'vr.-5fdlq.main');
  assert.notEqual(changeTopic('vr', '_dlq', 'main'), deadLetterTopic('vr', 'main'));
  assert.notEqual(changeTopic('vr', '_state', 'main'), stateTopic('vr', 'main'));
  assert.equal(tableOfChangeTopic('vr', deadLetterTopic('vr', 'main')), undefined);
  assert.equal(tableOfChangeTopic('vr', tablesTopic('vr')), undefined);
  assert.deepEqual(tableOfChangeTopic('vr', 'vr.-5fdlq.main'), { schema: '_dlq', table: 'main' });
  // Only the schema's leading '_' is escaped: a table may start with '_' as before.
  assert.equal(changeTopic('vr', 'public', '_t'), 'vr.public._t');
});

test('encoding is injective over a mixed sample: every distinct pair has its own topic', () => {
  const parts = [
    'a',
    'b',
    'a_b',
    'a$b',
    'a-b',
    'a.b',
    'a-24b',
    'a-2eb',
    '_a',
    'A',
    'é',
    'e\u0301',
    '',
    '-',
    '.',
    '_',
  ];
  const seen = new Map<string, string>();
  for (const s of parts)
    for (const t of parts) {
      const topic = changeTopic('p', s, t);
      assert.match(topic, KAFKA_TOPIC);
      const pair = JSON.stringify([s, t]);
      assert.equal(seen.get(topic) ?? pair, pair, `${pair} and ${seen.get(topic)} share ${topic}`);
      seen.set(topic, pair);
      assert.deepEqual(tableOfChangeTopic('p', topic), { schema: s, table: t });
    }
});

test('decodeNameComponent refuses what encoding cannot produce', () => {
  assert.throws(() => decodeNameComponent('a-2'), /not an escaped name/);
  assert.throws(() => decodeNameComponent('a-ZZ'), /not an escaped name/);
  assert.throws(() => decodeNameComponent('a-2E'), /not an escaped name/); // upper-case hex is never produced
  assert.throws(() => decodeNameComponent('a.b'), /not an escaped name/);
});

test('a topic name past 249 characters is a ConfigError naming the table and the fix', () => {
  const table = 'ж'.repeat(31); // 62 bytes, 186 characters escaped: the limit is reached through the prefix
  const prefix = 'p'.repeat(MAX_TOPIC_NAME_LENGTH - 186 - 'public'.length - 2);
  assert.equal(changeTopic(prefix, 'public', table).length, MAX_TOPIC_NAME_LENGTH);
  assert.throws(
    () => changeTopic(`${prefix}x`, 'public', table),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message.includes(`table public.${table}`) &&
      err.message.includes('250 characters') &&
      err.message.includes('kafka.topicPrefix'),
  );
});
