// date, timestamp, timestamptz → ISO-8601 text (change-event.ts), one canonical form for both
// wire formats:
//   date        YYYY-MM-DD
//   timestamp   YYYY-MM-DDTHH:MM:SS.ffffff   (always 6 fraction digits: µs kept, fixed width)
//   timestamptz YYYY-MM-DDTHH:MM:SS.ffffffZ  (converted to UTC)
//   'infinity' / '-infinity' as PostgreSQL prints them.
// Years: 4 digits, more when above 9999; BC years use ISO-8601 astronomical numbering
// (1 BC = 0000, 44 BC = -0043), so the strings sort and parse as ISO-8601 expanded years.
// Binary: date = int32 days since 2000-01-01 (INT32_MAX/MIN = ±infinity); timestamp and
// timestamptz = int64 µs since 2000-01-01 00:00 (UTC for timestamptz; INT64_MAX/MIN = ±infinity).
// Text (DateStyle ISO, the server default): '2024-02-29', '2024-02-29 23:59:59.5',
// '1899-12-31 20:29:08-03:30:52' (timestamptz in the session's TimeZone), ' BC' suffix.
import { expectLength } from './floats.js';

const DAYS_1970_TO_2000 = 10_957;
const DAY_MICROS = 86_400_000_000n;
const INT64_MAX = 0x7fff_ffff_ffff_ffffn;
const INT64_MIN = -0x8000_0000_0000_0000n;

export function dateFromBinary(bytes: Buffer): string {
  expectLength(bytes, 4, 'date');
  const days = bytes.readInt32BE(0);
  if (days === 0x7fff_ffff) return 'infinity';
  if (days === -0x8000_0000) return '-infinity';
  return formatDate(...civilFromDays(days + DAYS_1970_TO_2000));
}

export function timestampFromBinary(bytes: Buffer, utc: boolean): string {
  expectLength(bytes, 8, utc ? 'timestamptz' : 'timestamp');
  return formatTimestamp(bytes.readBigInt64BE(0), utc);
}

/** µs since 2000-01-01 → canonical text ('Z' appended when `utc`). */
export function formatTimestamp(micros: bigint, utc: boolean): string {
  if (micros === INT64_MAX) return 'infinity';
  if (micros === INT64_MIN) return '-infinity';
  let days = micros / DAY_MICROS; // truncates toward zero: floor it for times before 2000
  if (days * DAY_MICROS > micros) days -= 1n;
  const inDay = Number(micros - days * DAY_MICROS);
  const date = formatDate(...civilFromDays(Number(days) + DAYS_1970_TO_2000));
  const secs = Math.floor(inDay / 1e6);
  const frac = inDay - secs * 1e6;
  const hh = Math.floor(secs / 3600);
  const mm = Math.floor(secs / 60) % 60;
  return `${date}T${pad(hh, 2)}:${pad(mm, 2)}:${pad(secs % 60, 2)}.${pad(frac, 6)}${utc ? 'Z' : ''}`;
}

const DATE_TEXT = /^(\d{4,})-(\d\d)-(\d\d)( BC)?$/;
const TS_TEXT =
  /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?( BC)?$/;

export function dateFromText(text: string): string {
  if (text === 'infinity' || text === '-infinity') return text;
  const m = DATE_TEXT.exec(text);
  if (!m) throw new Error(`expected YYYY-MM-DD (DateStyle ISO), got ${JSON.stringify(text)}`);
  return formatDate(year(m[1]!, m[4]), Number(m[2]), Number(m[3]));
}

export function timestampFromText(text: string, utc: boolean): string {
  if (text === 'infinity' || text === '-infinity') return text;
  const m = TS_TEXT.exec(text);
  if (!m || (m[8] !== undefined) !== utc) {
    const form = utc ? 'YYYY-MM-DD HH:MM:SS[.f]±HH[:MM[:SS]]' : 'YYYY-MM-DD HH:MM:SS[.f]';
    throw new Error(`expected ${form} (DateStyle ISO), got ${JSON.stringify(text)}`);
  }
  const days = daysFromCivil(year(m[1]!, m[12]), Number(m[2]), Number(m[3])) - DAYS_1970_TO_2000;
  let secs = Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]);
  if (utc) {
    const offset = Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0);
    secs -= m[8] === '-' ? -offset : offset; // local = UTC + offset
  }
  const micros = BigInt(days) * DAY_MICROS + BigInt(secs) * 1_000_000n + BigInt((m[7] ?? '').padEnd(6, '0'));
  return formatTimestamp(micros, utc);
}

/** Astronomical year of PostgreSQL's year text: 'YYYY BC' is year 1 - YYYY. */
const year = (digits: string, bc: string | undefined): number => (bc ? 1 - Number(digits) : Number(digits));

function formatDate(y: number, m: number, d: number): string {
  const yy = y < 0 ? `-${pad(-y, 4)}` : pad(y, 4);
  return `${yy}-${pad(m, 2)}-${pad(d, 2)}`;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

// Proleptic Gregorian calendar ↔ days since 1970-01-01 (H. Hinnant's algorithms), exact for the
// whole PostgreSQL range (4713 BC to 5874897 AD) in doubles.
function civilFromDays(z: number): [number, number, number] {
  z += 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}
