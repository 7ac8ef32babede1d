// JSON that keeps integers exact. Qdrant point ids are u64 and payload integers are i64/u64, so a
// plain JSON.parse would corrupt anything above 2^53. Here every integer literal parses to a
// bigint and every literal with a fraction or exponent to a number; the serialiser writes bigints
// back as bare digits and F32 values (vectors, scores) in their shortest float32 form, as Rust's
// serde does.

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** A float32 value, serialised in its shortest round-tripping form ("0.1", "1.0"). */
export class F32 {
  constructor(readonly value: number) {}
}

/** Text that is already JSON, spliced into the output as is. */
export class RawJson {
  constructor(readonly text: string) {}
}

export type Out = JsonValue | F32 | RawJson | undefined | Out[] | { [key: string]: Out };

export class JsonSyntaxError extends Error {}

export function isObject(v: unknown): v is JsonObject {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof F32) && !(v instanceof RawJson)
  );
}

export function isNumeric(v: unknown): v is number | bigint {
  return typeof v === 'number' || typeof v === 'bigint';
}

export function parseJson(text: string): JsonValue {
  let pos = 0;

  const fail = (what: string): never => {
    const before = text.slice(0, pos);
    const line = before.split('\n').length;
    const column = pos - (before.lastIndexOf('\n') + 1);
    throw new JsonSyntaxError(`${what} at line ${line} column ${column}`);
  };
  const ws = (): void => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos]!)) pos++;
  };

  const value = (): JsonValue => {
    ws();
    if (pos >= text.length) return fail('EOF while parsing a value');
    const c = text[pos]!;
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return v;
      }
    }
    pos++;
    return fail('expected value');
  };

  const object = (): JsonObject => {
    pos++;
    const out: JsonObject = {};
    ws();
    if (text[pos] === '}') {
      pos++;
      return out;
    }
    for (;;) {
      ws();
      if (text[pos] !== '"') return fail('key must be a string');
      const key = string();
      ws();
      if (text[pos] !== ':') return fail('expected `:`');
      pos++;
      out[key] = value();
      ws();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === '}') {
        pos++;
        return out;
      }
      return pos >= text.length ? fail('EOF while parsing an object') : fail('expected `,` or `}`');
    }
  };

  const array = (): JsonValue[] => {
    pos++;
    const out: JsonValue[] = [];
    ws();
    if (text[pos] === ']') {
      pos++;
      return out;
    }
    for (;;) {
      out.push(value());
      ws();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === ']') {
        pos++;
        return out;
      }
      return pos >= text.length ? fail('EOF while parsing a list') : fail('expected `,` or `]`');
    }
  };

  const string = (): string => {
    const start = pos;
    pos++;
    for (;;) {
      if (pos >= text.length) return fail('EOF while parsing a string');
      const c = text[pos]!;
      if (c === '"') break;
      if (c === '\\') pos++;
      else if (c < ' ') return fail('control character (\\u0000-\\u001F) found while parsing a string');
      pos++;
    }
    pos++;
    try {
      return JSON.parse(text.slice(start, pos)) as string;
    } catch {
      return fail('invalid escape');
    }
  };

  const number = (): number | bigint => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(pos, pos + 400));
    if (!m) return fail('invalid number');
    pos += m[0].length;
    return m[2] === undefined && m[3] === undefined ? BigInt(m[0]) : Number(m[0]);
  };

  const result = value();
  ws();
  if (pos < text.length) fail('trailing characters');
  return result;
}

/** Shortest decimal that reads back as the same float32, with ".0" on integral values (like ryu). */
export function formatF32(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  // Round-tripping is monotonic in the number of digits (at most 9 for a float32): bisect.
  let lo = 1;
  let hi = 9;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Math.fround(Number(x.toPrecision(mid))) === x) hi = mid;
    else lo = mid + 1;
  }
  const s = String(Number(x.toPrecision(lo)));
  return /[.e]/.test(s) ? s : `${s}.0`;
}

export function stringify(v: Out): string {
  if (v === null || v === undefined) return 'null';
  if (v instanceof F32) return formatF32(v.value);
  if (v instanceof RawJson) return v.text;
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'string':
      return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => stringify(x)).join(',')}]`;
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v)) {
    if (x !== undefined) parts.push(`${JSON.stringify(k)}:${stringify(x)}`);
  }
  return `{${parts.join(',')}}`;
}

/** A deep copy, so stored payloads never alias request bodies. */
export function clone<T extends JsonValue>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => clone(x)) as T;
  if (isObject(v)) {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) out[k] = clone(x);
    return out as T;
  }
  return v;
}
