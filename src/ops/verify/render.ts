// `vecrelay verify` for a person: per table, counts, what differs (the first few keys of each
// kind), the top-k figures, and the verdict.
import { tableOk } from './table.js';
import type { VerifyReport } from './verify.js';

const SHOWN = 20;
const show = (xs: unknown[], total: number) =>
  `${xs
    .slice(0, SHOWN)
    .map((x) => JSON.stringify(x))
    .join(', ')}${total > SHOWN ? `, … (${total} in all)` : ''}`;

export function renderVerify(r: VerifyReport): string {
  const lines: string[] = [];
  for (const [name, t] of Object.entries(r.tables)) {
    lines.push(`${name} → ${t.collection}: ${tableOk(t) ? 'EQUAL' : 'DIFFERENT'}`);
    if (t.error) {
      lines.push(`  ${t.error}`);
      continue;
    }
    lines.push(`  rows ${t.rows}, points ${t.points}`);
    if (t.counts.missing)
      lines.push(`  missing points (${t.counts.missing}): ${show(t.missing, t.counts.missing)}`);
    if (t.counts.extra) lines.push(`  extra points (${t.counts.extra}): ${show(t.extra, t.counts.extra)}`);
    if (t.counts.mismatched) {
      lines.push(`  mismatched (${t.counts.mismatched}):`);
      for (const d of t.details.slice(0, SHOWN))
        lines.push(`    ${JSON.stringify(d.key)}: ${d.problems.join('; ')}`);
      if (t.counts.mismatched > SHOWN) lines.push(`    … (${t.counts.mismatched} in all; --json lists them)`);
    }
    if (t.nullVectorViolations)
      lines.push(`  points with a vector for a NULL column: ${t.nullVectorViolations}`);
    if (t.topK.samples)
      lines.push(
        `  top-${t.topK.k} on ${t.topK.samples} samples: exact search ${t.exactTopKIdentical ? 'identical' : 'DIFFERS'}, ` +
          `HNSW recall@${t.topK.k} ${(t.recallAtK ?? 0).toFixed(3)}` +
          (t.topK.skipped ? ` (${t.topK.skipped} skipped: changing under writes)` : ''),
      );
    for (const d of t.topK.differing.slice(0, SHOWN))
      lines.push(
        `    sample ${JSON.stringify(d.key)} (${d.vector}): only in Postgres ${d.onlyPostgres.join(', ') || '-'}; ` +
          `only in Qdrant ${d.onlyQdrant.join(', ') || '-'}`,
      );
    if (t.unsettled) lines.push(`  ${t.unsettled} rows kept changing through every recheck: not compared`);
    if (t.pipelineBehind)
      lines.push(
        `  the pipeline did not apply past the rechecks' position in time: ${t.notApplied} differing rows could not be settled`,
        ...t.pipelineBehind.map((b) => `    ${b}`),
      );
  }
  lines.push(
    `verify: ${r.ok ? 'equal' : 'DIVERGENT'} (from WAL position ${r.startLsn}, ${(r.elapsedMs / 1000).toFixed(2)} s)`,
  );
  return lines.join('\n');
}
