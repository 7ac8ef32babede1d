// The test server's gRPC front over TLS (--tls-cert / --tls-key serve both ports with TLS, as
// Qdrant's service.enable_tls does for REST and gRPC alike): gRPC over h2 with ALPN, trusted
// through the CA a client is given. Qdrant's JS gRPC client has no CA option, so the client here
// is its service descriptor over connect-node's transport with `ca` (what a caller with a
// private CA does). Skipped against a real Qdrant.
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { makeTestCa } from '../helpers/tls-certs.js';
import { startQdrantTestServer } from '../qdrant-server/server.js';
import { Qdrant } from '../qdrant-server/grpc/services.js';
import { testServerOnly as skip } from './qdrant-helpers.js';

test(
  'with --tls-cert and --tls-key the gRPC port speaks TLS; a client trusting the CA gets answers',
  { skip },
  async (t) => {
    const ca = await makeTestCa();
    t.after(() => ca.remove());
    const { certFile, keyFile } = await ca.issue('qdrant', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1');
    const server = await startQdrantTestServer({
      grpcPort: 0,
      tls: { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') },
    });
    t.after(() => server.close());
    assert.match(server.grpcUrl!, /^https:\/\/127\.0\.0\.1:\d+$/);
    const client = (ca?: string) =>
      createClient(Qdrant, createGrpcTransport({ baseUrl: server.grpcUrl!, nodeOptions: ca ? { ca } : {} }));
    const health = await client(readFileSync(ca.caFile, 'utf8')).healthCheck({});
    assert.equal(health.title, 'qdrant - vector search engine');
    await assert.rejects(client().healthCheck({}), /certificate/i, 'an untrusted certificate is refused');
  },
);
