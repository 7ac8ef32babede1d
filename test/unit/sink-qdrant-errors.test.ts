// How the sink classifies Qdrant's answers (src/sink/qdrant/errors.ts) and which servers get
// conditional writes (src/sink/qdrant/output.ts), and which TLS failures stop it (tls-errors.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/shared/errors.js';
import { authError, faultOf, QdrantError } from '../../src/sink/qdrant/errors.js';
import { supportsConditional } from '../../src/sink/qdrant/output.js';
import { qdrantTlsError, qdrantTlsProblem } from '../../src/sink/qdrant/tls-errors.js';

const err = (status: number | null, message = 'x', retriable = status === null || status >= 500) =>
  new QdrantError(`Qdrant PUT /collections/c/points answered ${status}: ${message}`, status, retriable);

test('faults: transient, fatal (401/403), gone (missing collection), else the record', () => {
  assert.equal(faultOf(err(null)), 'transient');
  assert.equal(faultOf(err(503)), 'transient');
  assert.equal(faultOf(new QdrantError('429', 429, true, 1)), 'transient');
  assert.equal(faultOf(err(401, 'Invalid API key or JWT')), 'fatal');
  assert.equal(faultOf(err(403, 'Forbidden: Global manage access is required')), 'fatal');
  assert.equal(faultOf(err(404, "Not found: Collection `c` doesn't exist!")), 'gone');
  assert.equal(faultOf(err(404, 'Not found: No point with id 7 found')), 'record');
  assert.equal(faultOf(err(400, 'Wrong input: Vector dimension error: expected dim: 8, got 3')), 'record');
});

test('a refused key stops with a ConfigError naming qdrant.apiKeyEnv and its variable', () => {
  const e = authError(err(401, 'Invalid API key or JWT'), 'MY_KEY');
  assert.ok(e instanceof ConfigError);
  assert.match(e.message, /qdrant\.apiKeyEnv \(MY_KEY\)/);
  assert.match(authError(err(401, 'Must provide an API key'), undefined).message, /set qdrant\.apiKeyEnv/);
  assert.match(authError(err(403, 'Forbidden'), 'MY_KEY').message, /read-write key/);
});

test('conditional writes from Qdrant 1.16 on', () => {
  assert.equal(supportsConditional('1.15.5'), false);
  assert.equal(supportsConditional('1.16.0'), true);
  assert.equal(supportsConditional('1.19.0'), true);
  assert.equal(supportsConditional('2.0.0'), true);
  assert.equal(supportsConditional(''), false);
});

/** A TLS failure as fetch reports it ("fetch failed", Node's error as its cause) or wrapped by http.ts. */
const tlsFailure = (code: string, message = code) => {
  const cause = Object.assign(new Error(message), { code });
  return [
    new TypeError('fetch failed', { cause }),
    new QdrantError(`Qdrant GET /: ${message}`, null, true, null, cause),
  ];
};
const URL_ = 'https://qdrant.example:6333';

test('TLS: a certificate that does not verify names qdrant.caFile (and the file that did not sign it)', () => {
  for (const err of tlsFailure('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate')) {
    const problem = qdrantTlsProblem(err, { url: URL_, caFile: undefined });
    assert.equal(problem?.object, 'qdrant.caFile');
    assert.match(
      problem!.message,
      /Qdrant at https:\/\/qdrant\.example:6333 \(qdrant\.url\) sent a certificate that does not verify \(self-signed certificate\) against the system's CAs \(qdrant\.caFile is not set\)/,
    );
    assert.match(problem!.fix, /set qdrant\.caFile to the PEM file of the CA/);
    const wrongCa = qdrantTlsProblem(err, { url: URL_, caFile: '/etc/ca.pem' });
    assert.match(wrongCa!.fix, /\/etc\/ca\.pem did not sign it/);
    assert.ok(qdrantTlsError(err, { url: URL_, caFile: undefined }) instanceof ConfigError, 'fatal: exit 2');
  }
});

test('TLS: another host name, an expired certificate, plain http on an https url: fatal, naming qdrant.url', () => {
  const [altname] = tlsFailure('ERR_TLS_CERT_ALTNAME_INVALID');
  assert.equal(qdrantTlsProblem(altname, { url: URL_, caFile: '/etc/ca.pem' })?.object, 'qdrant.url');
  const [expired] = tlsFailure('CERT_HAS_EXPIRED');
  assert.match(
    qdrantTlsProblem(expired, { url: URL_, caFile: undefined })!.fix,
    /renew Qdrant's certificate/,
  );
  const [plain] = tlsFailure('ERR_SSL_WRONG_VERSION_NUMBER');
  assert.match(
    qdrantTlsProblem(plain, { url: URL_, caFile: undefined })!.fix,
    /use http:\/\/ in qdrant\.url/,
  );
});

test('TLS: a refused connection or a timeout is not a TLS problem (retried as before)', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_CONNECT_TIMEOUT'])
    for (const err of tlsFailure(code))
      assert.equal(qdrantTlsError(err, { url: URL_, caFile: undefined }), undefined);
});
