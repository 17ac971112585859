/** The ADT conformance table: counts per area and per way of calling, the floor, and the text and JSON forms. */
import { AREAS, type Area, type CheckResult } from './harness.js';

export interface Tally {
  passed: number;
  total: number;
}

export interface ConformanceReport {
  url: string;
  byArea: Partial<Record<Area, { rest: Tally; sdk: Tally; all: Tally }>>;
  overall: { rest: Tally; sdk: Tally; all: Tally };
  results: CheckResult[];
  seconds: number;
}

const empty = (): { rest: Tally; sdk: Tally; all: Tally } => ({
  rest: { passed: 0, total: 0 },
  sdk: { passed: 0, total: 0 },
  all: { passed: 0, total: 0 },
});

export function summarise(url: string, results: CheckResult[], seconds: number): ConformanceReport {
  const r: ConformanceReport = { url, byArea: {}, overall: empty(), results, seconds };
  for (const c of results) {
    const a = (r.byArea[c.area] ??= empty());
    for (const t of [a[c.via], a.all, r.overall[c.via], r.overall.all]) {
      t.total++;
      if (c.pass) t.passed++;
    }
  }
  return r;
}

/**
 * The floor of `--min`: a fraction of the checks (0 < n <= 1, or `97%`) or a number of passing
 * checks (n > 1). Answers undefined when the text is not one of those.
 */
export type Floor = { kind: 'fraction'; value: number } | { kind: 'count'; value: number };

export function parseFloor(text: string): Floor | undefined {
  const t = text.trim();
  if (t.endsWith('%')) {
    const n = Number(t.slice(0, -1));
    return Number.isFinite(n) && n >= 0 && n <= 100 ? { kind: 'fraction', value: n / 100 } : undefined;
  }
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0 || t === '') return undefined;
  return n <= 1
    ? { kind: 'fraction', value: n }
    : Number.isInteger(n)
      ? { kind: 'count', value: n }
      : undefined;
}

/** Undefined when the report meets the floor, else why not. */
export function belowFloor(r: ConformanceReport, floor: Floor): string | undefined {
  const { passed, total } = r.overall.all;
  if (floor.kind === 'count')
    return passed >= floor.value ? undefined : `${passed} checks pass, below the floor of ${floor.value}.`;
  const rate = total === 0 ? 0 : passed / total;
  return rate >= floor.value
    ? undefined
    : `${(100 * rate).toFixed(1)}% of checks pass, below the floor of ${(100 * floor.value).toFixed(1)}%.`;
}

const cell = (t: Tally): string => (t.total === 0 ? '-' : `${t.passed}/${t.total}`);

export function formatReport(r: ConformanceReport, verbose: boolean): string {
  const lines = [
    `ADT conformance against ${r.url}: ${r.overall.all.passed} of ${r.overall.all.total} checks pass (${r.seconds.toFixed(1)} s)`,
    `  ${'area'.padEnd(14)} ${'rest'.padStart(8)} ${'sdk'.padStart(8)} ${'all'.padStart(8)}`,
  ];
  for (const area of AREAS) {
    const a = r.byArea[area];
    if (!a) continue;
    lines.push(
      `  ${area.padEnd(14)} ${cell(a.rest).padStart(8)} ${cell(a.sdk).padStart(8)} ${cell(a.all).padStart(8)}`,
    );
  }
  const o = r.overall;
  lines.push(
    `  ${'total'.padEnd(14)} ${cell(o.rest).padStart(8)} ${cell(o.sdk).padStart(8)} ${cell(o.all).padStart(8)}`,
  );
  const failing = r.results.filter((c) => !c.pass);
  if (verbose) {
    for (const f of failing) {
      lines.push(`  FAIL [${f.area}/${f.via}] ${f.name}  (${f.source})`);
      lines.push(`       expected: ${f.expected ?? ''}`);
      lines.push(`       got:      ${f.got ?? ''}`);
    }
  } else if (failing.length) lines.push(`  ${failing.length} failing checks (--verbose lists them)`);
  return lines.join('\n');
}
