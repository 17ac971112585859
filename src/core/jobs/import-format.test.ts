import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImportFileReader, LineSplitter, type ImportLine } from './import-format.js';

const enc = new TextEncoder();

function readAll(text: string | Uint8Array, maxLine = 1 << 20, chunk = 7): ImportLine[] {
  const bytes = typeof text === 'string' ? enc.encode(text) : text;
  const splitter = new LineSplitter(maxLine);
  const reader = new ImportFileReader();
  const out: ImportLine[] = [];
  for (let i = 0; i < bytes.length; i += chunk) {
    for (const l of splitter.push(bytes.subarray(i, i + chunk))) out.push(reader.read(l));
  }
  for (const l of splitter.end()) out.push(reader.read(l));
  return out;
}

const HEADER = '{"Section": "Header"}\n{"fileVersion": "1.0.0", "author": "a", "organization": "o"}\n';

describe('LineSplitter', () => {
  it('numbers lines across chunk borders, strips CR, keeps a last line without newline', () => {
    const s = new LineSplitter(100);
    const lines = [...s.push(enc.encode('ab\r\ncd')), ...s.push(enc.encode('ef\n\nx')), ...s.end()];
    expect(lines.map((l) => [l.lineNumber, new TextDecoder().decode(l.bytes)])).toEqual([
      [1, 'ab'],
      [2, 'cdef'],
      [3, ''],
      [4, 'x'],
    ]);
  });

  it('reports a line longer than the limit with its length, holding none of it, and goes on', () => {
    const s = new LineSplitter(10);
    const big = 'x'.repeat(1000);
    const lines = [...s.push(enc.encode(`ok\n${big}`)), ...s.push(enc.encode(`${big}\nnext\n`))];
    expect(lines).toHaveLength(3);
    expect(lines[1]).toEqual({ lineNumber: 2, tooLongBytes: 2000 });
    expect(new TextDecoder().decode(lines[2]!.bytes)).toBe('next');
  });

  it('gives the same lines whatever the chunking (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 50 }), (bytes, size) => {
        const whole = new LineSplitter(64);
        const a = [...whole.push(bytes), ...whole.end()];
        const parts = new LineSplitter(64);
        const b = [];
        for (let i = 0; i < bytes.length; i += size) b.push(...parts.push(bytes.subarray(i, i + size)));
        b.push(...parts.end());
        expect(b).toEqual(a);
      }),
    );
  });
});

describe('ImportFileReader', () => {
  it('reads the header, the sections in order and one item per line', () => {
    const lines = readAll(
      HEADER +
        '{"Section": "Models"}\n{"@id": "dtmi:a:B;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3"}\n' +
        '{"Section": "Twins"}\n{"$dtId": "t1", "$metadata": {"$model": "dtmi:a:B;1"}}\n\n' +
        '{"Section": "Relationships"}\n{"$dtId": "t1", "$relationshipId": "r1", "$targetId": "t1", "$relationshipName": "near"}\n',
    );
    expect(lines.map((l) => l.kind)).toEqual([
      'section',
      'header',
      'section',
      'model',
      'section',
      'twin',
      'blank',
      'section',
      'relationship',
    ]);
    const rel = lines[8]!;
    expect(rel).toMatchObject({ kind: 'relationship', lineNumber: 9, sourceId: 't1', relationshipId: 'r1' });
    expect(rel.kind === 'relationship' && '$dtId' in rel.body).toBe(false);
  });

  it('refuses a file without a header as fatal, at its first line', () => {
    const [first] = readAll('{"Section": "Twins"}\n{"$dtId": "t"}\n');
    expect(first).toMatchObject({ kind: 'error', lineNumber: 1, code: 'InvalidHeader', fatal: true });
    const [, second] = readAll('{"Section": "Header"}\n{"fileVersion": "9.9"}\n');
    expect(second).toMatchObject({ kind: 'error', lineNumber: 2, code: 'InvalidHeader', fatal: true });
  });

  it('reports each kind of bad line with its number and goes on', () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const lines = readAll(
      Buffer.concat([
        enc.encode(HEADER + '{"Section": "Twins"}\n'),
        enc.encode('{"$dtId": "a",\n'), // 4: malformed
        Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d, 0x0a]), // 5: bad UTF-8
        enc.encode(`{"$dtId": "d", "x": ${deep}}\n`), // 6: deep
        enc.encode('{"$dtId": "p", "__proto__": {"polluted": 1}}\n'), // 7: forbidden key
        enc.encode('[1, 2]\n'), // 8: not an object
        enc.encode('{"name": "no id"}\n'), // 9: no $dtId
        enc.encode('{"Section": "Models"}\n'), // 10: out of order
        enc.encode('{"@id": "dtmi:x:Y;1"}\n'), // 11: in a refused section
        enc.encode('{"Section": "Relationships"}\n'), // 12: fine
        enc.encode('{"$dtId": "a", "$targetId": "b"}\n'), // 13: no $relationshipId
        enc.encode('{"Section": "Relationships"}\n'), // 14: twice
        enc.encode('{"Section": "Nope"}\n'), // 15: no such section
      ]),
    );
    const errors = lines
      .filter((l) => l.kind === 'error')
      .map((l) => [l.lineNumber, l.kind === 'error' && l.code]);
    expect(errors).toEqual([
      [4, 'InvalidJson'],
      [5, 'InvalidJson'],
      [6, 'InvalidJson'],
      [7, 'InvalidJson'],
      [8, 'InvalidItem'],
      [9, 'InvalidItem'],
      [10, 'InvalidSection'],
      [11, 'ItemOutsideSection'],
      [13, 'InvalidItem'],
      [14, 'InvalidSection'],
      [15, 'InvalidSection'],
    ]);
    const proto = lines[6]!;
    expect(proto.kind === 'error' && proto.problem?.pointer).toBe('/__proto__');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('never throws, and answers every non-blank line with a line or an error of that number (property)', () => {
    const line = fc.oneof(
      fc.constantFrom(
        '{"Section": "Header"}',
        '{"fileVersion": "1.0.0"}',
        '{"Section": "Models"}',
        '{"Section": "Twins"}',
        '{"Section": "Relationships"}',
        '{"Section": 3}',
        '{"@id": "dtmi:a:B;1"}',
        '{"$dtId": "t", "$metadata": {"$model": "dtmi:a:B;1"}}',
        '{"$dtId": "t", "$relationshipId": "r", "$targetId": "t"}',
        '{"__proto__": 1}',
        '',
        'null',
      ),
      fc.json(),
      fc.string(),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), fc.uint8Array({ maxLength: 40 }), (ls, garbage) => {
        const bytes = Buffer.concat([enc.encode(ls.join('\n')), garbage]);
        const out = readAll(bytes, 256, 5);
        const numbers = out.map((l) => l.lineNumber);
        expect(numbers).toEqual(numbers.map((_, i) => i + 1));
        for (const l of out) {
          if (l.kind === 'error') expect(l.message).toContain(`Line ${l.lineNumber}`);
        }
      }),
      { numRuns: 300 },
    );
  });
});
