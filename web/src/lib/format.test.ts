import { describe, expect, it } from 'vitest';
import { formatAge, formatDuration, formatValue, ratePerSecond } from './format.js';

describe('formatting', () => {
  it('says how old a value is', () => {
    const now = 1_800_000_000_000;
    expect(formatAge(now, now)).toBe('just now');
    expect(formatAge(now - 12_000, now)).toBe('12 s ago');
    expect(formatAge(now - 5 * 60_000, now)).toBe('5 min ago');
    expect(formatAge(now - 3 * 3600_000, now)).toBe('3 h ago');
    expect(formatAge(now - 3 * 86400_000, now)).toBe('3 d ago');
    expect(formatAge(now + 60_000, now)).toBe('in the future');
    expect(formatAge(Number.NaN, now)).toBe('unknown');
  });

  it('shows values of every JSON type', () => {
    expect(formatValue(3.14159265)).toBe('3.142');
    expect(formatValue(42)).toBe('42');
    expect(formatValue(0.000012346)).toBe('0.00001235');
    expect(formatValue('x')).toBe('x');
    expect(formatValue(true)).toBe('true');
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
    expect(formatValue(null)).toBe('null');
    expect(formatValue(undefined)).toBe('');
  });

  it('computes a rate from two counter reads, and none from one or a reset', () => {
    expect(ratePerSecond(undefined, { count: 10, time: 1000 })).toBeUndefined();
    expect(ratePerSecond({ count: 10, time: 1000 }, { count: 40, time: 3000 })).toBe(15);
    expect(ratePerSecond({ count: 10, time: 3000 }, { count: 40, time: 3000 })).toBeUndefined();
    expect(ratePerSecond({ count: 50, time: 1000 }, { count: 40, time: 3000 })).toBeUndefined();
  });
});

describe('durations', () => {
  it('says bucket widths in words', () => {
    expect(formatDuration(500)).toBe('500 ms');
    expect(formatDuration(15_000)).toBe('15 s');
    expect(formatDuration(300_000)).toBe('5 min');
    expect(formatDuration(7_200_000)).toBe('2 h');
    expect(formatDuration(86_400_000)).toBe('1 d');
    expect(formatDuration(-1)).toBe('');
  });
});
