// Node's error codes for a server certificate that does not verify: one list for the Postgres,
// Kafka and Qdrant connections, which each name their own config field when one appears.

/** The certificate does not chain to a trusted CA. */
export const UNTRUSTED_CERT_CODES: ReadonlySet<string> = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** The certificate is trusted but names another host, or has expired. */
export const WRONG_HOST_CODE = 'ERR_TLS_CERT_ALTNAME_INVALID';
export const EXPIRED_CERT_CODE = 'CERT_HAS_EXPIRED';
