// The schema contract: documented, vectors as packed bytes, and — the guard — every schema ever
// released (schemas/history/) still resolvable with the current one, with the captured bytes of
// each released version (test/fixtures/avro/v<N>/) still decoding to the same events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { decodeEvent, encodeEvent, resolvingDecoder } from '../../src/event/avro.js';
import { CHANGE_EVENT_SCHEMA, CHANGE_EVENT_TYPE, avroType } from '../../src/event/avro-type.js';
import { compatibilityProblems, historySchemas } from '../../src/event/schema-compat.js';
import avro from 'avsc';
import type { ChangeEvent, ColumnValue, Op } from '../../src/event/change-event.js';
import { OPS, comparable, sampleEvents } from '../fixtures/avro/samples.js';

interface Field {
  name: string;
  doc?: string;
  type: unknown;
  default?: unknown;
}
interface Named {
  type: string;
  name: string;
  doc?: string;
  fields?: Field[];
}

const fixturesDir = new URL('../fixtures/avro/', import.meta.url);
const clone = <T>(x: T): T => structuredClone(x);

/** Every record/enum/fixed definition in a schema, depth first. */
function namedTypes(schema: unknown, out: Named[] = []): Named[] {
  if (Array.isArray(schema)) for (const s of schema) namedTypes(s, out);
  else if (typeof schema === 'object' && schema !== null) {
    const s = schema as Record<string, unknown>;
    if (typeof s.name === 'string') out.push(s as unknown as Named);
    for (const f of (s.fields as Field[] | undefined) ?? []) namedTypes(f.type, out);
    namedTypes(s.items, out);
    namedTypes(s.values, out);
    if (typeof s.type === 'object') namedTypes(s.type, out);
  }
  return out;
}

const record = (schema: object, name: string): Named => {
  const found = namedTypes(schema).find((t) => t.name === name);
  assert.ok(found, `no type ${name}`);
  return found;
};

test('every field and every record and enum of the schema has a doc', () => {
  const types = namedTypes(CHANGE_EVENT_SCHEMA);
  assert.ok(types.length >= 9);
  for (const t of types) {
    if (t.type !== 'fixed') assert.ok(t.doc, `type ${t.name} has a doc`);
    for (const f of t.fields ?? []) assert.ok(f.doc, `field ${t.name}.${f.name} has a doc`);
  }
});

test('vectors are packed bytes, never arrays of numbers', () => {
  const field = (rec: string, name: string) =>
    record(CHANGE_EVENT_SCHEMA, rec).fields!.find((f) => f.name === name);
  assert.equal(field('DenseVector', 'data')?.type, 'bytes');
  assert.equal(field('SparseVector', 'indices')?.type, 'bytes');
  assert.equal(field('SparseVector', 'values')?.type, 'bytes');
  assert.doesNotMatch(JSON.stringify(CHANGE_EVENT_SCHEMA), /"items":"(float|double|int)"/);
});

test('the current schema is frozen in schemas/history (add a new version there when it changes)', () => {
  const frozen = [...historySchemas().values()].some((s) => avroType(s).equals(CHANGE_EVENT_TYPE));
  assert.ok(frozen, 'schemas/change-event.avsc differs from every schemas/history/*.avsc');
});

test('guard: every historical schema is compatible with the current one, both ways', () => {
  const history = historySchemas();
  assert.ok(history.has('change-event.v1.avsc'));
  for (const [file, schema] of history)
    assert.deepStrictEqual(compatibilityProblems(schema, CHANGE_EVENT_SCHEMA), [], file);
});

test('guard: the compatibility check catches incompatible changes', () => {
  const v1 = historySchemas().get('change-event.v1.avsc')!;
  const changes: Record<string, (s: { fields: Field[] }) => void> = {
    'remove a field without default': (s) =>
      void s.fields.splice(
        s.fields.findIndex((f) => f.name === 'op'),
        1,
      ),
    'add a field without default': (s) => void s.fields.push({ name: 'pipeline', doc: 'x', type: 'string' }),
    'narrow a type': (s) => void (record(s, 'Source').fields!.find((f) => f.name === 'xid')!.type = 'int'),
    'drop an op symbol': (s) =>
      void ((record(s, 'Op') as unknown as { symbols: string[] }).symbols = ['c', 'u', 'd', 'r']),
    'rename a record': (s) => void (record(s, 'DenseVector').name = 'Dense'),
  };
  for (const [what, change] of Object.entries(changes)) {
    const next = clone(CHANGE_EVENT_SCHEMA) as { fields: Field[] };
    change(next);
    assert.notDeepStrictEqual(compatibilityProblems(v1, next), [], what);
  }
});

test('evolution: a field added with a default is read both ways', () => {
  // v2 = the current schema plus a field, as a real schema change would add it.
  const v2 = clone(CHANGE_EVENT_SCHEMA) as { fields: Field[] };
  v2.fields.push({ name: 'origin', doc: 'Name of the source cluster.', type: 'string', default: 'primary' });
  assert.deepStrictEqual(compatibilityProblems(CHANGE_EVENT_SCHEMA, v2), []);
  const v2Type = avroType(v2);
  const sample = sampleEvents().c;
  const oldBytes = encodeEvent(sample);

  // Backward: a v2 reader reads v1 bytes and fills the new field with its default.
  const asV2 = v2Type.fromBuffer(oldBytes, v2Type.createResolver(CHANGE_EVENT_TYPE)) as { origin: string };
  assert.equal(asV2.origin, 'primary');

  // Forward: the current reader reads bytes a v2 writer wrote, skipping the field it does not know.
  asV2.origin = 'replica-eu';
  const newBytes = v2Type.toBuffer(asV2);
  assert.notDeepStrictEqual(newBytes, oldBytes);
  assert.deepStrictEqual(comparable(resolvingDecoder(v2)(newBytes)), comparable(sample));
  assert.throws(() => decodeEvent(newBytes), 'without the resolver the bytes do not parse');
});

test('through a resolver every column kind keeps its branch, in key and in values', () => {
  const v2 = clone(CHANGE_EVENT_SCHEMA) as { fields: Field[] };
  v2.fields.push({ name: 'origin', doc: 'x', type: 'string', default: '' });
  const every: Record<string, ColumnValue> = {
    n: null,
    b: true,
    l: -(2n ** 63n),
    d: NaN,
    s: 'text',
    bytes: new Uint8Array([0xc3, 0xbc]), // valid UTF-8 ("ü"): a string branch would accept it silently
    j: { kind: 'json', json: '[]' },
    dec: { kind: 'decimal', text: '1.0' },
    u: { kind: 'uuid', uuid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' },
  };
  const e: ChangeEvent = { ...sampleEvents().c, key: every, values: every };
  const v2Type = avroType(v2);
  const v2Bytes = v2Type.toBuffer(
    v2Type.fromBuffer(encodeEvent(e), v2Type.createResolver(CHANGE_EVENT_TYPE)),
  );
  assert.deepStrictEqual(comparable(resolvingDecoder(v2)(v2Bytes)), comparable(e));
});

test('why avro-type.ts resolves unions by branch name: plain avsc reads bytes into a string branch', () => {
  const plain = avro.Type.forSchema(['string', 'bytes'], { wrapUnions: true });
  const read = plain.fromBuffer(
    plain.toBuffer({ bytes: Buffer.from('ü') }),
    plain.createResolver(plain),
  ) as object;
  assert.deepStrictEqual(Object.keys(read), ['string'], 'if avsc now keeps "bytes", ExactBranchUnion may go');
  const ours = avroType(['string', 'bytes']);
  const kept = ours.fromBuffer(
    ours.toBuffer({ bytes: Buffer.from('ü') }),
    ours.createResolver(ours),
  ) as object;
  assert.deepStrictEqual(Object.keys(kept), ['bytes']);
});

test('captured bytes of every released version decode to their events', () => {
  const versions = readdirSync(fixturesDir).filter((d) => /^v\d+$/.test(d));
  assert.ok(versions.includes('v1'));
  const samples = sampleEvents();
  for (const v of versions) {
    const schema = historySchemas().get(`change-event.${v}.avsc`);
    assert.ok(schema, `schemas/history/change-event.${v}.avsc exists for fixtures ${v}/`);
    const decode = resolvingDecoder(schema);
    for (const op of OPS) {
      const bytes = Buffer.from(readFileSync(new URL(`${v}/${op}.hex`, fixturesDir), 'utf8').trim(), 'hex');
      assert.deepStrictEqual(comparable(decode(bytes)), comparable(samples[op]), `${v}/${op}.hex`);
    }
  }
});

test('encoding is deterministic: the current schema writes the captured bytes of its version', () => {
  const current = [...historySchemas()].find(([, s]) => avroType(s).equals(CHANGE_EVENT_TYPE));
  const version = /\.(v\d+)\.avsc$/.exec(current?.[0] ?? '')?.[1];
  assert.ok(version);
  const samples = sampleEvents();
  for (const op of OPS as Op[]) {
    const hex = readFileSync(new URL(`${version}/${op}.hex`, fixturesDir), 'utf8').trim();
    assert.equal(encodeEvent(samples[op]).toString('hex'), hex, `${version}/${op}.hex`);
  }
});
