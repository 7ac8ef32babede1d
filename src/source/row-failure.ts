// Which errors belong to one row (its values or its key) rather than to the stream.
import { ConfigError, VecrelayError } from '../shared/errors.js';
import { DecodeError, UnsupportedTypeError } from './decode/index.js';

/**
 * Not row failures: a type without a binary decoder (the source switches to text mode,
 * source.ts), a misconfiguration, and a retriable failure such as Kafka being down (the session
 * restarts and replays).
 */
export function isRowFailure(err: unknown): err is Error {
  if (err instanceof UnsupportedTypeError) return false;
  if (err instanceof DecodeError) return true;
  return err instanceof VecrelayError && !err.retriable && !(err instanceof ConfigError);
}
