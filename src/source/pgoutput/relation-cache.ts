// Keeps the Relation and Type messages of one replication session, so that each row can be read
// against its table's current columns and each column's type resolved to a name.
// - A Relation message replaces the earlier one for the same OID: pgoutput resends it after any
//   schema change (ALTER TABLE) and at the start of every session, before the table's first row.
// - Builtin types (OID below 10000) are never announced; their names come from BUILTIN_TYPES.
//   Other types (extensions such as vector, halfvec, sparsevec, whose OIDs differ per database;
//   domains; enums) are announced by a Type message sent right before the Relation that uses them.
import type {
  PgoutputMessage,
  RelationColumn,
  RelationMessage,
  ReplicaIdentity,
  TypeMessage,
} from './messages.js';

/** pg_type.typname of the builtin types vecrelay decodes (arrays are '_' + element), plus a few names for errors. */
export const BUILTIN_TYPES: ReadonlyMap<number, string> = new Map([
  [16, 'bool'],
  [17, 'bytea'],
  [18, 'char'],
  [19, 'name'],
  [20, 'int8'],
  [21, 'int2'],
  [23, 'int4'],
  [25, 'text'],
  [26, 'oid'],
  [114, 'json'],
  [700, 'float4'],
  [701, 'float8'],
  [1042, 'bpchar'],
  [1043, 'varchar'],
  [1082, 'date'],
  [1114, 'timestamp'],
  [1184, 'timestamptz'],
  [1700, 'numeric'],
  [2950, 'uuid'],
  [3802, 'jsonb'],
  [1000, '_bool'],
  [1005, '_int2'],
  [1007, '_int4'],
  [1016, '_int8'],
  [1021, '_float4'],
  [1022, '_float8'],
  [1231, '_numeric'],
  [1009, '_text'],
  [1014, '_bpchar'],
  [1015, '_varchar'],
  // Not decoded (text → string, binary → error), named so that errors say what the column is.
  [142, 'xml'],
  [869, 'inet'],
  [650, 'cidr'],
  [790, 'money'],
  [1083, 'time'],
  [1186, 'interval'],
  [1266, 'timetz'],
  [1560, 'bit'],
  [1562, 'varbit'],
  [3614, 'tsvector'],
]);

export interface ResolvedColumn extends RelationColumn {
  /** pg_type.typname: 'int4', '_float4', 'vector'…; `oid:NNN` when the type was never announced. */
  typeName: string;
  /** The type's schema: 'pg_catalog' for builtins, the Type message's schema otherwise. */
  typeSchema: string;
}

export interface ResolvedRelation {
  oid: number;
  schema: string;
  name: string;
  replicaIdentity: ReplicaIdentity;
  columns: ResolvedColumn[];
  /** Names of the replica identity columns, in column order. */
  keyColumns: string[];
}

export class RelationCache {
  private readonly relations = new Map<number, ResolvedRelation>();
  private readonly types = new Map<number, { schema: string; name: string }>();

  /** Records Type and Relation messages; returns true when `msg` was one of them. */
  apply(msg: PgoutputMessage): boolean {
    if (msg.tag === 'type') this.addType(msg);
    else if (msg.tag === 'relation') this.addRelation(msg);
    else return false;
    return true;
  }

  addType(msg: TypeMessage): void {
    this.types.set(msg.oid, { schema: msg.schema || 'pg_catalog', name: msg.name });
  }

  addRelation(msg: RelationMessage): ResolvedRelation {
    const columns = msg.columns.map((c): ResolvedColumn => {
      const announced = this.types.get(c.typeOid);
      if (announced) return { ...c, typeName: announced.name, typeSchema: announced.schema };
      const builtin = BUILTIN_TYPES.get(c.typeOid);
      return { ...c, typeName: builtin ?? `oid:${c.typeOid}`, typeSchema: 'pg_catalog' };
    });
    const relation: ResolvedRelation = {
      oid: msg.oid,
      schema: msg.schema || 'pg_catalog',
      name: msg.name,
      replicaIdentity: msg.replicaIdentity,
      columns,
      keyColumns: columns.filter((c) => c.isKey).map((c) => c.name),
    };
    this.relations.set(msg.oid, relation);
    return relation;
  }

  get(oid: number): ResolvedRelation | undefined {
    return this.relations.get(oid);
  }

  /** The relation for a row message; pgoutput always sends it first, so a miss is a protocol error. */
  require(oid: number): ResolvedRelation {
    const relation = this.relations.get(oid);
    if (!relation)
      throw new Error(`pgoutput: row for relation OID ${oid} arrived before its Relation message`);
    return relation;
  }

  typeName(oid: number): string | undefined {
    return this.types.get(oid)?.name ?? BUILTIN_TYPES.get(oid);
  }

  clear(): void {
    this.relations.clear();
    this.types.clear();
  }
}
