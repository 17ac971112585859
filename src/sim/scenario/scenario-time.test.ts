/** Times in scenario files: seconds or durations with units, and why a bad one is bad. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseScenarioTime, TIME_UNITS } from './scenario-time.js';

const seconds = (v: unknown): number | string => {
  const r = parseScenarioTime(v);
  return r.ok ? r.seconds : r.reason;
};

describe('parseScenarioTime', () => {
  it('reads seconds and durations with units, alone or combined', () => {
    expect(seconds(0)).toBe(0);
    expect(seconds(3600)).toBe(3600);
    expect(seconds('90')).toBe(90);
    expect(seconds('90s')).toBe(90);
    expect(seconds('30min')).toBe(1800);
    expect(seconds('30m')).toBe(1800);
    expect(seconds('2h')).toBe(7200);
    expect(seconds('1.5h')).toBe(5400);
    expect(seconds('1d')).toBe(86_400);
    expect(seconds('2w')).toBe(1_209_600);
    expect(seconds('250ms')).toBe(0.25);
    expect(seconds('1h30min')).toBe(5400);
    expect(seconds(' 1d 6h ')).toBe(108_000);
    expect(seconds('2H')).toBe(7200);
  });

  it('says why a time is not one', () => {
    expect(seconds(-1)).toBe('negative');
    expect(seconds('-2h')).toBe('negative');
    expect(seconds('3 fortnights')).toBe('unit');
    expect(seconds('1h 5x')).toBe('unit');
    expect(seconds('soon')).toBe('syntax');
    expect(seconds('')).toBe('syntax');
    expect(seconds('10 20s')).toBe('syntax');
    expect(seconds(Infinity)).toBe('syntax');
    expect(seconds(true)).toBe('syntax');
    expect(seconds(null)).toBe('syntax');
    const unit = parseScenarioTime('3 fortnights');
    expect(!unit.ok && unit.message).toMatch(/unknown time unit 'fortnights'/);
  });

  it('adds up any combination of parts', () => {
    const units = Object.keys(TIME_UNITS);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 10_000 }), fc.constantFrom(...units)), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.constantFrom('', ' '),
        (parts, sep) => {
          const text = parts.map(([n, u]) => `${n}${u}`).join(sep);
          const expected = parts.reduce((s, [n, u]) => s + n * (TIME_UNITS[u] as number), 0);
          expect(seconds(text)).toBeCloseTo(expected, 6);
        },
      ),
    );
  });
});
