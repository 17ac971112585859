/**
 * History import end to end: a running platform, the `twinloop import` CLI with the shipped C-MAPSS
 * example (model, mapping) on a C-MAPSS-like file with bad rows and a truncated last line; the bad
 * rows downloaded beside it; history as stored; a re-import that stores nothing twice; a failed job
 * gives exit code 1; hostile requests to the routes (mapping with __proto__, deep nesting, wrong
 * media type, cross-site, unknown ids and models).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { cliFor, root } from '../cli/cli-runner.js';
import { API, startTestPlatform, tempDataDir } from './platform-fixture.js';

const data = tempDataDir('twinloop-hist-import-');
const cli = cliFor(data.dir);
let platform: Platform;
const EXAMPLE = path.join(root, 'examples/cmapss');
const H = 3_600_000;
const T0 = Date.UTC(2020, 0, 1);

/** A C-MAPSS-like row: unit, cycle, 3 settings, 21 sensors (sensor k = unit * 100 + cycle + k / 100). */
function row(unit: number, cycle: number): string {
  const sensors = Array.from({ length: 21 }, (_, k) => (unit * 100 + cycle + (k + 1) / 100).toFixed(2));
  return `${unit} ${cycle} 0.0001 -0.0002 100.0 ${sensors.join(' ')}  `;
}

function api(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  return fetch(`${platform.runtime.httpUrl}${url}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function s(twinId: string, p: string) {
  return (
    await platform.storage.history.queryRaw({
      workspace: 'default',
      twinId,
      path: p,
      from: 0,
      to: Date.UTC(2100, 0, 1),
      limit: 10_000,
    })
  ).points;
}

describe('history import (CLI, job, routes)', () => {
  beforeAll(async () => {
    platform = await startTestPlatform(data.dir, { pilot: 'none' });
    const model = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'turbofan.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    await platform.models.add([model]);
  });
  afterAll(async () => {
    await platform?.stop();
    data.cleanup();
  });

  it('imports a C-MAPSS file with the example mapping: one twin per engine, bad rows aside, good rows kept', async () => {
    const lines: string[] = [];
    for (let unit = 1; unit <= 3; unit++) for (let c = 1; c <= 40; c++) lines.push(row(unit, c));
    lines[10] = lines[10]!.replace(/ \S+ {2}$/, ' 12.3.4  '); // a bad number (unit 1, cycle 11, s21)
    lines[50] = '2 11 0.1'; // wrong columns
    const file = path.join(data.dir, 'train_FD999.txt');
    // The last row is cut short (a truncated file): 3 40 … without its sensors.
    fs.writeFileSync(file, `${lines.join('\n')}\n3 41 0.0001 -0.0002 100.0`);
    const r = await cli(
      'import',
      file,
      '--mapping',
      path.join(EXAMPLE, 'mapping.yaml'),
      '--twin-prefix',
      'fd999-train-',
    );
    expect(r.stderr).toContain('rows/s');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /succeeded: 121 rows read, 119 stored \(2,855 points\), 3 bad rows, 3 twins created/,
    );
    const bad = fs.readFileSync(`${file}.bad-rows.txt`, 'utf8');
    expect(bad).toContain(
      "# train_FD999.txt:11:26 InvalidValue: column 's21' (telemetry s21): '12.3.4' is not a number\n1 11 ",
    );
    expect(bad).toContain(
      '# train_FD999.txt:51:4 WrongColumnCount: the row has 3 fields, the file has 26 columns\n2 11 0.1\n',
    );
    expect(bad).toContain('# train_FD999.txt:121:6 WrongColumnCount: the row has 5 fields');
    expect(platform.graph.getTwin('fd999-train-2')?.contents).toEqual({ unitNumber: 2 });
    const s3 = await s('fd999-train-3', 's3');
    expect(s3).toHaveLength(40);
    expect(s3[0]).toEqual({ ts: T0 + H, value: 301.03 });
    expect(s3[39]).toEqual({ ts: T0 + 40 * H, value: 340.03 });
    // Row 11's other values are stored; only its s21 is not.
    expect((await s('fd999-train-1', 's20')).map((p) => p.ts)).toContain(T0 + 11 * H);
    expect((await s('fd999-train-1', 's21')).map((p) => p.ts)).not.toContain(T0 + 11 * H);

    // The same file again, with the default prefix replaced the same way: nothing stored twice.
    const again = await cli(
      'import',
      file,
      '--mapping',
      path.join(EXAMPLE, 'mapping.yaml'),
      '--twin-prefix',
      'fd999-train-',
      '--bad-rows-out',
      path.join(data.dir, 'again.txt'),
    );
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 twins created');
    expect(await s('fd999-train-3', 's3')).toHaveLength(40);
    const list = (await (await api('GET', `/jobs/history-imports?${API}`)).json()) as {
      value: { status: string }[];
    };
    expect(list.value.map((j) => j.status)).toEqual(['succeeded', 'succeeded']);
  });

  it('exits 1 when the job fails, saying why (a telemetry the model lacks)', async () => {
    const file = path.join(data.dir, 'wrong.csv');
    fs.writeFileSync(file, 'engine,t,speed\nx1,2024-01-01T00:00:00Z,5\n');
    const r = await cli(
      'import',
      file,
      '--twin-column',
      'engine',
      '--time-column',
      't',
      '--create-twins',
      '--model',
      'dtmi:twinloop:example:cmapss:Turbofan;1',
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /failed: .*\n[\s\S]*error ValidationFailed: .*has no telemetry for column\(s\) 'speed' → speed/,
    );
  });

  it('reports mapping problems before uploading anything', async () => {
    const file = path.join(data.dir, 'x.csv');
    fs.writeFileSync(file, 'a,b\n');
    const r = await cli('import', file, '--time-column', 'a', '--time-format', 'weekly');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /ValidationFailed: The mapping is not valid\.[\s\S]*#\/twin[\s\S]*#\/time\/format/,
    );
  });

  it('refuses hostile requests with clear errors', async () => {
    const upload = await api('PUT', `/jobs/history-imports/h1/input?${API}`, 'a,b,c\n1,2,3\n', {
      'content-type': 'text/csv',
    });
    expect(upload.status).toBe(201);
    const { inputBlobUri } = (await upload.json()) as { inputBlobUri: string };
    const mapping = { twin: { column: 'a' }, time: { column: 'b', format: 'epoch-s' } };
    const put = (id: string, body: unknown, headers: Record<string, string> = {}) =>
      api('PUT', `/jobs/history-imports/${id}?${API}`, body, headers);
    const code = async (r: Response) =>
      ((await r.json()) as { error: { code: string; message: string } }).error;

    const proto = await put(
      'h2',
      `{"inputBlobUri":"${inputBlobUri}","mapping":{"__proto__":{"x":1},"twin":{"column":"a"},"time":{"column":"b"}}}`,
    );
    expect(proto.status).toBe(400);
    const ctor = await put('h2', { inputBlobUri, mapping: { ...mapping, telemetry: { constructor: 'x' } } });
    expect(ctor.status).toBe(400);
    expect((await code(ctor)).message).toMatch(/constructor/);
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const deepBody = `{"inputBlobUri":"${inputBlobUri}","mapping":{"twin":{"column":"a"},"time":{"column":"b"},"telemetry":${deep}}}`;
    expect((await put('h2', deepBody)).status).toBe(400);
    const noModel = await put('h2', {
      inputBlobUri,
      mapping: { ...mapping, createTwins: { model: 'dtmi:no:Such;1' } },
    });
    expect(await code(noModel)).toMatchObject({
      code: 'ValidationFailed',
      message: expect.stringMatching(/no model/),
    });
    const outside = await put('h2', { inputBlobUri: 'file:///etc/passwd', mapping });
    expect((await code(outside)).message).toMatch(/inside the imports folder/);
    // text/plain may come cross-site from a browser form: refused; so is a cross-site request.
    expect(
      (await api('PUT', `/jobs/history-imports/h3/input?${API}`, 'a,b', { 'content-type': 'text/plain' }))
        .status,
    ).toBe(415);
    expect((await put('h2', { inputBlobUri, mapping }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await put('h2', { inputBlobUri, mapping }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    const nf = await api('GET', `/jobs/history-imports/nope?${API}`);
    expect(nf.status).toBe(404);
    expect((await code(nf)).code).toBe('HistoryImportJobNotFound');
    // A good one, then its bad rows (twin 1 does not exist), cancel of a finished job, delete.
    expect((await put('h2', { inputBlobUri, mapping })).status).toBe(201);
    let job: { status: string; progress: { badRows: number } };
    do {
      await new Promise((r) => setTimeout(r, 50));
      job = (await (await api('GET', `/jobs/history-imports/h2?${API}`)).json()) as typeof job;
    } while (!['succeeded', 'failed', 'cancelled'].includes(job.status));
    expect(job).toMatchObject({ status: 'succeeded', progress: { badRows: 1 } });
    const badRows = await (await api('GET', `/jobs/history-imports/h2/bad-rows?${API}`)).text();
    expect(badRows).toMatch(
      /^a,b,c\n# history-h1-[0-9a-f]{12}\.upload:2 TwinNotFound: there is no twin '1' \(set createTwins in the mapping to create it\)\n1,2,3\n$/,
    );
    expect((await api('POST', `/jobs/history-imports/h2/cancel?${API}`)).status).toBe(400);
    expect((await api('DELETE', `/jobs/history-imports/h2?${API}`)).status).toBe(204);
    expect((await api('GET', `/jobs/history-imports/h2?${API}`)).status).toBe(404);
  });
});
