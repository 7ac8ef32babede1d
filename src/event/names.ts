// The names a pipeline's events live under: Kafka topics, the sink's consumer group, Qdrant
// collections. Every stage derives them from here, so the source and the sink agree without
// importing each other.
//
// Topics of one pipeline, all under `kafka.topicPrefix`:
//   <prefix>.<schema>.<table>   change events of one table (compacted)
//   <prefix>._tables            table descriptors of every pipeline sharing the prefix
//   <prefix>._state.<pipeline>  the source's own state (snapshot done or not)
//   <prefix>._dlq.<pipeline>    dead letters
//
// Kafka topic names allow only [a-zA-Z0-9._-] and at most 249 characters. A Postgres name is any
// string (up to 63 bytes), so each of schema and table becomes one topic name *component*:
//
//   - [a-zA-Z0-9_] stays as it is: a name made only of these keeps the topic it always had
//     (before, every other character became '_', so `a$b` and `a_b` shared a topic);
//   - every other character becomes '-' and two lower-case hex digits per byte of its UTF-8 form:
//     '-' → "-2d", '.' → "-2e", '$' → "-24", 'é' → "-c3-a9";
//   - in the schema only, a leading '_' becomes "-5f", so a change topic's first component after
//     the prefix never starts with '_' like the pipeline's own topics (_tables, _state, _dlq) do.
//
// Why it is injective (two different (schema, table) pairs never share a topic):
//   1. A component contains only [a-zA-Z0-9_-]: never '.', so `<prefix>.<s>.<t>` splits back
//      into exactly one (s, t) — the prefix is known, and after it there are exactly two dots.
//   2. Within a component '-' only ever starts an escape: decoding reads left to right, a '-'
//      takes the next two hex digits as one byte, any other character is itself (one ASCII
//      byte). That recovers the UTF-8 bytes, and UTF-8 decodes to exactly one string. A function
//      with an inverse (decodeNameComponent) is injective.
//   3. The internal topics have a first component starting with '_', which (2)'s schema rule
//      keeps change topics from having: a schema named `_dlq` maps to `-5fdlq`.
// Kafka treats '.' and '_' as the same character in metric names and refuses a topic that
// collides with an existing one that way (`p.a_b.c` and `p.a.b_c` cannot both exist): the
// create fails loudly with Kafka's own message, never silently shares a topic.
//
// Too long: a name past 249 characters is refused (a ConfigError naming the table and the fix:
// a shorter kafka.topicPrefix). A hash suffix would keep going but make names unreadable and no
// longer reversible; with 63-byte Postgres names only heavily escaped ones (non-ASCII) get close.
import { ConfigError } from '../shared/errors.js';

/** Kafka's limit on a topic name (Topic.MAX_NAME_LENGTH). */
export const MAX_TOPIC_NAME_LENGTH = 249;

const KEPT = /[a-zA-Z0-9_]/;

/** One Postgres name as a topic name component; see the top of this file. */
export function encodeNameComponent(name: string, { isSchema = false } = {}): string {
  let out = '';
  for (const ch of name) {
    if (KEPT.test(ch) && !(isSchema && out === '' && ch === '_')) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `-${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of encodeNameComponent (throws on text it cannot have produced). */
export function decodeNameComponent(component: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < component.length; i++) {
    const ch = component[i]!;
    if (ch === '-') {
      const hex = component.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) throw new Error(`not an escaped name: ${JSON.stringify(component)}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (KEPT.test(ch)) bytes.push(ch.charCodeAt(0));
    else throw new Error(`not an escaped name: ${JSON.stringify(component)}`);
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
}

/** The change topic of one table: `<prefix>.<schema>.<table>`, escaped as above. */
export function changeTopic(topicPrefix: string, schema: string, table: string): string {
  const topic = `${topicPrefix}.${encodeNameComponent(schema, { isSchema: true })}.${encodeNameComponent(table)}`;
  if (topic.length > MAX_TOPIC_NAME_LENGTH)
    throw new ConfigError(
      `table ${schema}.${table}: its change topic would be ${topic.length} characters, more than Kafka's ` +
        `${MAX_TOPIC_NAME_LENGTH} (${topic.slice(0, 60)}…): set a shorter kafka.topicPrefix ` +
        `(now ${topicPrefix.length} characters), or rename the table`,
    );
  return topic;
}

/**
 * The change topic as vecrelay named it before names were escaped reversibly: every character
 * outside [a-zA-Z0-9._-] became '_'. Differs from changeTopic only for a name with a character
 * outside [a-zA-Z0-9_] (or a schema starting with '_'); the preflight refuses to start such a
 * table while its old topic holds its events (src/kafka/owners.ts).
 */
export function legacyChangeTopic(topicPrefix: string, schema: string, table: string): string {
  const clean = (s: string) => s.replace(/[^a-zA-Z0-9._-]/g, '_');
  return `${topicPrefix}.${clean(schema)}.${clean(table)}`;
}

/** The (schema, table) a change topic of this prefix carries; undefined for any other topic. */
export function tableOfChangeTopic(
  topicPrefix: string,
  topic: string,
): { schema: string; table: string } | undefined {
  if (!topic.startsWith(`${topicPrefix}.`)) return undefined;
  const parts = topic.slice(topicPrefix.length + 1).split('.');
  if (parts.length !== 2 || parts[0]!.startsWith('_')) return undefined;
  try {
    return { schema: decodeNameComponent(parts[0]!), table: decodeNameComponent(parts[1]!) };
  } catch {
    return undefined;
  }
}

/** Table descriptors for the sinks (src/event/table-descriptor.ts), shared by the prefix. */
export function tablesTopic(topicPrefix: string): string {
  return `${topicPrefix}._tables`;
}

/** The source's durable state (src/kafka/state-store.ts). */
export function stateTopic(topicPrefix: string, pipeline: string): string {
  return `${topicPrefix}._state.${pipeline}`;
}

/** Records the pipeline could not carry (source: undecodable rows; sink: rejected by Qdrant). */
export function deadLetterTopic(topicPrefix: string, pipeline: string): string {
  return `${topicPrefix}._dlq.${pipeline}`;
}

/** The sink's consumer group: sink.groupId, by default vecrelay-<name>. */
export function sinkGroupId(config: { name: string; sink: { groupId?: string | undefined } }): string {
  return config.sink.groupId ?? `vecrelay-${config.name}`;
}

/** The Qdrant collection of a table: its `collection` setting, else the table name (schema_table outside public). */
export function collectionName(
  prefix: string,
  table: { collection?: string | undefined } | undefined,
  schema: string,
  name: string,
): string {
  return table?.collection ?? `${prefix}${schema === 'public' ? name : `${schema}_${name}`}`;
}
