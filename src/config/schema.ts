// The pipeline config: one declared schema (types, defaults, descriptions) turned into one typed
// object at start-up. Secrets are never in the file: `*Env` fields name environment variables,
// `*File` fields files (certificates, keys, passwords); both are read by secrets.ts.
import { z } from 'zod';

/** Postgres identifiers vecrelay creates (slot names are stricter: lower case, digits, _). */
const slotName = z
  .string()
  .regex(/^[a-z0-9_]{1,63}$/, 'a replication slot name: 1–63 of lower-case letters, digits and _');
const identifier = z.string().min(1).max(63);
const qualifiedTable = z
  .string()
  .regex(/^[^.\s]+\.[^.\s]+$/, 'a schema-qualified table name such as public.items');

const KiB = 1024;
const MiB = 1024 * KiB;

const filePath = z.string().min(1);

/** Postgres TLS, with libpq's sslmode names (src/config/secrets.ts says what each one checks). */
export const postgresSslSchema = z
  .object({
    mode: z
      .enum(['disable', 'prefer', 'require', 'verify-ca', 'verify-full'])
      .default('verify-full')
      .describe("libpq's sslmode; verify-full checks the CA and the host name"),
    caFile: filePath.optional().describe("PEM file of the CA that signed the server's certificate"),
    certFile: filePath.optional().describe('PEM client certificate, for certificate authentication'),
    keyFile: filePath.optional().describe('PEM private key of certFile'),
  })
  .strict();

/** Kafka TLS: true = the system's CAs; or an object naming PEM files. */
export const kafkaSslSchema = z.union([
  z.boolean(),
  z
    .object({
      caFile: filePath.optional().describe("PEM file of the CA that signed the brokers' certificates"),
      certFile: filePath.optional().describe('PEM client certificate (mutual TLS)'),
      keyFile: filePath.optional().describe('PEM private key of certFile'),
    })
    .strict(),
]);

export const kafkaSaslSchema = z
  .object({
    mechanism: z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']),
    username: z.string().min(1),
    passwordEnv: z.string().min(1).optional().describe('environment variable holding the password'),
    passwordFile: filePath.optional().describe('file holding the password (one trailing newline ignored)'),
  })
  .strict();

export const tableSchema = z
  .object({
    table: qualifiedTable.describe('schema.table to capture'),
    key: z.array(z.string().min(1)).min(1).optional().describe('key columns; default: the primary key'),
    vectors: z
      .array(z.string().min(1))
      .optional()
      .describe('vector columns; default: every vector/halfvec/sparsevec column'),
    payload: z.array(z.string().min(1)).optional().describe('payload columns; default: every other column'),
    unchangedColumns: z
      .enum(['reselect', 'partial'])
      .optional()
      .describe(
        'columns an UPDATE leaves unsent (unchanged TOAST): reselect (default) = read them back by key so every event is the whole row; partial = send the event without them (cannot rebuild a row after compaction). REPLICA IDENTITY FULL tables take them from the old row either way',
      ),
    collection: z
      .string()
      .regex(/^[a-zA-Z0-9_.-]{1,255}$/, 'letters, digits, _ . -')
      .optional()
      .describe('Qdrant collection; default: the table name (schema_table outside public)'),
    distance: z
      .enum(['Cosine', 'Euclid', 'Dot', 'Manhattan'])
      .optional()
      .describe('overrides the distance implied by the pgvector index'),
    payloadIndexes: z
      .array(
        z
          .object({
            field: z.string().min(1),
            schema: z.enum(['keyword', 'integer', 'float', 'bool', 'geo', 'datetime', 'text', 'uuid']),
          })
          .strict(),
      )
      .optional()
      .describe('payload indexes to create with the collection'),
  })
  .strict();

// `snapshot: initial` (the mode alone) or the whole section.
const snapshotSchema = z.preprocess(
  (value) => (typeof value === 'string' ? { mode: value } : value),
  z
    .object({
      mode: z
        .enum(['initial', 'never', 'initial_only'])
        .default('initial')
        .describe(
          'initial: snapshot, then stream; never: stream only; initial_only: snapshot, then stop and drop the slot',
        ),
      parallelism: z
        .number()
        .int()
        .min(1)
        .max(16)
        .default(2)
        .describe('chunks read at once: several tables, or key ranges of one'),
      chunkRows: z.number().int().min(1).max(1_000_000).default(10_000).describe('rows per chunk, at most'),
      chunkBytes: z
        .number()
        .int()
        .min(64 * KiB)
        .default(8 * MiB)
        .describe('bytes per chunk, about: bounds memory with wide rows'),
    })
    .strict()
    .prefault({}),
);

export const configSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-zA-Z0-9_.-]+$/, 'letters, digits, _ . -')
      .describe('pipeline name: consumer group and point-id namespace'),
    postgres: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(1).max(65535).default(5432),
        database: z.string().min(1),
        user: z.string().min(1),
        passwordEnv: z.string().optional().describe('environment variable holding the password'),
        passwordFile: filePath
          .optional()
          .describe('file holding the password (one trailing newline ignored); instead of passwordEnv'),
        ssl: postgresSslSchema.optional().describe('TLS for every Postgres connection; absent: no TLS'),
        slot: slotName,
        publication: identifier,
      })
      .strict(),
    kafka: z
      .object({
        brokers: z.array(z.string().regex(/^[^:\s]+:\d+$/, 'host:port')).min(1),
        topicPrefix: z
          .string()
          .regex(/^[a-zA-Z0-9._-]+$/, 'letters, digits, . _ -')
          .default('vecrelay'),
        partitions: z.number().int().min(1).max(10_000).default(6),
        replicationFactor: z.number().int().min(-1).default(-1).describe('-1: the broker default'),
        deleteRetentionMs: z
          .number()
          .int()
          .min(0)
          .default(86_400_000)
          .describe(
            "change topics' delete.retention.ms: how long a delete's tombstone stays readable after compaction; a sink lagging longer must re-sync",
          ),
        minCompactionLagMs: z
          .number()
          .int()
          .min(0)
          .default(3_600_000)
          .describe(
            "change topics' min.compaction.lag.ms: every event stays readable as written for at least this long",
          ),
        clientId: z.string().default('vecrelay'),
        ssl: kafkaSslSchema.optional().describe('TLS to the brokers; absent: plaintext'),
        sasl: kafkaSaslSchema.optional().describe('SASL authentication to the brokers'),
      })
      .strict(),
    qdrant: z
      .object({
        url: z
          .string()
          .url()
          .describe('REST address (port 6333): collections, aliases, and writes when transport is rest'),
        transport: z
          .enum(['grpc', 'rest'])
          .default('grpc')
          .describe(
            'how the sink writes points: grpc (grpcUrl, port 6334; 2.4x the rows/s of rest at 0.7x its CPU per row, bench/sink.ts) or rest (url, port 6333)',
          ),
        grpcUrl: z
          .string()
          .url()
          .optional()
          .describe("gRPC address (port 6334); default: url's scheme and host with port 6334"),
        apiKeyEnv: z.string().optional().describe('environment variable holding the API key'),
        collectionPrefix: z.string().default(''),
        caFile: z
          .string()
          .optional()
          .describe(
            "PEM CA bundle that signed Qdrant's certificate (https url); trusted besides the system CAs",
          ),
        bulkLoad: z
          .boolean()
          .default(true)
          .describe(
            "a collection created while its table's initial snapshot runs defers HNSW construction (m: 0) until the snapshot is done (Qdrant ≥ 1.16)",
          ),
      })
      .strict()
      .optional(),
    sink: z
      .object({
        groupId: z.string().optional().describe('consumer group; default vecrelay-<name>'),
        batchSize: z.number().int().min(1).max(10_000).default(256).describe('points per Qdrant request'),
        requestMaxBytes: z
          .number()
          .int()
          .min(KiB)
          .default(16 * MiB)
          .describe("under Qdrant's 32 MB limit"),
        partitionsConsumedConcurrently: z.number().int().min(1).default(3),
        retryMaxMs: z.number().int().min(100).default(30_000),
        sessionTimeoutMs: z
          .number()
          .int()
          .min(6_000)
          .default(30_000)
          .describe('how long a dead sink process keeps its partitions before the group moves them'),
      })
      .strict()
      .prefault({}),
    tables: z.array(tableSchema).min(1),
    snapshot: snapshotSchema,
    source: z
      .object({
        heartbeatIntervalMs: z.number().int().min(100).default(10_000),
        maxInFlightBytes: z
          .number()
          .int()
          .min(MiB)
          .default(16 * MiB)
          .describe('queued or unacknowledged bytes'),
        batchMaxBytes: z
          .number()
          .int()
          .min(16 * KiB)
          .default(900_000)
          .describe('per partition, under message.max.bytes'),
        requestMaxBytes: z
          .number()
          .int()
          .min(16 * KiB)
          .default(4 * MiB)
          .describe('per produce request'),
        producers: z
          .number()
          .int()
          .min(1)
          .max(16)
          .default(2)
          .describe('idempotent producers sharing the partitions, one request in flight each'),
        slotBusyRetries: z.number().int().min(0).default(10),
      })
      .strict()
      // prefault: an absent section is parsed as {}, so the fields' own defaults apply.
      .prefault({}),
    metrics: z
      .object({
        port: z.number().int().min(0).max(65535),
        host: z
          .string()
          .min(1)
          .default('127.0.0.1')
          .describe('address the metrics server listens on: loopback by default, 0.0.0.0 for all interfaces'),
      })
      .strict()
      .optional(),
  })
  .strict();

export type PipelineConfig = z.infer<typeof configSchema>;
export type TableConfig = z.infer<typeof tableSchema>;
