// The catalog's view of a table in the shape the stream's Relation messages have: snapshot rows
// are turned into events by the same RelationPlan and ChangeBuilder as streamed ones.
import type { ResolvedRelation } from '../pgoutput/index.js';
import type { TableInfo } from '../postgres/catalog.js';

export function relationFromCatalog(t: TableInfo): ResolvedRelation {
  const keys = new Set(t.key);
  return {
    oid: t.oid,
    schema: t.schema,
    name: t.table,
    replicaIdentity: t.replicaIdentity,
    columns: t.columns.map((c) => ({
      name: c.name,
      isKey: keys.has(c.name),
      typeOid: c.typeOid,
      typeMod: c.typeMod,
      typeName: c.udtName,
      typeSchema: 'pg_catalog',
    })),
    keyColumns: t.key,
  };
}
