// What a config keeps out of its own text: passwords from `*Env` variables or `*File` files, and
// the TLS material (CA, client certificate and key) its `*File` fields name. Read once at start-up,
// so a missing file stops the process before it connects anywhere, naming the field (the
// Postgres password file is also read again at each connection: rereadPasswordFile). The values
// live only in LoadedConfig's secret fields (postgresSsl, kafkaSecurity...), which nothing logs.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls, { type ConnectionOptions } from 'node:tls';
import { ConfigError } from '../shared/errors.js';
import type { PipelineConfig } from './schema.js';

export interface KafkaSasl {
  mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  username: string;
  password: string;
}

/** How to reach the brokers; both clients (kafkajs, @platformatic/kafka) are built from it. */
export interface KafkaSecurity {
  /** TLS options for every broker connection; undefined: plaintext. */
  tls?: ConnectionOptions;
  sasl?: KafkaSasl;
}

export interface Secrets {
  /** From postgres.passwordFile; postgres.passwordEnv is read by load.ts. */
  postgresPasswordFromFile: string | undefined;
  /**
   * node-postgres' `ssl`: false for mode disable; undefined when postgres.ssl is absent (then
   * node-postgres reads PGSSLMODE, as before these settings existed).
   */
  postgresSsl: ConnectionOptions | false | undefined;
  kafkaSecurity: KafkaSecurity;
  /** qdrant.caFile's certificates (PEM, one per entry), checked; trusted by trustQdrantCa. */
  qdrantCa: string[] | undefined;
}

type Reader = (field: string, path: string) => string;

/**
 * Marks an object holding secrets so that it serialises as "[redacted]" (JSON.stringify, pino,
 * util.inspect) wherever it ends up in a log line, whatever the redaction paths say. The mark is
 * not enumerable: the clients that read the object, and copies made with `...`, do not see it.
 */
function hidden<T extends object>(value: T): T {
  const redacted = () => '[redacted]';
  Object.defineProperty(value, 'toJSON', { value: redacted, enumerable: false });
  Object.defineProperty(value, Symbol.for('nodejs.util.inspect.custom'), {
    value: redacted,
    enumerable: false,
  });
  return value;
}

function fileReader(configFile: string): Reader {
  return (field, path) => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `${configFile}: ${field}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}: ` +
          'give a readable file (mounted into the container, if in one)',
      );
    }
    if (text.trim() === '') throw new ConfigError(`${configFile}: ${field}: ${path} is empty`);
    return text;
  };
}

/** A password file's content: one trailing newline (echo pw > file) is not part of it. */
function readPassword(read: Reader, field: string, path: string): string {
  return read(field, path).replace(/\r?\n$/, '');
}

/**
 * postgres.passwordFile as node-postgres' `password`, read again for every new connection: a
 * password rotated in its file (a Kubernetes secret volume, a Vault agent's template) is used
 * from the next connection on, without a restart. While the file cannot be read or is empty (being
 * replaced), the password read at start-up.
 */
export function rereadPasswordFile(path: string, atStart: string | undefined): () => string {
  return () => {
    try {
      const text = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
      if (text.trim() !== '') return text;
    } catch {
      // the start-up password, below
    }
    return atStart ?? '';
  };
}

/** The client certificate and key, which come as a pair. */
function clientCertificate(
  read: Reader,
  configFile: string,
  section: string,
  opts: { certFile?: string; keyFile?: string },
): { cert?: string; key?: string } {
  if (Boolean(opts.certFile) !== Boolean(opts.keyFile))
    throw new ConfigError(
      `${configFile}: ${section}: certFile and keyFile come together (the client certificate and its key): set both or neither`,
    );
  if (!opts.certFile || !opts.keyFile) return {};
  return {
    cert: read(`${section}.certFile`, opts.certFile),
    key: read(`${section}.keyFile`, opts.keyFile),
  };
}

export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

/**
 * An sslmode as node-postgres' `ssl`, with libpq's meanings (`ca`, `cert`, `key`: PEM contents):
 * - disable: no TLS.
 * - prefer, require: TLS, the server's certificate is not checked. libpq's `prefer` falls back to
 *   an unencrypted connection when the server has no TLS; node-postgres cannot, so here `prefer`
 *   fails against such a server with a message saying to set mode: disable.
 * - require with a CA: like verify-ca (as libpq does when a root certificate is present).
 * - verify-ca: the certificate must chain to the CA (or, without one, to the system's CAs); the
 *   host name is not checked.
 * - verify-full: verify-ca, and the host name must match the certificate.
 */
export function pgSslOptions(
  mode: SslMode,
  pem: { ca?: string; cert?: string; key?: string },
): ConnectionOptions | false {
  if (mode === 'disable') return false;
  const client = pem.cert && pem.key ? { cert: pem.cert, key: pem.key } : {};
  const ca = pem.ca ? { ca: pem.ca } : {};
  if (mode === 'prefer' || (mode === 'require' && !pem.ca)) return { rejectUnauthorized: false, ...client };
  if (mode === 'verify-full') return { rejectUnauthorized: true, ...ca, ...client };
  // verify-ca (or require with a CA): the chain is checked, the name is not.
  return { rejectUnauthorized: true, checkServerIdentity: () => undefined, ...ca, ...client };
}

/** postgres.ssl, its files read. */
function postgresTls(
  config: PipelineConfig,
  read: Reader,
  configFile: string,
): ConnectionOptions | false | undefined {
  const ssl = config.postgres.ssl;
  if (!ssl) return undefined;
  if (ssl.mode === 'disable') return false;
  return hiddenIfObject(
    pgSslOptions(ssl.mode, {
      ...clientCertificate(read, configFile, 'postgres.ssl', ssl),
      ...(ssl.caFile ? { ca: read('postgres.ssl.caFile', ssl.caFile) } : {}),
    }),
  );
}

function hiddenIfObject<T>(value: T): T {
  return typeof value === 'object' && value !== null ? hidden(value) : value;
}

function kafkaSecurity(
  config: PipelineConfig,
  read: Reader,
  configFile: string,
  env: NodeJS.ProcessEnv,
): KafkaSecurity {
  const { ssl, sasl } = config.kafka;
  const security: KafkaSecurity = {};
  if (ssl === true) security.tls = {};
  else if (ssl) {
    security.tls = hidden({
      ...(ssl.caFile ? { ca: read('kafka.ssl.caFile', ssl.caFile) } : {}),
      ...clientCertificate(read, configFile, 'kafka.ssl', ssl),
    });
  }
  if (sasl) {
    if (Boolean(sasl.passwordEnv) === Boolean(sasl.passwordFile))
      throw new ConfigError(
        `${configFile}: kafka.sasl: give the password in exactly one of passwordEnv (an environment variable) or passwordFile`,
      );
    let password: string;
    if (sasl.passwordEnv) {
      const value = env[sasl.passwordEnv];
      if (value === undefined)
        throw new ConfigError(
          `${configFile}: kafka.sasl.passwordEnv names ${sasl.passwordEnv}, which is not set: export ${sasl.passwordEnv}=... before starting`,
        );
      password = value;
    } else password = readPassword(read, 'kafka.sasl.passwordFile', sasl.passwordFile!);
    security.sasl = hidden({ mechanism: sasl.mechanism, username: sasl.username, password });
  }
  return hidden(security);
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * qdrant.caFile: a PEM bundle of one or more CA certificates, each checked here, so a wrong file
 * (a key, DER, a truncated copy) is named at start-up rather than surfacing as an untrusted
 * server certificate later.
 */
function qdrantCa(config: PipelineConfig, read: Reader, configFile: string): string[] | undefined {
  const caFile = config.qdrant?.caFile;
  if (!caFile) return undefined;
  const text = read('qdrant.caFile', caFile);
  const pems = text.match(PEM_CERTIFICATE) ?? [];
  const bad = (why: string) =>
    new ConfigError(
      `${configFile}: qdrant.caFile: ${caFile}${why}: give the PEM file (-----BEGIN CERTIFICATE-----) of the CA that signed Qdrant's certificate`,
    );
  if (pems.length === 0) throw bad(' holds no PEM certificate');
  for (const [i, pem] of pems.entries()) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw bad(`: certificate ${i + 1} of ${pems.length} cannot be read (${(err as Error).message})`);
    }
  }
  return pems;
}

/**
 * Trusts qdrant.caFile's certificates, besides the CAs Node trusts by default, for every TLS
 * connection made from now on. Process-wide on purpose: vecrelay talks to Qdrant through three
 * clients — node:https (the sink's writes), @qdrant/js-client-rest (its own undici dispatcher,
 * which takes no CA option) and the global fetch (plan, preflight, status) — and all three verify
 * against Node's default CA store. Called once at start-up (loadConfig), not by parseConfig, so
 * parsing a config (tests, tools) changes nothing global. Kafka and PostgreSQL connections with
 * their own `ca` are unaffected; those without one would trust this CA too, which only widens
 * trust to a CA the operator named.
 */
export function trustQdrantCa(pems: string[] | undefined, configFile: string): void {
  if (!pems?.length) return;
  // Node re-encodes the certificates it returns: compare them by fingerprint, not by text.
  const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
  const current = tls.getCACertificates('default');
  const have = new Set(current.map(fingerprint));
  const missing = pems.filter((pem) => !have.has(fingerprint(pem)));
  if (!missing.length) return;
  try {
    tls.setDefaultCACertificates([...current, ...missing]);
  } catch (err) {
    throw new ConfigError(
      `${configFile}: qdrant.caFile: Node refused its certificates (${(err as Error).message}): give the PEM file of the CA that signed Qdrant's certificate`,
    );
  }
}

export function readSecrets(config: PipelineConfig, configFile: string, env: NodeJS.ProcessEnv): Secrets {
  const read = fileReader(configFile);
  const { passwordEnv, passwordFile } = config.postgres;
  if (passwordEnv && passwordFile)
    throw new ConfigError(
      `${configFile}: postgres: passwordEnv and passwordFile are both set: keep the one that holds the password`,
    );
  return {
    postgresPasswordFromFile: passwordFile
      ? readPassword(read, 'postgres.passwordFile', passwordFile)
      : undefined,
    postgresSsl: postgresTls(config, read, configFile),
    kafkaSecurity: kafkaSecurity(config, read, configFile, env),
    qdrantCa: qdrantCa(config, read, configFile),
  };
}
