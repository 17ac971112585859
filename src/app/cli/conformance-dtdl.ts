/**
 * Runs the official DTDL v3 conformance suite (Azure/opendigitaltwins-dtdl, DTDL/v3/spec, CC BY 4.0
 * © Microsoft) against Twinloop's parser and reports pass rates per kind of rule. Usage:
 *   npm run conformance:dtdl -- [DIR] [--min RATE] [--verbose]
 */
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isValidResult, parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';
import { isTwinloopError, TwinloopError } from '../../core/errors/errors.js';

export interface ConformanceCase {
  valid: boolean;
  options?: string[];
  input: unknown[];
  desirable?: boolean;
  expect?: { unresolvedIdentifiers?: string[] };
}

export interface Tally {
  passed: number;
  total: number;
}

export interface ConformanceFailure {
  file: string;
  index: number;
  expectedValid: boolean;
  reason: string;
}

export interface ConformanceReport {
  /** Per rule kind (file-name prefix: Requirement, Recommendation, Allowance, Completion). */
  byKind: Record<string, { valid: Tally; invalid: Tally; all: Tally }>;
  overall: { valid: Tally; invalid: Tally; all: Tally };
  failures: ConformanceFailure[];
  files: number;
}

const emptyTriple = (): { valid: Tally; invalid: Tally; all: Tally } => ({
  valid: { passed: 0, total: 0 },
  invalid: { passed: 0, total: 0 },
  all: { passed: 0, total: 0 },
});

/** Judges one case; returns undefined when it passes, else why not. */
export function judgeCase(c: ConformanceCase): string | undefined {
  const result = parseDtdl(
    c.input.map((json, i) => ({ source: `input[${i}]`, json })),
    { allowUndefinedExtensions: (c.options ?? []).includes('AllowUndefinedExtensions') },
  );
  const ok = isValidResult(result) && result.unresolved.length === 0;
  const expectedUnresolved = c.expect?.unresolvedIdentifiers;
  if (expectedUnresolved) {
    const missing = expectedUnresolved.filter((id) => !result.unresolved.includes(id));
    if (missing.length)
      return `expected unresolved ${missing.join(', ')}; got [${result.unresolved.join(', ')}]`;
  }
  if (ok === c.valid) return undefined;
  if (c.valid) {
    const errs = result.problems.filter((p) => p.severity !== 'warning');
    return `expected valid; got ${errs.map((p) => `${p.code} at ${p.pointer}`).join('; ') || `unresolved ${result.unresolved.join(', ')}`}`;
  }
  return 'expected invalid; parser accepted it';
}

/** The environment variable that skips the conformance test on purpose (`1`), e.g. on a clone without the suite. */
export const SKIP_CONFORMANCE_ENV = 'TWINLOOP_SKIP_CONFORMANCE';

/** What to say when the suite is not where it was looked for. */
export function missingSuiteMessage(dir: string, why: string): string {
  return (
    `The DTDL v3 conformance suite is missing: ${why} (looked in ${dir}). Put the official suite's ` +
    `test files (Azure/opendigitaltwins-dtdl, DTDL/v3 spec tests, *.json) there, or set ` +
    `${SKIP_CONFORMANCE_ENV}=1 to skip the conformance test on purpose.`
  );
}

/**
 * Runs every case of every *.json file of the suite folder.
 * @throws TwinloopError NotFound when the folder is missing or holds no case file: a missing suite
 *   is never a silent pass.
 */
export async function runConformance(dir: string): Promise<ConformanceReport> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new TwinloopError('NotFound', missingSuiteMessage(dir, (e as Error).message), { cause: e });
  }
  const files = names.filter((f) => f.endsWith('.json')).sort();
  if (files.length === 0)
    throw new TwinloopError('NotFound', missingSuiteMessage(dir, 'the folder has no *.json case file'));
  const report: ConformanceReport = { byKind: {}, overall: emptyTriple(), failures: [], files: files.length };
  for (const file of files) {
    const text = await readFile(join(dir, file), 'utf8');
    const cases = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as ConformanceCase[];
    const kind = file.split('-')[0] ?? 'Other';
    const k = (report.byKind[kind] ??= emptyTriple());
    cases.forEach((c, index) => {
      let reason: string | undefined;
      try {
        reason = judgeCase(c);
      } catch (e) {
        reason = `parser threw: ${(e as Error).message}`;
      }
      const pass = reason === undefined;
      for (const t of [
        k.all,
        report.overall.all,
        c.valid ? k.valid : k.invalid,
        c.valid ? report.overall.valid : report.overall.invalid,
      ]) {
        t.total++;
        if (pass) t.passed++;
      }
      if (!pass) report.failures.push({ file, index, expectedValid: c.valid, reason: reason ?? '' });
    });
  }
  return report;
}

export function rate(t: Tally): number {
  return t.total === 0 ? 1 : t.passed / t.total;
}

const pct = (t: Tally): string => `${(100 * rate(t)).toFixed(2)}% (${t.passed}/${t.total})`;

export function formatReport(r: ConformanceReport, verbose: boolean): string {
  const lines = [`DTDL v3 conformance: ${r.files} files`];
  for (const [kind, t] of Object.entries(r.byKind).sort()) {
    lines.push(`  ${kind.padEnd(15)} all ${pct(t.all)}  valid ${pct(t.valid)}  invalid ${pct(t.invalid)}`);
  }
  lines.push(
    `  ${'Overall'.padEnd(15)} all ${pct(r.overall.all)}  valid ${pct(r.overall.valid)}  invalid ${pct(r.overall.invalid)}`,
  );
  if (verbose) for (const f of r.failures) lines.push(`  FAIL ${f.file} #${f.index}: ${f.reason}`);
  else if (r.failures.length) lines.push(`  ${r.failures.length} failing cases (--verbose lists them)`);
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  let dir = resolve(repoRoot, '../shared/data/dtdl-v3-spec-tests');
  let min: number | undefined;
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--verbose' || a === '-v') verbose = true;
    else if (a === '--min') {
      const m = Number(argv[++i]);
      if (!Number.isFinite(m)) {
        console.error('--min needs a number (0.97 or 97)');
        return 2;
      }
      min = m > 1 ? m / 100 : m;
    } else dir = resolve(a);
  }
  const report = await runConformance(dir);
  console.log(formatReport(report, verbose));
  if (min !== undefined && rate(report.overall.all) < min) {
    console.error(
      `Overall rate ${(100 * rate(report.overall.all)).toFixed(2)}% is below the minimum ${(100 * min).toFixed(2)}%.`,
    );
    return 1;
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(isTwinloopError(e) ? `error: ${e.code}: ${e.message}` : e);
      process.exit(2);
    },
  );
}
