import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatRows,
  readableTime,
  renderCsv,
  resolveFormat,
  roundNumber,
  shortDuration,
  tableCell,
} from './output.js';

describe('CLI output', () => {
  it('is a table on a terminal and JSON when piped, unless --format says otherwise', () => {
    expect(resolveFormat(undefined, true)).toBe('table');
    expect(resolveFormat(undefined, false)).toBe('json');
    expect(resolveFormat('csv', true)).toBe('csv');
    expect(resolveFormat('json', true)).toBe('json');
  });

  it('rounds numbers to significant digits in tables, keeping integers', () => {
    expect(roundNumber(7.400000000001)).toBe('7.4');
    expect(roundNumber(52)).toBe('52');
    expect(roundNumber(1.2345678)).toBe('1.235');
    expect(roundNumber(0.000123456)).toBe('0.0001235');
    expect(roundNumber(123456.789)).toBe('123500');
    expect(roundNumber(1e-9)).toBe('1.000e-9');
  });

  it('shows ISO times as readable local times and twins by their id', () => {
    const iso = '2026-12-02T10:53:56.102Z';
    expect(tableCell(iso)).toBe(readableTime(Date.parse(iso)));
    expect(tableCell(iso)).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.102$/);
    expect(tableCell({ $dtId: 'pump-3a', $metadata: {} })).toBe('pump-3a');
    expect(tableCell({ en: 'Centrifugal pump' })).toBe('Centrifugal pump');
    expect(tableCell('x'.repeat(200))).toHaveLength(80);
  });

  it('prints a table with a header and aligned columns; twins as id, model and values', () => {
    const out = formatRows(
      [
        { $dtId: 'pump-3a', $etag: 'W/"1"', $metadata: { $model: 'dtmi:x:Pump;1' }, vibration: 7.4123 },
        { $dtId: 'pump-3b', $etag: 'W/"2"', $metadata: { $model: 'dtmi:x:Pump;1' }, vibration: 10 },
      ],
      'table',
    );
    expect(out.split('\n')).toEqual([
      '$dtId    $model         vibration',
      '-------  -------------  ---------',
      'pump-3a  dtmi:x:Pump;1      7.412',
      'pump-3b  dtmi:x:Pump;1         10',
      '',
    ]);
    expect(formatRows([], 'table')).toBe('(none)\n');
  });

  it('prints JSON as given and CSV with full values, quoting what needs it', () => {
    expect(JSON.parse(formatRows([{ a: 1 }], 'json', { json: { value: [{ a: 1 }] } }))).toEqual({
      value: [{ a: 1 }],
    });
    expect(renderCsv([{ a: 1.23456789, b: 'x,"y"' }])).toBe('a,b\n1.23456789,"x,""y"""\n');
  });

  it('CSV round-trips any text field (property)', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const line = renderCsv([{ v: s }]).slice('v\n'.length, -1);
        const parsed = line.startsWith('"') ? line.slice(1, -1).replace(/""/g, '"') : line;
        expect(parsed).toBe(s);
      }),
    );
  });

  it('says durations shortly', () => {
    expect(shortDuration(45)).toBe('45 s');
    expect(shortDuration(12 * 60)).toBe('12 min');
    expect(shortDuration(14 * 3600 + 44 * 60)).toBe('14 h 44 min');
    expect(shortDuration(50 * 3600)).toBe('2 d 2 h');
  });
});
