// Keeping the server's collections across a restart (main.ts --state FILE), as a real Qdrant
// keeps its storage: written when the server stops, read when it starts. Test-only plumbing:
// ids, payloads and creation bodies go through the server's own JSON (integers stay exact),
// vectors as plain JSON numbers (float32 values round-trip through doubles exactly). Aliases are
// kept too, as Qdrant keeps them in its storage (aliases/data.json).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Collection, type Store } from './collections.js';
import { parseJson, stringify, type JsonObject, type JsonValue, type Out } from './json.js';
import type { Vector } from './vectors.js';

interface SavedPoint {
  id: string;
  payload: string;
  vectors: Array<[string, Vector]>;
}

interface SavedCollection {
  name: string;
  body: string;
  indexes: string;
  points: SavedPoint[];
}

export function saveState(store: Store, file: string): void {
  const collections: SavedCollection[] = store.names().map((name) => {
    const c = store.byName(name)!;
    return {
      name,
      body: stringify(c.createBody as Out),
      indexes: stringify([...c.payloadIndexes].map(([field, schema]) => [field, schema]) as Out),
      points: [...c.points.values()].map((p) => ({
        id: typeof p.id === 'bigint' ? `n:${p.id}` : `u:${p.id}`,
        payload: stringify(p.payload as Out),
        vectors: [...p.vectors],
      })),
    };
  });
  writeFileSync(`${file}.tmp`, JSON.stringify({ collections, aliases: store.aliases.entries() }));
  renameSync(`${file}.tmp`, file);
}

export function loadState(store: Store, file: string): void {
  if (!existsSync(file)) return;
  const { collections, aliases = [] } = JSON.parse(readFileSync(file, 'utf8')) as {
    collections: SavedCollection[];
    aliases?: Array<[string, string]>;
  };
  for (const saved of collections) {
    const c = Collection.create(saved.name, parseJson(saved.body));
    for (const [field, schema] of parseJson(saved.indexes) as Array<[string, JsonValue]>)
      c.payloadIndexes.set(field, schema);
    for (const p of saved.points)
      c.setPoint({
        id: p.id.startsWith('n:') ? BigInt(p.id.slice(2)) : p.id.slice(2),
        payload: parseJson(p.payload) as JsonObject,
        vectors: new Map(p.vectors),
        version: 0,
      });
    store.add(c);
  }
  for (const [alias, collection] of aliases) store.aliases.set(alias, collection);
}
