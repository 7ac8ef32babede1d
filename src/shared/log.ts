// One root pino logger; components take a child ({component, table}) passed in by their owner.
// Secrets never reach the logs: connection strings and passwords are redacted wherever they appear.
import { destination, pino, stdSerializers, type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'password',
  '*.password',
  '*.*.password',
  'connectionString',
  '*.connectionString',
  'apiKey',
  '*.apiKey',
  '*.*.apiKey',
  'sasl',
  '*.sasl',
];

export function createLogger(options: { level?: string; name?: string; stderr?: boolean } = {}): Logger {
  const stream = destination(options.stderr ? 2 : 1);
  return pino(
    {
      name: options.name ?? 'vecrelay',
      level: options.level ?? process.env.VECRELAY_LOG_LEVEL ?? 'info',
      redact: { paths: REDACT, censor: '[redacted]' },
      serializers: { err: stdSerializers.err },
    },
    stream,
  );
}

/** Removes the password from a libpq URL before it is printed anywhere. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1[redacted]@');
}
