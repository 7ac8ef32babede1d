// Schema evolution rules for ChangeEvent. Every released schema is frozen in schemas/history/; a
// new schema must be resolvable with each of them in BOTH directions:
//   - backward: the new reader reads old events — compacted topics keep old events forever, and a
//     new sink group replays them from the beginning;
//   - forward: an old reader reads new events — source and sink run apart and are upgraded one at
//     a time, so a sink may meet events from a newer source.
// In practice: add fields only with defaults, remove only fields that have defaults, never
// change a type except by Avro's promotions, never rename without an alias.
import { readdirSync } from 'node:fs';
import { avroType, readSchemaFile, schemasDir } from './avro-type.js';

/** Why events of one schema version could not be read with the other; empty when compatible. */
export function compatibilityProblems(older: object, newer: object): string[] {
  const problems: string[] = [];
  const o = avroType(older);
  const n = avroType(newer);
  try {
    n.createResolver(o);
  } catch (err) {
    problems.push(`the newer schema cannot read events of the older: ${(err as Error).message}`);
  }
  try {
    o.createResolver(n);
  } catch (err) {
    problems.push(`readers of the older schema cannot read events of the newer: ${(err as Error).message}`);
  }
  return problems;
}

/** The frozen schemas in schemas/history/, by file name (e.g. 'change-event.v1.avsc'). */
export function historySchemas(): Map<string, object> {
  const names = readdirSync(new URL('history/', schemasDir))
    .filter((f) => f.endsWith('.avsc'))
    .sort();
  return new Map(names.map((f) => [f, readSchemaFile(`history/${f}`)]));
}
