// Confluent Schema Registry wire format, so that other Kafka tools (kcat -s avro, ksqlDB, Connect)
// can read vecrelay's topics:
//
//   byte 0      magic byte, always 0
//   bytes 1–4   schema id, big-endian int32, as assigned by the registry
//   bytes 5–    the Avro binary of the value (no container header)
//
// Registering the schema and mapping ids to writer schemas (resolvingDecoder) is the caller's job.

const MAGIC = 0;
const HEADER = 5;

/** Prefixes `avro` with the Confluent header for `schemaId`. Copies `avro` once. */
export function wrapConfluent(schemaId: number, avro: Uint8Array): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0x7fffffff) {
    throw new RangeError(`Confluent schema id ${schemaId} is not a non-negative int32`);
  }
  const out = Buffer.allocUnsafe(HEADER + avro.byteLength);
  out[0] = MAGIC;
  out.writeInt32BE(schemaId, 1);
  out.set(avro, HEADER);
  return out;
}

/** Splits a Confluent-framed message. `avro` is a view of `buf`, not a copy. */
export function unwrapConfluent(buf: Buffer): { schemaId: number; avro: Buffer } {
  if (buf.length < HEADER)
    throw new RangeError(`Confluent message: ${buf.length} bytes, shorter than its header`);
  if (buf[0] !== MAGIC) throw new RangeError(`Confluent message: magic byte ${buf[0]}, expected ${MAGIC}`);
  return { schemaId: buf.readInt32BE(1), avro: buf.subarray(HEADER) };
}
