// Connection failures that come from postgres.ssl (or its absence): retrying cannot fix them, so
// each becomes a ConfigError naming the field and the fix. Anything else is left to the caller.
import type { LoadedConfig } from '../../config/load.js';
import { ConfigError, messageOf } from '../../shared/errors.js';
import { UNTRUSTED_CERT_CODES as UNTRUSTED } from '../../shared/tls-codes.js';

export function tlsConnectProblem(err: unknown, config: LoadedConfig): ConfigError | undefined {
  const { host, port, ssl } = config.postgres;
  const where = `${config.file}: postgres.ssl: PostgreSQL at ${host}:${port}`;
  const mode = ssl?.mode ?? 'not set';
  const code = (err as { code?: unknown }).code;
  const message = messageOf(err);
  const problem = (text: string) => new ConfigError(`${where} ${text}`, { cause: err });

  // pg_hba.conf has only `hostssl` lines for us (RDS rds.force_ssl, for one).
  if (code === '28000' && /no encryption/.test(message))
    return problem(
      `accepts only TLS connections (${message}), and postgres.ssl.mode is ${mode}: ` +
        "set postgres.ssl (mode: verify-full, caFile: the CA that signed the server's certificate)",
    );
  if (code === '28000' && /SSL encryption/.test(message))
    return problem(`accepts no TLS connection for this user (${message}): set postgres.ssl.mode: disable`);
  if (/server does not support SSL/.test(message))
    return problem(
      `does not offer TLS (postgres.ssl.mode is ${mode}): turn ssl on in the server's postgresql.conf, or set postgres.ssl.mode: disable`,
    );
  if (typeof code === 'string' && UNTRUSTED.has(code))
    return problem(
      `sent a certificate that does not verify (${message}) against ${ssl?.caFile ?? "the system's CAs"}: ` +
        "set postgres.ssl.caFile to the CA that signed the server's certificate",
    );
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return problem(
      `sent a certificate for another name (${message}): set postgres.host to a name the certificate lists, ` +
        'or postgres.ssl.mode: verify-ca to check only the CA',
    );
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return problem(
      `sent a certificate outside its validity period (${message}): renew the server's certificate`,
    );
  if (code === '28000' && /certificate/.test(message))
    return problem(
      `refused the client certificate (${message}): set postgres.ssl.certFile and keyFile to a certificate for user ${config.postgres.user}`,
    );
  if (typeof code === 'string' && (code.startsWith('ERR_OSSL') || code.startsWith('ERR_SSL')))
    return problem(`could not be reached over TLS (${message}): check postgres.ssl's files and mode`);
  return undefined;
}
