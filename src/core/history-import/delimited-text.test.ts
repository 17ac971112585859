import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../jobs/import-format.js';
import { DelimitedReader, type Delimiter, type TextRow } from './delimited-text.js';
import { bindMapping, parseHistoryMapping, parseIsoTime } from './history-mapping.js';

function read(
  input: Uint8Array | string,
  delimiter: Delimiter,
  maxRowBytes = 1024,
  cuts: number[] = [],
): TextRow[] {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
  const splitter = new LineSplitter(maxRowBytes);
  const reader = new DelimitedReader({ delimiter, encoding: 'utf-8', maxRowBytes });
  const out: TextRow[] = [];
  const at = [0, ...cuts, bytes.length];
  for (let i = 1; i < at.length; i++)
    for (const line of splitter.push(bytes.slice(at[i - 1], at[i]))) out.push(...reader.push(line));
  for (const line of splitter.end()) out.push(...reader.push(line));
  out.push(...reader.end());
  return out;
}
const fields = (rows: TextRow[]) =>
  rows.map((r) => (r.kind === 'row' ? r.fields : `${r.code}@${r.line}:${r.column ?? ''}`));

describe('DelimitedReader', () => {
  it('splits C-MAPSS whitespace rows, ignoring leading, trailing and repeated blanks', () => {
    expect(fields(read('1 1 -0.0007  518.67  \n\t2\t3 \n\n  \n', 'whitespace'))).toEqual([
      ['1', '1', '-0.0007', '518.67'],
      ['2', '3'],
    ]);
  });

  it('reads RFC 4180 quotes, doubled quotes, empty fields and a field spanning lines', () => {
    expect(fields(read('a,"b,c","say ""hi""",\n"x\ny",,z\n', ','))).toEqual([
      ['a', 'b,c', 'say "hi"', ''],
      ['x\ny', '', 'z'],
    ]);
    expect(fields(read('a;"1;5";c\n', ';'))).toEqual([['a', '1;5', 'c']]);
  });

  it('reports an unclosed quote at the end (a truncated file) and text after a closing quote', () => {
    expect(fields(read('a,b\n"open,1\nmore', ','))).toEqual([['a', 'b'], 'InvalidQuote@2:']);
    expect(fields(read('"a"b,c\n', ','))).toEqual(['InvalidQuote@1:1']);
  });

  it('refuses a row longer than the budget, also a quoted field running on, and reads on', () => {
    const long = `${'x'.repeat(100)}\nok,1\n`;
    expect(fields(read(long, ',', 50))).toEqual(['RowTooLong@1:', ['ok', '1']]);
    const runaway = `"${'y\n'.repeat(40)}`;
    expect(fields(read(`${runaway}\n`, ',', 50))[0]).toBe('RowTooLong@1:');
  });

  it('never throws and never loses a line, whatever the bytes and chunk cuts (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom<Delimiter>(',', ';', '\t', 'whitespace'),
        fc.uniqueArray(fc.integer({ min: 1, max: 299 }), { maxLength: 5 }),
        (bytes, d, cuts) => {
          const c = cuts.filter((x) => x < bytes.length).sort((a, b) => a - b);
          const rows = read(bytes, d, 64, c);
          expect(rows).toEqual(read(bytes, d, 64));
          for (const r of rows) expect(r.line).toBeGreaterThan(0);
        },
      ),
    );
  });

  it('round-trips any fields written with RFC 4180 quoting (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.string({ maxLength: 8 }), { minLength: 2, maxLength: 5 }), {
          minLength: 1,
          maxLength: 5,
        }),
        (table) => {
          const text = table
            .map((row) => row.map((f) => `"${f.replace(/"/g, '""')}"`).join(','))
            .join('\r\n');
          const rows = read(text, ',', 4096);
          // Lines made only of blanks inside quotes are still rows; the fields come back exactly.
          expect(rows.map((r) => (r.kind === 'row' ? r.fields : r.code))).toEqual(
            table.map((r) => r.map((f) => f.replace(/\r(?=\n)/g, ''))),
          );
        },
      ),
    );
  });
});

describe('parseHistoryMapping', () => {
  const base = { twin: { column: 'id' }, time: { column: 't' } };

  it('reports every problem with its pointer, hostile keys included', () => {
    expect(() =>
      parseHistoryMapping({ delimiter: '|', time: { column: 't', format: 'cycle' }, extra: 1 }),
    ).toThrow(/\/delimiter.*\n.*\/twin.*|[\s\S]*\/time\/origin[\s\S]*\/time\/stepSeconds/);
    try {
      parseHistoryMapping({ delimiter: '|', time: { column: 't', format: 'cycle' }, extra: 1 });
    } catch (e) {
      const pointers = (e as { problems: { pointer: string }[] }).problems.map((p) => p.pointer);
      expect(pointers).toEqual(
        expect.arrayContaining(['/extra', '/delimiter', '/twin', '/time/origin', '/time/stepSeconds']),
      );
    }
    expect(() =>
      parseHistoryMapping(
        JSON.parse('{"__proto__": {"x": 1}, "twin": {"column": "id"}, "time": {"column": "t"}}'),
      ),
    ).toThrow(/__proto__/);
    expect(() => parseHistoryMapping({ ...base, telemetry: JSON.parse('{"constructor": "x"}') })).toThrow(
      /constructor/,
    );
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { a: deep };
    expect(() => parseHistoryMapping({ ...base, telemetry: deep })).toThrow(/depth|deep|nest/i);
    expect(() => parseHistoryMapping(null)).toThrow(/must be an object/);
    expect(() => parseHistoryMapping({ ...base, telemetry: { a: '../x' } })).toThrow(/\/telemetry\/a/);
  });

  it('binds by header names, mapping columns or positions, and names the columns that are missing', () => {
    const m = parseHistoryMapping({ ...base, telemetry: { v: 'temp', w: 'pump/flow' } });
    const b = bindMapping(m, ['t', 'id', 'v', 'w'], 4);
    expect(b).toMatchObject({
      timeIndex: 0,
      twinParts: ['', 1, ''],
      telemetry: [
        { index: 2, path: 'temp' },
        { index: 3, component: 'pump', name: 'flow' },
      ],
    });
    const byPos = parseHistoryMapping({
      header: false,
      twin: { template: 'e-{1}' },
      time: { column: '2', format: 'epoch-s' },
      telemetry: { '3': 'x' },
    });
    expect(bindMapping(byPos, undefined, 3)).toMatchObject({ twinParts: ['e-', 0, ''], timeIndex: 1 });
    expect(() =>
      parseHistoryMapping({
        header: false,
        twin: { column: 'unit' },
        time: { column: '2' },
        telemetry: { '3': 'x' },
      }),
    ).toThrow(/'unit' must be a column position/);
    expect(() => bindMapping(m, ['t', 'id'], 2)).toThrow(/There is no column 'v'/);
    // every other column, by its name; a column that is not a DTDL name must be mapped or skipped
    const auto = parseHistoryMapping({ ...base, skip: ['note'] });
    expect(bindMapping(auto, ['id', 't', 'a', 'note', 'b'], 5).telemetry.map((t) => t.path)).toEqual([
      'a',
      'b',
    ]);
    expect(() => bindMapping(auto, ['id', 't', 'a b', 'note'], 4)).toThrow(/'a b' is not a DTDL name/);
  });

  it('reads ISO times with and without offsets, and refuses impossible dates', () => {
    expect(parseIsoTime('2024-03-01T12:30:00Z')).toBe(Date.UTC(2024, 2, 1, 12, 30));
    expect(parseIsoTime('2024-03-01 12:30')).toBe(Date.UTC(2024, 2, 1, 12, 30));
    expect(parseIsoTime('2024-03-01T12:30:00.250-02:00')).toBe(Date.UTC(2024, 2, 1, 14, 30, 0, 250));
    expect(parseIsoTime('2024-02-30')).toBeUndefined();
    expect(parseIsoTime('2024-01-01T25:00')).toBeUndefined();
    expect(parseIsoTime('yesterday')).toBeUndefined();
  });
});
