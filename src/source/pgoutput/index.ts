// pgoutput protocol: messages, parser, relation cache, LSN text.
export * from './messages.js';
export {
  PgoutputParser,
  parsePgoutput,
  PG_EPOCH_OFFSET_MICROS,
  type PgoutputParserOptions,
} from './parser.js';
export {
  RelationCache,
  BUILTIN_TYPES,
  type ResolvedColumn,
  type ResolvedRelation,
} from './relation-cache.js';
export { formatLsn, parseLsn } from './lsn.js';
