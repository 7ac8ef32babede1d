// CLI: node --import tsx test/qdrant-server/main.ts [--port 6333] [--host 127.0.0.1]
//        [--api-key KEY] [--read-only-api-key KEY] [--state FILE] [--version X.Y.Z]
//        [--tls-cert FILE --tls-key FILE] [--optimized-segments] [--grpc-port 6334]
// The keys may also come from QDRANT__SERVICE__API_KEY / QDRANT__SERVICE__READ_ONLY_API_KEY, as
// for Qdrant; --state keeps the collections across a restart (written on SIGTERM/SIGINT);
// --tls-cert and --tls-key (PEM) serve https, as Qdrant's service.enable_tls with tls.cert/tls.key.
// --grpc-port (or QDRANT__SERVICE__GRPC_PORT, as for Qdrant) serves Qdrant's gRPC API there too
// (0: a free port; TLS too with --tls-cert / --tls-key). Prints "qdrant-test-server grpc on
// http://HOST:GRPC_PORT" (when serving gRPC), then "qdrant-test-server listening on
// http://HOST:PORT" once ready; exits on SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startQdrantTestServer } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '6333' },
    host: { type: 'string', default: '127.0.0.1' },
    'api-key': { type: 'string' },
    'read-only-api-key': { type: 'string' },
    state: { type: 'string' },
    version: { type: 'string' },
    'optimized-segments': { type: 'boolean' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'grpc-port': { type: 'string' },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`qdrant-test-server: invalid --port ${values.port}`);
  process.exit(2);
}

const grpcPortText = values['grpc-port'] ?? process.env.QDRANT__SERVICE__GRPC_PORT;
const grpcPort = grpcPortText === undefined || grpcPortText === '' ? undefined : Number(grpcPortText);
if (grpcPort !== undefined && (!Number.isInteger(grpcPort) || grpcPort < 0 || grpcPort > 65535)) {
  console.error(`qdrant-test-server: invalid --grpc-port ${grpcPortText}`);
  process.exit(2);
}

const certFile = values['tls-cert'];
const keyFile = values['tls-key'];
if (Boolean(certFile) !== Boolean(keyFile)) {
  console.error('qdrant-test-server: --tls-cert and --tls-key come together');
  process.exit(2);
}

const server = await startQdrantTestServer({
  host: values.host,
  port,
  apiKeys: {
    apiKey: values['api-key'] ?? process.env.QDRANT__SERVICE__API_KEY,
    readOnlyApiKey: values['read-only-api-key'] ?? process.env.QDRANT__SERVICE__READ_ONLY_API_KEY,
  },
  stateFile: values.state,
  version: values.version,
  optimizedSegments: values['optimized-segments'],
  tls:
    certFile && keyFile
      ? { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') }
      : undefined,
  grpcPort,
});
if (server.grpcUrl) console.log(`qdrant-test-server grpc on ${server.grpcUrl}`);
console.log(`qdrant-test-server listening on ${server.url}`);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  server.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`qdrant-test-server: error while stopping on ${signal}`, err);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
