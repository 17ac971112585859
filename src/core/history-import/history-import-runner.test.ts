// History import on real parts (DTDL registry, twin service, SQLite history in a temp folder):
// C-MAPSS-like and CSV files, malformed files (wrong columns, bad numbers, truncated, wrong
// encoding), re-import without duplicates, and chunk boundaries that never change the outcome.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestWorkspace, type TestWorkspace } from '../../../test/adt-sdk/workspace-fixture.js';
import { parseHistoryMapping } from './history-mapping.js';
import { runHistoryImport, type HistoryImportOutcome } from './history-import-runner.js';
import { serviceHistoryTarget } from './service-target.js';

const ENGINE = {
  '@id': 'dtmi:test:Engine;1',
  '@type': 'Interface',
  '@context': 'dtmi:dtdl:context;3',
  contents: [
    { '@type': 'Property', name: 'unitNumber', schema: 'integer' },
    { '@type': 'Telemetry', name: 'setting1', schema: 'double' },
    { '@type': 'Telemetry', name: 's1', schema: 'double' },
    { '@type': 'Telemetry', name: 's2', schema: 'integer' },
    { '@type': 'Telemetry', name: 'ok', schema: 'boolean' },
  ],
};

const CMAPSS_LIKE = {
  delimiter: 'whitespace',
  header: false,
  columns: ['unit', 'cycle', 'setting1', 's1', 's2'],
  twin: { template: 'eng-{unit}' },
  time: { column: 'cycle', format: 'cycle', origin: '2020-01-01T00:00:00Z', stepSeconds: 3600 },
  createTwins: { model: 'dtmi:test:Engine;1', properties: { unitNumber: 'unit' } },
};
const H = 3_600_000;
const T0 = Date.UTC(2020, 0, 1);

describe('runHistoryImport', () => {
  let w: TestWorkspace;
  beforeEach(async () => {
    w = await openTestWorkspace();
    await w.models.add([ENGINE]);
  });
  afterEach(async () => {
    await w.close();
  });

  async function run(
    input: string | Uint8Array | Uint8Array[],
    mapping: unknown,
    over: { batchPoints?: number; probeRows?: number; maxBadRows?: number; cancelled?: () => boolean } = {},
  ): Promise<{ r: HistoryImportOutcome; bad: string; badBytes: Uint8Array }> {
    const chunks = Array.isArray(input)
      ? input
      : [typeof input === 'string' ? new TextEncoder().encode(input) : input];
    const parts: Uint8Array[] = [];
    const enc = new TextEncoder();
    const r = await runHistoryImport({
      fileName: 'f.txt',
      input: (async function* () {
        yield* chunks;
      })(),
      mapping: parseHistoryMapping(mapping),
      target: serviceHistoryTarget({
        workspace: 'default',
        models: w.models,
        graph: w.graph,
        twins: w.twins,
        history: w.storage.history,
      }),
      badRows: {
        header: async (raw) => {
          parts.push(...raw, enc.encode('\n'));
        },
        write: async (raw, reasons) => {
          for (const reason of reasons) parts.push(enc.encode(`# ${reason}\n`));
          for (const [i, b] of raw.entries()) parts.push(b, enc.encode(i < raw.length - 1 ? '\n' : '\n'));
        },
      },
      batchPoints: over.batchPoints ?? 7,
      maxRowBytes: 4096,
      sliceMs: 10,
      maxBadRows: over.maxBadRows ?? 1000,
      ...(over.probeRows !== undefined ? { probeRows: over.probeRows } : {}),
      yieldNow: () => new Promise((res) => setImmediate(res)),
      cancelled: over.cancelled ?? (() => false),
      onProgress: () => undefined,
      now: Date.now,
    });
    const badBytes = Buffer.concat(parts);
    return { r, bad: Buffer.from(badBytes).toString('latin1'), badBytes };
  }

  async function series(twinId: string, path: string): Promise<{ ts: number; value: unknown }[]> {
    const page = await w.storage.history.queryRaw({
      workspace: 'default',
      twinId,
      path,
      from: 0,
      to: Date.UTC(2100, 0, 1),
      limit: 10_000,
    });
    return page.points;
  }

  it('imports a C-MAPSS-like file: one twin per unit, cycles as hours from the origin, twins created with properties', async () => {
    const file = '1 1 -0.0007 518.67 641\n1 2 0.0019 518.67 642  \n2 1 0.0010 518.60 640  \n';
    const { r, bad } = await run(file, CMAPSS_LIKE);
    expect(r.status).toBe('succeeded');
    expect(r.progress).toMatchObject({ rows: 3, rowsStored: 3, points: 9, badRows: 0, twinsCreated: 2 });
    expect(bad).toBe('');
    expect(w.graph.getTwin('eng-1')?.modelId).toBe('dtmi:test:Engine;1');
    expect(w.graph.getTwin('eng-2')?.contents).toMatchObject({ unitNumber: 2 });
    expect(await series('eng-1', 's1')).toEqual([
      { ts: T0 + H, value: 518.67 },
      { ts: T0 + 2 * H, value: 518.67 },
    ]);
    expect(await series('eng-2', 's2')).toEqual([{ ts: T0 + H, value: 640 }]);
  });

  it('stores nothing twice when the same file is imported again', async () => {
    const file = '1 1 0.1 1.5 3\n1 2 0.2 1.6 4\n';
    await run(file, CMAPSS_LIKE);
    const again = await run(file, CMAPSS_LIKE);
    expect(again.r.status).toBe('succeeded');
    expect(again.r.progress.twinsCreated).toBe(0);
    expect(await series('eng-1', 'setting1')).toEqual([
      { ts: T0 + H, value: 0.1 },
      { ts: T0 + 2 * H, value: 0.2 },
    ]);
  });

  it('keeps the good rows of a malformed file and writes each bad one aside with file:line:column and a code', async () => {
    const lines = [
      '1 1 0.1 1.5 3', // good
      '1 2 0.2 1.6', // wrong columns
      '1 3 0.3 abc 5', // bad number: the other values are kept
      '1 x 0.4 1.8 6', // bad cycle
      '1 5 0.5 1.9 7.5', // not an integer for s2
      '1 6 0.6 2.0 8 9', // too many
      '', // blank: skipped
      '1 7 0.7 2.1 9', // good
      '1 8 0.8', // truncated last line (no newline)
    ];
    const { r, bad } = await run(lines.join('\n'), CMAPSS_LIKE);
    expect(r.status).toBe('succeeded');
    expect(r.progress).toMatchObject({ rows: 8, badRows: 6, rowsStored: 4 });
    expect(bad).toContain(
      '# f.txt:2:5 WrongColumnCount: the row has 4 fields, the file has 5 columns\n1 2 0.2 1.6\n',
    );
    expect(bad).toContain(
      "# f.txt:3:4 InvalidValue: column 's1' (telemetry s1): 'abc' is not a number\n1 3 0.3 abc 5\n",
    );
    expect(bad).toContain("# f.txt:4:2 InvalidTime: column 'cycle': 'x' is not a cycle number");
    expect(bad).toMatch(/# f\.txt:5:5 InvalidValue: column 's2' \(telemetry s2\): .*\n1 5 0\.5 1\.9 7\.5\n/);
    expect(bad).toContain('# f.txt:6:6 WrongColumnCount');
    expect(bad).toContain('# f.txt:9:4 WrongColumnCount: the row has 3 fields');
    // The good values of row 3 and 5 were stored; row 4's (bad time) not.
    expect((await series('eng-1', 'setting1')).map((p) => p.value)).toEqual([0.1, 0.3, 0.5, 0.7]);
    expect((await series('eng-1', 's1')).map((p) => p.value)).toEqual([1.5, 1.9, 2.1]);
  });

  it('reports bytes that are not UTF-8 with the field and byte offset, and reads the rest', async () => {
    const enc = new TextEncoder();
    const bytes = Buffer.concat([
      enc.encode('1 1 0.1 1.5 3\n1 2 0.2 '),
      Uint8Array.of(0xe9), // Latin-1 é
      enc.encode('1.6 4\n1 3 0.3 1.7 5\n'),
    ]);
    const { r, badBytes } = await run(bytes, CMAPSS_LIKE);
    expect(r.status).toBe('succeeded');
    expect(r.progress).toMatchObject({ rows: 3, badRows: 1, rowsStored: 2 });
    const text = Buffer.from(badBytes).toString('latin1');
    expect(text).toMatch(/^# f\.txt:2:4 InvalidEncoding: byte 8 of line 2 \(0xe9\) is not UTF-8 text/);
    // The bad row is kept byte for byte.
    expect(Buffer.from(badBytes).includes(Buffer.from([0x20, 0x30, 0x2e, 0x32, 0x20, 0xe9]))).toBe(true);
    // The same file as latin1 reads the byte as text: then it is a bad number.
    const latin = await run(bytes, { ...CMAPSS_LIKE, encoding: 'latin1' });
    expect(Buffer.from(latin.badBytes).toString('utf8')).toContain(
      "InvalidValue: column 's1' (telemetry s1): 'é1.6' is not a number",
    );
  });

  it('fails a UTF-16 file at once with a clear reason', async () => {
    const utf16 = Buffer.from('\ufeff1 1 0.1 1.5 3\n', 'utf16le');
    const { r } = await run(utf16, CMAPSS_LIKE);
    expect(r.status).toBe('failed');
    expect(r.status === 'failed' && r.error.message).toMatch(/UTF-16.*save it as UTF-8/);
    // Without its byte order mark: each row is refused as not text, then the probe fails the job.
    const noBom = await run(Buffer.from('1 1 0.1 1.5 3\n1 2 0.2 1.6 4\n', 'utf16le'), CMAPSS_LIKE, {
      probeRows: 2,
    });
    expect(noBom.r.status === 'failed' && noBom.r.error.message).toMatch(
      /first 2 rows were all refused.*f\.txt:1:1 InvalidEncoding: byte 1 of line 1 is NUL: this is not text \(a UTF-16 file\?/,
    );
  });

  it('reads a CSV with a BOM, CRLF, a header, quotes (one spanning lines) and ISO and epoch times', async () => {
    await w.twins.createOrReplace('e1', { $metadata: { $model: 'dtmi:test:Engine;1' } });
    const csv =
      '\ufeffengine,when,"s one",flag,note\r\n' +
      'e1,2024-01-01T00:00:00Z,"1,5",true,"a ""quoted"" note"\r\n' +
      'e1,2024-01-01T02:00:00+01:00,2.5,0,"two\nlines"\r\n' +
      'e1,2024-01-02 00:00,3.5,,x\r\n' +
      'e1,2024-02-30T00:00:00Z,4.5,1,x\r\n' +
      'e1,2024-01-03T00:00:00Z,"5.5"x,1,x\r\n';
    const mapping = {
      twin: { column: 'engine' },
      time: { column: 'when', format: 'iso' },
      telemetry: { 's one': 's1', flag: 'ok' },
    };
    const { r, bad } = await run(csv, mapping);
    expect(r.status).toBe('succeeded');
    expect(r.progress).toMatchObject({ rows: 5, badRows: 3, rowsStored: 3 });
    // "1,5" is not a number (a decimal comma): that value is refused, the flag is kept.
    expect(bad).toContain("# f.txt:2:3 InvalidValue: column 's one' (telemetry s1): '1,5' is not a number");
    expect(bad).toContain(
      "# f.txt:6:2 InvalidTime: column 'when': '2024-02-30T00:00:00Z' is not an ISO 8601 time",
    );
    expect(bad).toContain('# f.txt:7:3 InvalidQuote');
    expect(bad.startsWith('engine,when,"s one",flag,note\n# f.txt:2:3')).toBe(true); // the header first, without its BOM
    expect(await series('e1', 's1')).toEqual([
      { ts: Date.UTC(2024, 0, 1, 1), value: 2.5 },
      { ts: Date.UTC(2024, 0, 2), value: 3.5 },
    ]);
    expect(await series('e1', 'ok')).toEqual([
      { ts: Date.UTC(2024, 0, 1), value: true },
      { ts: Date.UTC(2024, 0, 1, 1), value: false },
    ]);
  });

  it('refuses rows of unknown twins when twins are not created', async () => {
    const m = { ...CMAPSS_LIKE, createTwins: undefined };
    delete (m as Record<string, unknown>).createTwins;
    const { r, bad } = await run('9 1 0.1 1.5 3\n', m);
    expect(r.status).toBe('succeeded');
    expect(r.progress.badRows).toBe(1);
    expect(bad).toContain("# f.txt:1 TwinNotFound: there is no twin 'eng-9'");
    expect(w.graph.getTwin('eng-9')).toBeUndefined();
  });

  it('fails when the mapping names a column the file lacks, or a telemetry the model lacks', async () => {
    const noCol = await run('a,b\n1,2\n', { twin: { column: 'engine' }, time: { column: 'a' } });
    expect(noCol.r.status === 'failed' && noCol.r.error.details?.[0]?.message).toMatch(
      /\/twin\/template: There is no column 'engine'/,
    );
    const noTel = await run('1 1 0.1 1.5 3\n', {
      ...CMAPSS_LIKE,
      columns: ['unit', 'cycle', 'setting1', 's1', 's9'],
    });
    expect(noTel.r.status === 'failed' && noTel.r.error.message).toMatch(
      /has no telemetry for column\(s\) 's9' → s9/,
    );
  });

  it('fails when the first rows are all refused (the mapping does not fit), keeping them aside', async () => {
    const file = Array.from({ length: 50 }, (_, i) => `1 ${i} a b c`).join('\n');
    const { r, bad } = await run(file, CMAPSS_LIKE, { probeRows: 20 });
    expect(r.status).toBe('failed');
    expect(r.status === 'failed' && r.error.message).toMatch(/first 20 rows were all refused/);
    expect(bad.split('\n# ').length).toBeGreaterThanOrEqual(20);
  });

  it('stops past maxBadRows with LimitExceeded, what was stored stays', async () => {
    const file = '1 1 0.1 1.5 3\n' + Array.from({ length: 10 }, (_, i) => `1 ${i + 2} 0.1`).join('\n');
    const { r } = await run(file, CMAPSS_LIKE, { maxBadRows: 3 });
    expect(r.status === 'failed' && r.error.code).toBe('LimitExceeded');
    expect(await series('eng-1', 's1')).toHaveLength(1);
  });

  it('fails when the input breaks off, keeping what was read before', async () => {
    const enc = new TextEncoder();
    const r = await runHistoryImport({
      fileName: 'f.txt',
      input: (async function* () {
        yield enc.encode('1 1 0.1 1.5 3\n1 2 0.2 1.6 4\n');
        throw new Error('connection reset');
      })(),
      mapping: parseHistoryMapping(CMAPSS_LIKE),
      target: serviceHistoryTarget({
        workspace: 'default',
        models: w.models,
        graph: w.graph,
        twins: w.twins,
        history: w.storage.history,
      }),
      badRows: { header: async () => undefined, write: async () => undefined },
      batchPoints: 1000,
      sliceMs: 10,
      maxRowBytes: 4096,
      maxBadRows: 10,
      yieldNow: () => new Promise((res) => setImmediate(res)),
      cancelled: () => false,
      onProgress: () => undefined,
      now: Date.now,
    });
    expect(r.status === 'failed' && r.error.message).toBe(
      'The input could not be read to its end: connection reset',
    );
    expect(r.progress).toMatchObject({ rows: 2, rowsStored: 2 });
    expect((await series('eng-1', 's1')).map((p) => p.value)).toEqual([1.5, 1.6]);
  });

  it('stops at the next chunk when cancelled, keeping the rows read before', async () => {
    const enc = new TextEncoder();
    let chunks = 0;
    const { r } = await run(
      [enc.encode('1 1 0.1 1.5 3\n1 2 0.2 1.6 4\n'), enc.encode('1 3 0.3 1.7 5\n')],
      CMAPSS_LIKE,
      { batchPoints: 1000, cancelled: () => ++chunks >= 1 },
    );
    expect(r.status).toBe('cancelled');
    expect(r.progress).toMatchObject({ rows: 2, rowsStored: 2, points: 6 });
    expect((await series('eng-1', 's1')).map((p) => p.value)).toEqual([1.5, 1.6]);
  });

  it('gives the same history and bad rows however the bytes are cut into chunks (property)', async () => {
    const file = new TextEncoder().encode(
      '1 1 0.1 1.5 3\n1 2 bad 1.6 4\n2 1 0.3 1.7 5\n2 2 0.4\n2 3 0.5 1.9 7  \n',
    );
    const baseline = await run(file, CMAPSS_LIKE);
    const want = { bad: baseline.bad, s1: await series('eng-2', 's1') };
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: file.length - 1 }), { maxLength: 8 }),
        async (cuts) => {
          const at = [0, ...cuts.sort((a, b) => a - b), file.length];
          const chunks = at.slice(1).map((end, i) => file.slice(at[i], end));
          const again = await run(chunks, CMAPSS_LIKE, { batchPoints: 2 });
          expect(again.r.progress).toMatchObject({ rows: 5, badRows: 2 });
          expect(again.bad).toBe(want.bad);
          expect(await series('eng-2', 's1')).toEqual(want.s1);
        },
      ),
      { numRuns: 25 },
    );
  });
});
