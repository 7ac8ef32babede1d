// Payload key paths ("a", "a.b", "a[].b", "a[0]") and the with_payload selector.
import { formatError } from './errors.js';
import { clone, isObject, type JsonObject, type JsonValue } from './json.js';

type Step = { key: string } | { index: number } | { each: true };

export function parsePath(path: string): Step[] {
  const steps: Step[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[\]]*)((?:\[\d*\])*)$/.exec(part);
    if (!m || (m[1] === '' && steps.length === 0 && !m[2]))
      throw formatError(`invalid payload key \`${path}\``);
    if (m[1] !== '') steps.push({ key: m[1]! });
    for (const b of m[2]!.match(/\[\d*\]/g) ?? []) {
      steps.push(b === '[]' ? { each: true } : { index: Number(b.slice(1, -1)) });
    }
  }
  return steps;
}

/** Every value at `path`; `[]` fans out over arrays. Missing paths give no values. */
export function valuesAt(payload: JsonObject, path: string): JsonValue[] {
  let current: JsonValue[] = [payload];
  for (const step of parsePath(path)) {
    const next: JsonValue[] = [];
    for (const v of current) {
      if ('key' in step) {
        if (isObject(v) && Object.hasOwn(v, step.key)) next.push(v[step.key]!);
      } else if ('index' in step) {
        if (Array.isArray(v) && step.index < v.length) next.push(v[step.index]!);
      } else if (Array.isArray(v)) {
        next.push(...v);
      }
    }
    current = next;
  }
  return current;
}

/** The object at a plain dotted path, created (or replaced by {}) where missing. */
function objectAt(payload: JsonObject, path: string): JsonObject {
  let obj = payload;
  for (const step of parsePath(path)) {
    if (!('key' in step)) throw formatError(`unsupported payload key \`${path}\` for this operation`);
    const v = obj[step.key];
    if (!isObject(v)) obj[step.key] = {};
    obj = obj[step.key] as JsonObject;
  }
  return obj;
}

/** set_payload: top-level merge, or a merge into the object at `key`. */
export function mergePayload(target: JsonObject, patch: JsonObject, key: string | undefined): void {
  const into = key === undefined ? target : objectAt(target, key);
  for (const [k, v] of Object.entries(patch)) into[k] = clone(v);
}

export function deletePath(payload: JsonObject, path: string): void {
  const steps = parsePath(path);
  const last = steps.pop();
  if (!last) return;
  let parents: JsonValue[] = [payload];
  for (const step of steps) {
    const next: JsonValue[] = [];
    for (const v of parents) {
      if ('key' in step && isObject(v) && Object.hasOwn(v, step.key)) next.push(v[step.key]!);
      else if ('index' in step && Array.isArray(v) && step.index < v.length) next.push(v[step.index]!);
      else if ('each' in step && Array.isArray(v)) next.push(...v);
    }
    parents = next;
  }
  for (const p of parents) {
    if ('key' in last && isObject(p)) delete p[last.key];
    else if ('index' in last && Array.isArray(p) && last.index < p.length) p.splice(last.index, 1);
    else if ('each' in last && Array.isArray(p)) p.length = 0;
  }
}

function include(payload: JsonObject, keys: string[]): JsonObject {
  const out: JsonObject = {};
  for (const key of keys) {
    const steps = parsePath(key);
    if (!steps.every((s) => 'key' in s)) continue;
    const values = valuesAt(payload, key);
    if (values.length === 0) continue;
    const names = steps.map((s) => (s as { key: string }).key);
    let obj = out;
    for (const name of names.slice(0, -1)) {
      if (!isObject(obj[name])) obj[name] = {};
      obj = obj[name] as JsonObject;
    }
    obj[names[names.length - 1]!] = clone(values[0]!);
  }
  return out;
}

/** Applies a with_payload selector; undefined means "no payload in the answer". */
export function selectPayload(payload: JsonObject, selector: JsonValue | undefined): JsonObject | undefined {
  if (selector === undefined || selector === null || selector === false) return undefined;
  if (selector === true) return clone(payload);
  if (Array.isArray(selector)) return include(payload, selector.map(String));
  if (isObject(selector)) {
    if (Array.isArray(selector.include)) return include(payload, selector.include.map(String));
    if (Array.isArray(selector.exclude)) {
      const out = clone(payload);
      for (const key of selector.exclude) deletePath(out, String(key));
      return out;
    }
  }
  throw formatError('data did not match any variant of untagged enum WithPayloadInterface');
}
