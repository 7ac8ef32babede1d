// Failures of an https qdrant.url that retrying cannot fix: a certificate that does not verify
// (no or the wrong qdrant.caFile, another host name, expired) or a server that does not speak TLS.
// The same Problem for every Qdrant client — node:https (http.ts), @qdrant/js-client-rest
// (output.ts), fetch (plan, preflight, status) — found by Node's error code anywhere in the
// error's cause chain (fetch and undici wrap it: "fetch failed" → cause).
import { messageOf } from '../../shared/errors.js';
import { ProblemError, type Problem } from '../../shared/problems.js';
import { UNTRUSTED_CERT_CODES as UNTRUSTED } from '../../shared/tls-codes.js';

/** Where a Qdrant is and which CA file vouches for it. */
export interface QdrantTls {
  url: string;
  caFile: string | undefined;
}

function* chain(err: unknown, depth = 0): Generator<unknown> {
  if (err === null || err === undefined || depth > 8) return;
  yield err;
  const e = err as { cause?: unknown; errors?: unknown };
  yield* chain(e.cause, depth + 1);
  if (Array.isArray(e.errors)) for (const inner of e.errors) yield* chain(inner, depth + 1);
}

/** The Problem when `err` is a TLS failure that retrying cannot fix, else undefined. */
export function qdrantTlsProblem(err: unknown, { url, caFile }: QdrantTls): Problem | undefined {
  const where = `Qdrant at ${url} (qdrant.url)`;
  for (const e of chain(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    const why = messageOf(e);
    if (UNTRUSTED.has(code))
      return {
        object: 'qdrant.caFile',
        message: `${where} sent a certificate that does not verify (${why}) against ${
          caFile
            ? `qdrant.caFile (${caFile}) and the system's CAs`
            : "the system's CAs (qdrant.caFile is not set)"
        }`,
        fix: caFile
          ? `set qdrant.caFile to the PEM file of the CA that signed Qdrant's certificate: ${caFile} did not sign it`
          : "set qdrant.caFile to the PEM file of the CA that signed Qdrant's certificate",
      };
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
      return {
        object: 'qdrant.url',
        message: `${where} sent a certificate for another name (${why})${caFile ? ', though qdrant.caFile vouches for its CA' : ''}`,
        fix: 'put in qdrant.url a host name the certificate lists, or issue Qdrant a certificate for this name',
      };
    if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
      return {
        object: 'qdrant.url',
        message: `${where} sent a certificate outside its validity period (${why})`,
        fix: "renew Qdrant's certificate (service.enable_tls, tls.cert)",
      };
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG')
      return {
        object: 'qdrant.url',
        message: `${where} does not speak TLS on that port (${why})`,
        fix: 'use http:// in qdrant.url, or turn TLS on in Qdrant (service.enable_tls)',
      };
  }
  return undefined;
}

/** qdrantTlsProblem as the error that stops the sink (exit 2). */
export function qdrantTlsError(err: unknown, target: QdrantTls): ProblemError | undefined {
  const problem = qdrantTlsProblem(err, target);
  return problem && new ProblemError(problem, { cause: err });
}
