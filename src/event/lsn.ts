// LSNs: bigint inside vecrelay, "X/Y" text at the edges (SQL, logs, pg-logical-replication).
// PostgreSQL prints them as two upper-case hex halves without padding ("0/1639370");
// pg-logical-replication sometimes pads them ("00000000/0163AF60"). Compare bigints, never strings.

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const MAX_LSN = 0xffff_ffff_ffff_ffffn;

/** "X/Y" as PostgreSQL prints it (pg_lsn output): upper-case hex, no padding. */
export function formatLsn(lsn: bigint): string {
  if (lsn < 0n || lsn > MAX_LSN) throw new RangeError(`LSN out of range: ${lsn}`);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

/** Accepts "0/1639370" and "00000000/0163AF60" (any case). */
export function parseLsn(text: string): bigint {
  const m = LSN_TEXT.exec(text);
  if (!m) throw new Error(`not an LSN: ${JSON.stringify(text)} (expected "X/Y" in hex)`);
  return (BigInt(`0x${m[1]!}`) << 32n) | BigInt(`0x${m[2]!}`);
}
