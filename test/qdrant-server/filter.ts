// The filter subset a sink uses: must / should / must_not / min_should, field conditions with
// match {value | any | except | text}, range, values_count, is_empty, is_null, has_id, has_vector,
// nested filters. A filter is compiled once (malformed ones are rejected up front, like Qdrant's
// deserialiser) and then applied to each point.
import { formatError } from './errors.js';
import { idKey, parsePointId, type PointId } from './ids.js';
import { isNumeric, isObject, type JsonObject, type JsonValue } from './json.js';
import { valuesAt } from './payload.js';

export interface FilterTarget {
  id: PointId;
  payload: JsonObject;
  vectors?: { has(name: string): boolean };
}

export type Predicate = (p: FilterTarget) => boolean;

const bad = (what: string) => formatError(`data did not match any variant of untagged enum ${what}`);

function list(v: JsonValue | undefined): JsonValue[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

/** Values at `key`, with arrays flattened one level (a stored array matches if any element does). */
function fieldValues(payload: JsonObject, key: string): JsonValue[] {
  return valuesAt(payload, key).flatMap((v) => (Array.isArray(v) ? v : [v]));
}

function same(a: JsonValue, b: JsonValue): boolean {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a === b;
  return (typeof a === 'string' || typeof a === 'boolean') && a === b;
}

function toComparable(v: JsonValue): number | undefined {
  if (isNumeric(v)) return Number(v);
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

function compileRange(r: JsonValue): (v: JsonValue) => boolean {
  if (!isObject(r)) throw bad('RangeInterface');
  const bound = (name: string): number | undefined => {
    const b = r[name];
    if (b === undefined || b === null) return undefined;
    const n = toComparable(b);
    if (n === undefined) throw bad('RangeInterface');
    return n;
  };
  const [gt, gte, lt, lte] = [bound('gt'), bound('gte'), bound('lt'), bound('lte')];
  return (v) => {
    const n = toComparable(v);
    if (n === undefined) return false;
    return (
      (gt === undefined || n > gt) &&
      (gte === undefined || n >= gte) &&
      (lt === undefined || n < lt) &&
      (lte === undefined || n <= lte)
    );
  };
}

function compileMatch(m: JsonValue): (values: JsonValue[]) => boolean {
  if (!isObject(m)) throw bad('Match');
  if ('value' in m) {
    const want = m.value!;
    if (!['string', 'bigint', 'boolean'].includes(typeof want)) throw bad('ValueVariants');
    return (values) => values.some((v) => same(v, want));
  }
  if ('any' in m || 'except' in m) {
    const set = m.any ?? m.except;
    if (!Array.isArray(set) || !set.every((x) => typeof x === 'string' || typeof x === 'bigint')) {
      throw bad('AnyVariants');
    }
    const hit = (v: JsonValue) => set.some((w) => same(v, w));
    return 'any' in m ? (values) => values.some(hit) : (values) => values.some((v) => !hit(v));
  }
  if (typeof m.text === 'string' || typeof m.phrase === 'string') {
    const needle = (m.text ?? m.phrase) as string;
    return (values) => values.some((v) => typeof v === 'string' && v.includes(needle));
  }
  throw bad('Match');
}

function keyOf(c: JsonObject): string {
  if (typeof c.key !== 'string') throw bad('Condition');
  return c.key;
}

function compileCondition(c: JsonValue): Predicate {
  if (!isObject(c)) throw bad('Condition');
  if ('must' in c || 'should' in c || 'must_not' in c || 'min_should' in c) return compileFilter(c);
  if ('has_id' in c) {
    const ids = new Set(list(c.has_id).map((x) => idKey(parsePointId(x))));
    return (p) => ids.has(idKey(p.id));
  }
  if ('has_vector' in c) {
    const name = c.has_vector;
    if (typeof name !== 'string') throw bad('Condition');
    return (p) => p.vectors?.has(name) ?? false;
  }
  if ('is_empty' in c) {
    const key = isObject(c.is_empty) ? keyOf(c.is_empty) : '';
    if (!key) throw bad('Condition');
    return (p) => fieldValues(p.payload, key).every((v) => v === null);
  }
  if ('is_null' in c) {
    const key = isObject(c.is_null) ? keyOf(c.is_null) : '';
    if (!key) throw bad('Condition');
    return (p) => valuesAt(p.payload, key).some((v) => v === null || (Array.isArray(v) && v.includes(null)));
  }
  if ('nested' in c) {
    const n = c.nested;
    if (!isObject(n)) throw bad('Condition');
    const key = keyOf(n);
    const inner = compileFilter(n.filter);
    return (p) => fieldValues(p.payload, key).some((el) => isObject(el) && inner({ id: p.id, payload: el }));
  }
  const key = keyOf(c);
  const checks: Array<(values: JsonValue[]) => boolean> = [];
  if (c.match !== undefined && c.match !== null) checks.push(compileMatch(c.match));
  if (c.range !== undefined && c.range !== null) {
    const inRange = compileRange(c.range);
    checks.push((values) => values.some(inRange));
  }
  if (c.values_count !== undefined && c.values_count !== null) {
    const inRange = compileRange(c.values_count);
    checks.push((values) => inRange(BigInt(values.length)));
  }
  if (checks.length === 0) throw bad('Condition');
  return (p) => {
    const values = fieldValues(p.payload, key);
    return checks.every((check) => check(values));
  };
}

/** Compiles a Filter object; undefined / null gives a predicate that matches everything. */
export function compileFilter(f: JsonValue | undefined): Predicate {
  if (f === undefined || f === null) return () => true;
  if (!isObject(f)) throw bad('Filter');
  const must = list(f.must).map(compileCondition);
  const should = list(f.should).map(compileCondition);
  const mustNot = list(f.must_not).map(compileCondition);
  let minShould: { conditions: Predicate[]; min: number } | undefined;
  if (isObject(f.min_should)) {
    const count = f.min_should.min_count;
    if (!isNumeric(count)) throw bad('MinShould');
    minShould = { conditions: list(f.min_should.conditions).map(compileCondition), min: Number(count) };
  }
  return (p) =>
    must.every((c) => c(p)) &&
    (should.length === 0 || should.some((c) => c(p))) &&
    !mustNot.some((c) => c(p)) &&
    (minShould === undefined || minShould.conditions.filter((c) => c(p)).length >= minShould.min);
}
