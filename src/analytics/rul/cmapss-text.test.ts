import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { parseCmapss, parseRulFile } from './cmapss-text.js';

const row = (unit: number, cycle: number) =>
  `${unit} ${cycle} -0.0007 -0.0004 100.0 518.67 641.82 1589.70 1400.60 14.62 21.61 554.36 2388.06 9046.19 1.30 47.47 521.66 2388.02 8138.62 8.4195 0.03 392 2388 100.00 39.06 23.4190  `;

describe('C-MAPSS text', () => {
  it('reads units, cycles, settings and sensors (trailing spaces, CRLF, blank lines)', () => {
    const assets = parseCmapss(`${row(1, 1)}\r\n${row(1, 2)}\n\n${row(2, 1)}\n`, 'x.txt');
    expect(assets.map((a) => a.id)).toEqual(['1', '2']);
    expect(Array.from(assets[0]!.steps)).toEqual([1, 2]);
    expect(assets[0]!.columns.setting3![0]).toBe(100);
    expect(assets[0]!.columns.s1![0]).toBe(518.67);
    expect(assets[0]!.columns.s21![1]).toBe(23.419);
  });

  it('refuses bad lines, saying file and line', () => {
    const bad = (text: string) => {
      try {
        parseCmapss(text, 'train.txt');
      } catch (e) {
        expect(e).toBeInstanceOf(TwinloopError);
        return (e as TwinloopError).message;
      }
      throw new Error('accepted');
    };
    expect(bad(`${row(1, 1)}\n${row(1, 2).slice(0, 40)}`)).toMatch(/^train\.txt:2: 26 numbers expected/); // truncated
    expect(bad(`${row(1, 1).replace('641.82', '6\uFFFD1')}`)).toMatch(
      /train\.txt:1: field 7 is not a number/,
    ); // bad UTF-8, decoded
    expect(bad(`${row(1, 1).replace('641.82', 'NaN')}`)).toMatch(/field 7/);
    expect(bad(`${row(1, 2)}\n${row(1, 1)}`)).toMatch(/train\.txt:2: unit 1: cycle 1 does not follow 2/);
    expect(bad('{"__proto__": 1}')).toMatch(/26 numbers expected/);
    expect(() => parseRulFile('112\n98\nx\n', 'RUL.txt')).toThrow(/RUL\.txt:3/);
    expect(parseRulFile('112\n98\n', 'RUL.txt')).toEqual([112, 98]);
  });
});
