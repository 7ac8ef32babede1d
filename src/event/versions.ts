// Which schema an event's bytes were written with. Avro binary carries no schema, and a compacted
// topic keeps events of every version forever, so each change-event message names its writer's
// version in a Kafka header: `vecrelay.schema: <N>`, N as in schemas/history/change-event.v<N>.avsc.
// Messages without the header were written before it existed: version 1. A reader resolves older
// versions to the current schema (Avro's rules: new fields take their defaults); a version newer
// than it knows is a deployment error (upgrade the sinks before the source), never a guess.
import { CHANGE_EVENT_TYPE, avroType } from './avro-type.js';
import { decodeEvent, resolvingDecoder } from './avro.js';
import type { ChangeEvent } from './change-event.js';
import { historySchemas } from './schema-compat.js';
import { ConfigError } from '../shared/errors.js';

export const SCHEMA_HEADER = 'vecrelay.schema';

const history = new Map(
  [...historySchemas()].map(([file, schema]) => [Number(/\.v(\d+)\.avsc$/.exec(file)?.[1]), schema]),
);

/** The version of schemas/change-event.avsc: the history file equal to it. */
export const SCHEMA_VERSION: number = (() => {
  for (const [version, schema] of history) if (avroType(schema).equals(CHANGE_EVENT_TYPE)) return version;
  throw new Error('schemas/change-event.avsc is not frozen in schemas/history/: add it as the next version');
})();

/** The headers of every change-event message this version writes (Buffers: the producer sends them as they are). */
export const EVENT_HEADERS: ReadonlyMap<Buffer, Buffer> = new Map([
  [Buffer.from(SCHEMA_HEADER), Buffer.from(String(SCHEMA_VERSION))],
]);

const decoders = new Map<number, (buf: Buffer) => ChangeEvent>([[SCHEMA_VERSION, decodeEvent]]);

/** The decoder for events written with schema `version`; throws ConfigError for a newer one. */
export function decoderFor(version: number): (buf: Buffer) => ChangeEvent {
  let decode = decoders.get(version);
  if (!decode) {
    const schema = history.get(version);
    if (!schema)
      throw new ConfigError(
        `events written with change-event schema version ${version}, newer than this vecrelay knows ` +
          `(up to ${SCHEMA_VERSION}): upgrade the sink to the source's version (sinks first, then the source)`,
      );
    decode = resolvingDecoder(schema);
    decoders.set(version, decode);
  }
  return decode;
}

/** The schema version a message's header names (kafkajs gives header values as Buffers); 1 without it. */
export function versionOf(headerValue: Buffer | string | undefined): number {
  if (headerValue === undefined) return 1;
  const text = headerValue.toString();
  const version = Number(text);
  if (!/^\d+$/.test(text) || version < 1)
    throw new Error(`header ${SCHEMA_HEADER}: ${JSON.stringify(text)} is not a schema version`);
  return version;
}
