import { describe, expect, it } from 'vitest';
import { AREAS, type CheckResult } from './harness.js';
import { ALL_CHECKS } from './checks.js';
import { belowFloor, formatReport, parseFloor, summarise } from './report.js';

const r = (
  area: CheckResult['area'],
  via: CheckResult['via'],
  pass: boolean,
  name = `${area}-${via}-${pass}`,
): CheckResult => ({
  area,
  via,
  name,
  source: 'spec:X',
  pass,
  ms: 1,
  ...(pass ? {} : { expected: 'HTTP 200', got: 'HTTP 404' }),
});

describe('ADT conformance report', () => {
  const report = summarise(
    'https://x',
    [
      r('query', 'rest', true),
      r('query', 'rest', false),
      r('query', 'sdk', true),
      r('models', 'rest', false),
    ],
    1,
  );

  it('counts per area and per way of calling', () => {
    expect(report.byArea.query).toEqual({
      rest: { passed: 1, total: 2 },
      sdk: { passed: 1, total: 1 },
      all: { passed: 2, total: 3 },
    });
    expect(report.overall.all).toEqual({ passed: 2, total: 4 });
  });

  it('--min takes a fraction, a percentage or a number of checks', () => {
    expect(parseFloor('0.8')).toEqual({ kind: 'fraction', value: 0.8 });
    expect(parseFloor('80%')).toEqual({ kind: 'fraction', value: 0.8 });
    expect(parseFloor('120')).toEqual({ kind: 'count', value: 120 });
    expect(parseFloor('1')).toEqual({ kind: 'fraction', value: 1 });
    for (const bad of ['', 'x', '-1', '120.5', '101%']) expect(parseFloor(bad)).toBeUndefined();
  });

  it('says when the pass count is below the floor, and only then', () => {
    expect(belowFloor(report, { kind: 'count', value: 2 })).toBeUndefined();
    expect(belowFloor(report, { kind: 'count', value: 3 })).toMatch(/2 checks pass, below the floor of 3/);
    expect(belowFloor(report, { kind: 'fraction', value: 0.5 })).toBeUndefined();
    expect(belowFloor(report, { kind: 'fraction', value: 0.51 })).toMatch(/50.0% of checks pass/);
  });

  it('prints a row per area with results, and the failures with --verbose', () => {
    const text = formatReport(report, true);
    expect(text).toMatch(/query\s+1\/2\s+1\/1\s+2\/3/);
    expect(text).toMatch(/models\s+0\/1\s+-\s+0\/1/);
    expect(text).toContain('FAIL [models/rest] models-rest-false');
    expect(text).toContain('expected: HTTP 200');
    expect(formatReport(report, false)).toContain('2 failing checks (--verbose lists them)');
  });

  it('every check names its source, an area, and a name unique in the suite', () => {
    const names = new Set<string>();
    for (const c of ALL_CHECKS) {
      expect(c.source.length, c.name).toBeGreaterThan(3);
      expect(AREAS).toContain(c.area);
      expect(names.has(`${c.area}/${c.name}`), c.name).toBe(false);
      names.add(`${c.area}/${c.name}`);
    }
    expect(ALL_CHECKS.length).toBeGreaterThan(150);
    // Delete jobs empty the instance: they run last.
    expect(ALL_CHECKS.at(-1)?.area).toBe('delete-jobs');
  });
});
