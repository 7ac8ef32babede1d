// CLI: node --import tsx test/qdrant-server/main.ts [--port 6333] [--host 127.0.0.1]
// Prints "qdrant-test-server listening on http://HOST:PORT" once ready; exits on SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import { startQdrantTestServer } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '6333' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`qdrant-test-server: invalid --port ${values.port}`);
  process.exit(2);
}

const server = await startQdrantTestServer({ host: values.host, port });
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
