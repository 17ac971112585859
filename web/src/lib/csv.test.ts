import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvCell, toCsv } from './csv.js';

/** A small RFC 4180 reader, to check that what we write reads back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  return rows;
}

describe('CSV export', () => {
  it('writes a time column and one column per series', () => {
    const csv = toCsv(
      ['pump-1a vibration', 'pump-1a flow'],
      [0, 1000],
      [
        [1.5, null],
        [2, 3],
      ],
    );
    expect(csv).toBe(
      'time,pump-1a vibration,pump-1a flow\r\n1970-01-01T00:00:00.000Z,1.5,2\r\n1970-01-01T00:00:01.000Z,,3\r\n',
    );
  });

  it('defuses formulas and quotes separators in hostile names', () => {
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell(-3)).toBe('-3'); // numbers stay numbers
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('line\nbreak')).toBe('"line\nbreak"');
    expect(csvCell(Number.NaN)).toBe('');
  });

  it('any header reads back as written (but for the apostrophe guard), one row per time (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 5 }), (names) => {
        const xs = [0, 1];
        const csv = toCsv(
          names,
          xs,
          names.map(() => [1, 2]),
        );
        const rows = parseCsv(csv);
        expect(rows).toHaveLength(3);
        expect(rows[0]!.slice(1)).toEqual(names.map((n) => (/^[=+\-@\t\r]/.test(n) ? `'${n}` : n)));
      }),
    );
  });
});
