// Renders a plan report: aligned columns for people (colour only on a terminal), one JSON object
// for machines.
import type { Check, Level, PlanReport, TableReport } from './types.js';

const LABEL: Record<Level, string> = { ok: 'OK', info: 'INFO', warn: 'WARN', blocker: 'BLOCKER' };
const COLOUR: Record<Level, string> = { ok: '32', info: '36', warn: '33', blocker: '1;31' };

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return '?';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

function formatCount(n: number | null, exact = true): string {
  if (n === null) return '?';
  return `${exact ? '' : '~'}${n.toLocaleString('en-US')}`;
}

/** Pads every column but the last to its widest cell. */
function align(rows: string[][], indent = '  '): string[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  return rows.map(
    (row) => indent + row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i]!) : cell)).join('  '),
  );
}

function label(level: Level, colour: boolean): string {
  const text = LABEL[level].padEnd(7);
  return colour ? `\x1b[${COLOUR[level]}m${text}\x1b[0m` : text;
}

function checkLines(checks: Check[], colour: boolean): string[] {
  const objectWidth = Math.min(40, Math.max(...checks.map((c) => c.object.length)));
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`  ${label(c.level, colour)}  ${c.object.padEnd(objectWidth)}  ${c.message}`);
    if (c.fix) lines.push(`  ${' '.repeat(7)}  ${' '.repeat(objectWidth)}  fix: ${c.fix}`);
  }
  return lines;
}

function tableRows(tables: TableReport[]): string[][] {
  const rows = [
    [
      'TABLE',
      'ROWS (EST.)',
      'SIZE',
      'KEY',
      'IDENTITY',
      'VECTOR',
      'TYPE',
      'DIM',
      'NULLS',
      'INDEX',
      'DISTANCE',
    ],
  ];
  for (const t of tables) {
    const head = [
      t.table,
      formatCount(t.rowEstimate),
      formatBytes(t.sizeBytes),
      t.key.join(',') || '(none)',
      t.replicaIdentity,
    ];
    if (t.vectors.length === 0) rows.push([...head, '(none)', '', '', '', '', '']);
    t.vectors.forEach((v, i) => {
      const index = t.indexes.find((x) => x.column === v.column);
      rows.push([
        ...(i === 0 ? head : head.map(() => '')),
        v.column,
        v.type,
        v.dimension === null ? '-' : String(v.dimension),
        formatCount(v.nulls, v.nullsExact),
        index ? `${index.name} (${index.method} ${index.opclass})` : '(none)',
        v.distanceFrom === 'default' ? `${v.distance} (default)` : v.distance,
      ]);
    });
  }
  return rows;
}

export function renderHuman(
  report: PlanReport,
  options: { colour: boolean; configWrittenTo?: string | undefined },
): string {
  const s = report.server;
  const out: string[] = [
    `vecrelay plan: ${report.target} — PostgreSQL ${s.version}, pgvector ${s.pgvector ?? 'not installed'}`,
    '',
    'CHECKS',
    ...checkLines(report.checks, options.colour),
    '',
    'TABLES',
    ...(report.tables.length ? align(tableRows(report.tables)) : ['  (none)']),
    '',
  ];
  const { blockers, warnings } = report.summary;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  out.push(
    blockers
      ? `${plural(blockers, 'blocker')}, ${plural(warnings, 'warning')}: fix the blockers, then run \`vecrelay plan\` again.`
      : `No blockers, ${plural(warnings, 'warning')}: ready to run.`,
  );
  if (options.configWrittenTo) out.push(`Config written to ${options.configWrittenTo}.`);
  else if (report.config)
    out.push(
      '',
      `# ---- generated config: save it as ${report.configFile} (or run plan with --write FILE) ----`,
      report.config.trimEnd(),
    );
  return out.join('\n') + '\n';
}

export function renderJson(report: PlanReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}
