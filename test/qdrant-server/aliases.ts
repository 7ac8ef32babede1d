// Collection aliases, as Qdrant 1.19 keeps them (lib/storage/src/content_manager/alias_mapping.rs,
// toc/collection_meta_ops.rs update_aliases, toc/mod.rs resolve_name):
//
// - an alias maps to a collection; a name is looked up as an alias first, then as a collection,
//   wherever a collection is addressed (info, exists, PATCH, points, reads, writes, indexes) —
//   but DELETE /collections/{name} deletes only a collection of that name (an alias: `false`);
// - POST /collections/aliases {actions: [...]} runs its actions in order under one lock (no read
//   sees a half-applied list), but an action that fails ends the request with the ones before it
//   kept: Qdrant saves the mapping after each action;
// - create_alias: the collection must exist (404 "Not found: Collection `c` doesn't exist!"; an
//   alias is not a collection) and the alias must not be a collection's name (409 "Wrong input:
//   Collection `a` already exists!"); an existing alias of that name is re-pointed, no error;
// - delete_alias of an alias that does not exist: nothing, no error;
// - rename_alias of one that does not exist: 404 "Not found: Alias a does not exists!"; the new
//   name is not checked against collections;
// - deleting a collection deletes its aliases; a collection cannot be created under an alias's
//   name (400 "Wrong input: Can't create collection with name a. Alias with the same name already
//   exists").
import { formatError, notFound } from './errors.js';
import { isObject, type JsonObject, type JsonValue } from './json.js';

export type AliasAction =
  | { kind: 'create'; collection: string; alias: string }
  | { kind: 'delete'; alias: string }
  | { kind: 'rename'; from: string; to: string };

/** What the store must answer for create_alias (collections.ts Store). */
export interface AliasHost {
  validateCollectionExists(name: string): void;
  validateCollectionNotExists(name: string): void;
}

const UNTAGGED = 'data did not match any variant of untagged enum AliasOperations';

/** The fields of `op[key]` as strings, or undefined when it is not that variant (serde untagged). */
function variant(op: JsonObject, key: string, fields: string[]): string[] | undefined {
  const inner = op[key];
  if (!isObject(inner)) return undefined;
  const values = fields.map((f) => inner[f]);
  return values.every((v) => typeof v === 'string') ? (values as string[]) : undefined;
}

/** Parses a ChangeAliasesOperation body; a body that does not deserialise is a 400, nothing applied. */
export function parseAliasActions(body: JsonValue | undefined): AliasAction[] {
  if (!isObject(body)) throw formatError('invalid type: expected struct ChangeAliasesOperation');
  const actions = body.actions;
  if (actions === undefined) throw formatError('missing field `actions`');
  if (!Array.isArray(actions)) throw formatError('invalid type: expected a sequence');
  return actions.map((op): AliasAction => {
    if (isObject(op)) {
      const create = variant(op, 'create_alias', ['collection_name', 'alias_name']);
      if (create) return { kind: 'create', collection: create[0]!, alias: create[1]! };
      const del = variant(op, 'delete_alias', ['alias_name']);
      if (del) return { kind: 'delete', alias: del[0]! };
      const rename = variant(op, 'rename_alias', ['old_alias_name', 'new_alias_name']);
      if (rename) return { kind: 'rename', from: rename[0]!, to: rename[1]! };
    }
    throw formatError(UNTAGGED);
  });
}

export class Aliases {
  private readonly map = new Map<string, string>();

  /** The collection an alias points at, or undefined. */
  target(alias: string): string | undefined {
    return this.map.get(alias);
  }

  has(alias: string): boolean {
    return this.map.has(alias);
  }

  /** Runs the actions in order; the first that fails throws, those before it stay applied. */
  apply(actions: AliasAction[], host: AliasHost): void {
    for (const a of actions) {
      if (a.kind === 'create') {
        host.validateCollectionExists(a.collection);
        host.validateCollectionNotExists(a.alias);
        this.map.set(a.alias, a.collection);
      } else if (a.kind === 'delete') {
        this.map.delete(a.alias);
      } else {
        const target = this.map.get(a.from);
        if (target === undefined) throw notFound(`Alias ${a.from} does not exists!`);
        this.map.delete(a.from);
        this.map.set(a.to, target);
      }
    }
  }

  /** Drops every alias of a deleted collection. */
  removeCollection(collection: string): void {
    for (const [alias, target] of this.map) if (target === collection) this.map.delete(alias);
  }

  /** The aliases of one collection (by its own name: an alias's aliases are none). */
  of(collection: string): string[] {
    return [...this.map].filter(([, target]) => target === collection).map(([alias]) => alias);
  }

  /** Every alias: [alias, collection]. */
  entries(): Array<[string, string]> {
    return [...this.map];
  }

  set(alias: string, collection: string): void {
    this.map.set(alias, collection);
  }

  clear(): void {
    this.map.clear();
  }
}
