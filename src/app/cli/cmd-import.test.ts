import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHistoryMapping } from '../../core/history-import/history-mapping.js';
import { mappingFromFlags, progressLine, readMappingFile } from './cmd-import.js';

const dir = mkdtempSync(path.join(tmpdir(), 'twinloop-cmd-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('twinloop import: mapping from a file and flags', () => {
  it('lets flags override the mapping file: a twin prefix keeps the column of the template', () => {
    const base = readMappingFile(
      file(
        'm.yaml',
        'delimiter: whitespace\nheader: false\ncolumns: [unit, cycle, s1]\ntwin: { column: unit, prefix: cmapss- }\ntime: { column: cycle, format: cycle, origin: "2020-01-01T00:00:00Z", stepSeconds: 3600 }\n',
      ),
    );
    const m = parseHistoryMapping(mappingFromFlags(base, { twinPrefix: 'fd001-test-' }));
    expect(m.twin.template).toBe('fd001-test-{unit}');
    const t = parseHistoryMapping(
      mappingFromFlags({ ...base, twin: { template: 'e-{unit}' } }, { twinPrefix: 'x-' }),
    );
    expect(t.twin.template).toBe('x-{unit}');
    const flagsOnly = mappingFromFlags(undefined, {
      delimiter: ';',
      header: false,
      columns: 'id, when, v',
      twinColumn: 'id',
      timeColumn: 'when',
      timeFormat: 'epoch-ms',
      createTwins: true,
      model: 'dtmi:x:Y;1',
    });
    expect(parseHistoryMapping(flagsOnly)).toMatchObject({
      delimiter: ';',
      header: false,
      columns: ['id', 'when', 'v'],
      twin: { template: '{id}' },
      time: { column: 'when', format: 'epoch-ms' },
      createTwins: { model: 'dtmi:x:Y;1' },
    });
    expect(() => mappingFromFlags(undefined, { createTwins: true })).toThrow(/--model/);
  });

  it('refuses hostile mapping files: not YAML, not an object, alias bombs, duplicate and __proto__ keys', () => {
    expect(() => readMappingFile(file('bad.yaml', 'a: [1, 2\n'))).toThrow(/bad\.yaml/);
    expect(() => readMappingFile(file('list.yaml', '- 1\n- 2\n'))).toThrow(/is an object/);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++)
      bomb.push(
        `${'b'.repeat(i)}: &${'b'.repeat(i)} [${Array(9)
          .fill(i === 1 ? '*a' : `*${'b'.repeat(i - 1)}`)
          .join(', ')}]`,
      );
    expect(() => readMappingFile(file('bomb.yaml', `${bomb.join('\n')}\n`))).toThrow(/alias|resource/i);
    expect(() => readMappingFile(file('dup.yaml', 'twin: 1\ntwin: 2\n'))).toThrow(/unique|duplicate/i);
    const proto = readMappingFile(
      file('proto.json', '{"__proto__": {"polluted": 1}, "twin": {"column": "a"}, "time": {"column": "b"}}'),
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(() => parseHistoryMapping(mappingFromFlags(proto, {}))).toThrow(/__proto__|Unknown key/);
    expect(() => readMappingFile(file('big.yaml', `x: "${'y'.repeat(1_100_000)}"\n`))).toThrow(
      /at most 1 MiB/,
    );
  });

  it('draws a progress line with percent, rate and time left', () => {
    const line = progressLine(
      {
        id: 'j',
        status: 'running',
        progress: {
          bytesRead: 250,
          totalBytes: 1000,
          rows: 12345,
          rowsStored: 12000,
          points: 1,
          badRows: 2,
          twinsCreated: 0,
          rowsPerSecond: 9876,
          elapsedMs: 10_000,
        },
      },
      8,
    );
    expect(line).toBe('[##------]  25.0%  12,345 rows  9,876 rows/s  0:30 left  2 bad');
  });
});
