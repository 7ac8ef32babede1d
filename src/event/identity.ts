// Which pipeline a set of topics belongs to. Two pipelines that share kafka.topicPrefix share
// `<prefix>._tables` and, for a table of the same name, its change topic: their events would mix
// silently. So the source records its identity with its topics (in each table's descriptor and in
// its state topic) and refuses to start on topics another pipeline recorded (src/kafka/owners.ts).
//
// The identity is the database cluster's system identifier (pg_control_system(): fixed at initdb,
// kept by physical replicas and restored base backups — the same data), the database name and the
// pipeline name.

export interface PipelineIdentity {
  /** pg_control_system().system_identifier, as text (a 64-bit number). */
  systemId: string;
  database: string;
  pipeline: string;
}

export function sameIdentity(a: PipelineIdentity, b: PipelineIdentity): boolean {
  return a.systemId === b.systemId && a.database === b.database && a.pipeline === b.pipeline;
}

/** `pipeline "p" on database "db" (system 7714…)`, for error messages. */
export function describeIdentity(i: PipelineIdentity): string {
  return `pipeline "${i.pipeline}" on database "${i.database}" (PostgreSQL system ${i.systemId})`;
}
