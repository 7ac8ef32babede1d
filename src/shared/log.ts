// One root pino logger; components take a child passed in by their owner. The commands bind
// `stage` (source, sink) and the stages bind `component` (kafka, stream, writer, ...) beneath it,
// so no line carries a key twice (pino appends a child's bindings to its parent's, it does not
// replace them).
// Secrets never reach the logs: connection strings and passwords are redacted wherever they appear.
//
// Format: JSON lines (for a log collector) unless the destination is a terminal, where pino's own
// pretty printer (pino-pretty) writes one readable line per entry. VECRELAY_LOG_FORMAT=json|pretty
// overrides the choice.
import { isatty } from 'node:tty';
import { destination, pino, stdSerializers, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

// pino's paths name keys at a fixed depth ('*' is one level). They cover the config as loaded
// (config/load.ts) logged whole or under one key, node-postgres' client config (password, ssl.key)
// and the Kafka settings (security.sasl, security.tls.key) under one or two keys. The objects
// that hold TLS keys and SASL passwords also redact themselves (config/secrets.ts `hidden`).
const REDACT = [
  'password',
  '*.password',
  '*.*.password',
  'postgresPassword',
  '*.postgresPassword',
  'qdrantApiKey',
  '*.qdrantApiKey',
  'connectionString',
  '*.connectionString',
  'apiKey',
  '*.apiKey',
  '*.*.apiKey',
  'sasl',
  '*.sasl',
  '*.*.sasl',
  'ssl.key',
  '*.ssl.key',
  '*.*.ssl.key',
  'tls.key',
  '*.tls.key',
  '*.*.tls.key',
  'postgresSsl.key',
  '*.postgresSsl.key',
];

export type LogFormat = 'json' | 'pretty';

/** The format for file descriptor `fd`: VECRELAY_LOG_FORMAT when set, else pretty on a terminal. */
export function logFormat(fd: number, env: NodeJS.ProcessEnv = process.env): LogFormat {
  const wanted = env.VECRELAY_LOG_FORMAT?.toLowerCase();
  if (wanted === 'json' || wanted === 'pretty') return wanted;
  return isatty(fd) ? 'pretty' : 'json';
}

interface Entry {
  msg?: string;
  level?: number;
  stage?: string;
  component?: string;
  err?: { type?: string; message?: string; stack?: string };
}

/** `HH:MM:ss.l LEVEL stage/component: message (error)`, the rest of the object after it. */
function prettyMessage(entry: Record<string, unknown>): string {
  const e = entry as Entry;
  const where = [e.stage, e.component].filter(Boolean).join('/');
  let line = `${where ? `${where}: ` : ''}${e.msg ?? ''}`;
  const err = e.err;
  if (err?.message && !line.includes(err.message)) line += ` (${err.message})`;
  // An error-level entry is unexpected: its stack is worth the lines it takes.
  if (err?.stack && (e.level ?? 0) >= 50) line += `\n${err.stack.replace(/^/gm, '    ')}`;
  return line;
}

function prettyStream(fd: number): DestinationStream {
  return pretty({
    destination: fd,
    sync: true,
    colorize: isatty(fd) && !process.env.NO_COLOR,
    translateTime: 'SYS:HH:MM:ss.l',
    singleLine: true,
    // Said once by the command, or by kafkajs on its own lines (its level, its name, its clock).
    ignore: 'pid,hostname,name,stage,component,err,pipeline,kafka,logger,timestamp',
    messageFormat: prettyMessage,
  });
}

export function createLogger(
  options: { level?: string; name?: string; stderr?: boolean; stream?: DestinationStream } = {},
): Logger {
  const fd = options.stderr ? 2 : 1;
  return pino(
    {
      name: options.name ?? 'vecrelay',
      level: options.level ?? process.env.VECRELAY_LOG_LEVEL ?? 'info',
      redact: { paths: REDACT, censor: '[redacted]' },
      serializers: { err: stdSerializers.err },
    },
    options.stream ?? (logFormat(fd) === 'pretty' ? prettyStream(fd) : destination({ fd, sync: true })),
  );
}

/** Removes the password from a libpq URL before it is printed anywhere. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1[redacted]@');
}
