/**
 * ADT's import and delete jobs end to end over raw REST (the JS SDK 1.1.0 has no job methods): a
 * file of a few thousand twins and relationships with one bad line of every kind, uploaded and
 * named by file URI; the output log names each bad line; good items are all there; cancel; a stop
 * mid-job; file URIs outside the imports folder refused; hostile requests; a delete job.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliLayer, resolveConfig, type ConfigLayer } from '../../src/app/config.js';
import { startPlatform, type Platform } from '../../src/app/platform.js';
import { BAD_KINDS, writeImportFile, type BadKind, type ImportFileFacts } from '../support/import-file.js';
import { cliFor } from '../cli/cli-runner.js';
import { API, tempDataDir, waitFor } from './platform-fixture.js';

const data = tempDataDir('twinloop-import-');
let platform: Platform;
let importsDir: string;

async function start(jobs: ConfigLayer['jobs'] = {}): Promise<Platform> {
  const config = resolveConfig([
    cliLayer({
      data: data.dir,
      httpPort: '0',
      mqttPort: '0',
      logLevel: 'silent',
      sim: 'off',
      shadow: 'off',
      pilot: 'none',
    }),
    { jobs: { maxLineKiB: 64, batchSize: 100, ...jobs } },
  ]);
  return startPlatform(config, { logger: pino({ level: 'silent' }), banner: false });
}

function api(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  return fetch(`${platform.runtime.httpUrl}${url}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

type Job = {
  id: string;
  status: string;
  error?: { code: string };
  progress: Record<string, number>;
} & Record<string, unknown>;

async function job(id: string, kind = 'imports'): Promise<Job> {
  return (await (await api('GET', `/jobs/${kind}/${encodeURIComponent(id)}?${API}`)).json()) as Job;
}

async function finished(id: string, kind = 'imports'): Promise<Job> {
  let last: Job | undefined;
  const deadline = Date.now() + 60_000;
  for (;;) {
    last = await job(id, kind);
    if (['succeeded', 'failed', 'cancelled'].includes(last.status)) return last;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${last.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function output(id: string): Promise<Record<string, unknown>[]> {
  const text = await (await api('GET', `/jobs/imports/${encodeURIComponent(id)}/output?${API}`)).text();
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const EXPECTED_CODE: Record<BadKind, string[]> = {
  malformedJson: ['InvalidJson'],
  badUtf8: ['InvalidJson'],
  unknownModel: ['ValidationFailed'],
  invalidTwin: ['ValidationFailed'],
  duplicateTwin: ['DigitalTwinAlreadyExists'],
  protoKey: ['InvalidJson'],
  deepJson: ['InvalidJson'],
  hugeLine: ['LineTooLong'],
  missingTarget: ['InvalidRelationship', 'TargetTwinNotFound'],
  duplicateRelationship: ['RelationshipAlreadyExists'],
  relationshipWithoutId: ['InvalidItem'],
  sectionOutOfOrder: ['InvalidSection', 'ItemOutsideSection'],
};

beforeAll(async () => {
  platform = await start();
  importsDir = platform.importIo.folder;
});
afterAll(async () => {
  await platform?.stop();
  data.cleanup();
});

describe('import jobs', () => {
  let facts: ImportFileFacts;

  it('imports a few thousand twins and relationships, logging every bad line with its number and reason', async () => {
    const file = path.join(importsDir, 'graph.ndjson');
    facts = await writeImportFile(file, {
      twins: 2000,
      relationships: 3000,
      bad: BAD_KINDS,
      hugeLineBytes: 200_000,
    });
    const outputUri = pathToFileURL(path.join(importsDir, 'graph.log.ndjson')).href;
    const res = await api('PUT', `/jobs/imports/big?${API}`, {
      inputBlobUri: pathToFileURL(file).href,
      outputBlobUri: outputUri,
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as Job;
    expect(created).toMatchObject({ id: 'big', outputBlobUri: outputUri });
    expect(created.createdDateTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    const done = await finished('big');
    expect(done.status).toBe('succeeded');
    expect(done).toHaveProperty('finishedDateTime');
    expect(done).toHaveProperty('purgeDateTime');
    expect(done.progress).toMatchObject({
      models: 2,
      twins: facts.twins,
      relationships: facts.relationships,
      lines: facts.lines,
      bytesRead: facts.bytes,
      totalBytes: facts.bytes,
    });
    // Every good item is there, none of the bad ones.
    expect(platform.graph.twinCount).toBe(facts.twins);
    expect(platform.graph.relationshipCount).toBe(facts.relationships);
    for (const bad of ['broken', 'nomodel', 'invalid', 'proto', 'deep', 'huge', 'late'])
      expect(platform.graph.getTwin(bad)).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const log = await output('big');
    expect(log[0]).toMatchObject({
      jobId: 'big',
      jobType: 'Import',
      logType: 'Info',
      details: { status: 'Started' },
    });
    expect(log.at(-1)).toMatchObject({
      logType: 'Info',
      details: { status: 'Succeeded', twins: facts.twins },
    });
    const errors = log
      .filter((l) => l.logType === 'Error')
      .map((l) => l.details as { lineNumber: number; code: string; message: string });
    expect(errors.map((e) => e.lineNumber).sort((a, b) => a - b)).toEqual(
      [...facts.badLines.keys()].sort((a, b) => a - b),
    );
    for (const e of errors) {
      const kind = facts.badLines.get(e.lineNumber)!;
      expect(EXPECTED_CODE[kind], `line ${e.lineNumber} (${kind}): ${e.code} ${e.message}`).toContain(e.code);
      expect(e.message.length).toBeGreaterThan(10);
    }
    expect(done.progress.errors).toBe(facts.badLines.size);
    // The log is also where outputBlobUri said.
    expect(
      fs.readFileSync(path.join(importsDir, 'graph.log.ndjson'), 'utf8').split('\n').filter(Boolean),
    ).toHaveLength(log.length);
    // The imported graph answers queries like any other.
    const q = await api('POST', `/query?${API}`, {
      query: "SELECT COUNT() FROM RELATIONSHIPS R WHERE R.$relationshipName = 'next'",
    });
    expect(((await q.json()) as { value: { COUNT: number }[] }).value[0]!.COUNT).toBe(
      facts.relationships - 1,
    );
  }, 120_000);

  it('refuses a second job with the same id, lists jobs paged, deletes finished ones', async () => {
    const again = await api('PUT', `/jobs/imports/big?${API}`, {
      inputBlobUri: 'https://x/y',
      outputBlobUri: 'https://x/z',
    });
    expect(again.status).toBe(400);
    expect(
      again.headers.get('x-ms-error-code') ??
        ((await again.json()) as { error: { code: string } }).error.code,
    ).toBe('ValidationFailed');
    // A second job: the input is uploaded through the API (streamed), then named by its URI.
    const small = path.join(data.dir, 'small.ndjson');
    await writeImportFile(small, { twins: 10, relationships: 5 });
    const up = await fetch(`${platform.runtime.httpUrl}/jobs/imports/second/input?${API}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/x-ndjson' },
      body: fs.createReadStream(small) as unknown as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    expect(up.status).toBe(201);
    const { inputBlobUri } = (await up.json()) as { inputBlobUri: string };
    expect(inputBlobUri.startsWith(pathToFileURL(importsDir).href)).toBe(true);
    expect(
      (
        await api('PUT', `/jobs/imports/second?${API}`, {
          inputBlobUri,
          outputBlobUri: 'https://blob.example/out.ndjson',
        })
      ).status,
    ).toBe(201);
    const second = await finished('second');
    expect(second.status).toBe('succeeded'); // everything exists already: each line is an error
    expect(second.progress).toMatchObject({ twins: 0, relationships: 0, errors: 2 + 11 + 6 });
    expect(
      (await output('second')).some((l) => (l.details as { code?: string }).code === 'ModelAlreadyExists'),
    ).toBe(true);

    const p1 = (await (
      await api('GET', `/jobs/imports?${API}`, undefined, { 'max-items-per-page': '1' })
    ).json()) as { value: Job[]; nextLink: string };
    expect(p1.value.map((j) => j.id)).toEqual(['big']);
    const p2 = (await (await fetch(p1.nextLink)).json()) as { value: Job[]; nextLink?: string };
    expect(p2.value.map((j) => j.id)).toEqual(['second']);
    expect(p2.nextLink).toBeUndefined();

    expect((await api('DELETE', `/jobs/imports/second?${API}`)).status).toBe(204);
    expect((await api('GET', `/jobs/imports/second?${API}`)).status).toBe(404);
    const nf = (await (await api('GET', `/jobs/imports/second?${API}`)).json()) as {
      error: { code: string };
    };
    expect(nf.error.code).toBe('ImportJobNotFound');
    expect((await api('DELETE', `/jobs/imports/second?${API}`)).status).toBe(204);
  }, 60_000);

  it('refuses file URIs outside the imports folder: traversal, encoded traversal, absolute, symlinks out', async () => {
    const outside = path.join(data.dir, 'outside.ndjson');
    fs.writeFileSync(outside, '{"Section": "Header"}\n');
    fs.symlinkSync(outside, path.join(importsDir, 'link.ndjson'));
    fs.symlinkSync(data.dir, path.join(importsDir, 'dirlink'));
    const base = pathToFileURL(importsDir).href;
    const out = `${base}/out-refused.ndjson`;
    const cases: [string, string][] = [
      [`${base}/../outside.ndjson`, out],
      [`${base}/%2e%2e/outside.ndjson`, out],
      [pathToFileURL(outside).href, out],
      ['file:///etc/passwd', out],
      [`${base}/link.ndjson`, out],
      [`${base}/dirlink/outside.ndjson`, out],
      ['file://evil.example/share/x.ndjson', out],
      ['ftp://example.com/x.ndjson', out],
      ['not a uri', out],
      [`${base}/graph.ndjson`, `${base}/../escape.log`],
      [`${base}/graph.ndjson`, `${base}/dirlink/escape.log`],
      [`${base}/graph.ndjson`, `${base}/graph.ndjson`],
    ];
    for (const [i, [input, output]] of cases.entries()) {
      const res = await api('PUT', `/jobs/imports/bad-${i}?${API}`, {
        inputBlobUri: input,
        outputBlobUri: output,
      });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status, `${input} → ${output}: ${body.error.message}`).toBe(400);
      expect(body.error.code).toBe('ValidationFailed');
    }
    expect(fs.existsSync(path.join(data.dir, 'escape.log'))).toBe(false);
  });

  it('answers hostile requests with clear errors', async () => {
    const put = (body: string | Buffer, type = 'application/json', extra: Record<string, string> = {}) =>
      fetch(`${platform.runtime.httpUrl}/jobs/imports/hostile?${API}`, {
        method: 'PUT',
        headers: { 'content-type': type, ...extra },
        body,
      });
    const codes = async (r: Response) => [
      r.status,
      ((await r.json()) as { error: { code: string } }).error.code,
    ];
    expect(
      await codes(await put('{"__proto__": {"x": 1}, "inputBlobUri": "a", "outputBlobUri": "b"}')),
    ).toEqual([400, 'BadRequest']);
    expect(await codes(await put(`{"inputBlobUri": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`))).toEqual([
      400,
      'BadRequest',
    ]);
    expect(await codes(await put(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])))).toEqual([
      400,
      'BadRequest',
    ]);
    expect(await codes(await put('inputBlobUri=a', 'application/x-www-form-urlencoded'))).toEqual([
      415,
      'UnsupportedMediaType',
    ]);
    expect(await codes(await put('{}'))).toEqual([400, 'ValidationFailed']);
    expect(
      await codes(await put(JSON.stringify({ inputBlobUri: 'x'.repeat(100), outputBlobUri: 7 }))),
    ).toEqual([400, 'ValidationFailed']);
    const longId = await api('PUT', `/jobs/imports/${'j'.repeat(200)}?${API}`, {
      inputBlobUri: 'https://a/b',
      outputBlobUri: 'https://a/c',
    });
    expect(longId.status).toBe(400);
    const crossSite = await put(
      '{"inputBlobUri": "https://a/b", "outputBlobUri": "https://a/c"}',
      'application/json',
      { origin: 'https://evil.example' },
    );
    expect(crossSite.status).toBe(403);
    const upload = await fetch(`${platform.runtime.httpUrl}/jobs/imports/hostile/input?${API}`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(await codes(upload)).toEqual([415, 'UnsupportedMediaType']);
    expect((await api('POST', `/jobs/imports/nope/cancel?${API}`)).status).toBe(404);
    expect((await api('GET', `/jobs/imports/big?api-version=1999-01-01`)).status).toBe(400);
    expect((await api('GET', `/jobs/imports?${API}&continuationToken=garbage`)).status).toBe(400);
  });

  it('cancels a running job at its next batch; a finished job cannot be cancelled', async () => {
    const file = path.join(importsDir, 'cancel.ndjson');
    const f = await writeImportFile(file, { twins: 30_000, relationships: 0 });
    // Another instance's ids: the rooms exist already, so use a fresh model-less prefix by deleting first.
    expect(
      (await api('POST', `/jobs/deletions?${API}`, undefined, { 'operation-id': 'wipe-1' })).status,
    ).toBe(202);
    expect((await finished('wipe-1', 'deletions')).status).toBe('succeeded');
    await api('PUT', `/jobs/imports/cancel-me?${API}`, {
      inputBlobUri: pathToFileURL(file).href,
      outputBlobUri: 'https://x/log',
    });
    await waitFor('progress', () => platform.graph.twinCount > 500);
    const res = await api('POST', `/jobs/imports/cancel-me/cancel?${API}`);
    expect(res.status).toBe(200);
    expect(['cancelling', 'cancelled']).toContain(((await res.json()) as Job).status);
    const done = await finished('cancel-me');
    expect(done.status).toBe('cancelled');
    expect(done.progress.twins).toBeLessThan(f.twins);
    expect(platform.graph.twinCount).toBe(done.progress.twins);
    expect((await output('cancel-me')).at(-1)).toMatchObject({ details: { status: 'Cancelled' } });
    const again = await api('POST', `/jobs/imports/cancel-me/cancel?${API}`);
    expect(again.status).toBe(400);
  }, 60_000);

  it('a job stopped mid-way by a restart is failed (JobInterrupted); what it wrote stays', async () => {
    expect(
      (await api('POST', `/jobs/deletions?${API}`, undefined, { 'operation-id': 'wipe-2' })).status,
    ).toBe(202);
    expect((await finished('wipe-2', 'deletions')).status).toBe('succeeded');
    await api('PUT', `/jobs/imports/restart-me?${API}`, {
      inputBlobUri: pathToFileURL(path.join(importsDir, 'cancel.ndjson')).href,
      outputBlobUri: 'https://x/log2',
    });
    await waitFor('progress', () => platform.graph.twinCount > 500);
    await platform.stop();
    platform = await start();
    const j = await job('restart-me');
    expect(j.status).toBe('failed');
    expect(j.error?.code).toBe('JobInterrupted');
    expect(platform.graph.twinCount).toBeGreaterThan(500);
    expect(platform.graph.twinCount).toBeLessThan(30_000);
  }, 60_000);
});

describe('twinloop jobs (CLI)', () => {
  it('uploads a file, follows the job to its end and prints its log', async () => {
    expect(
      (await api('POST', `/jobs/deletions?${API}`, undefined, { 'operation-id': 'wipe-cli' })).status,
    ).toBe(202);
    await finished('wipe-cli', 'deletions');
    const file = path.join(data.dir, 'cli.ndjson');
    await writeImportFile(file, { twins: 20, relationships: 10, bad: ['invalidTwin'] });
    const cli = cliFor(data.dir);
    const r = await cli('jobs', 'import', file, '--id', 'from-cli', '--wait');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('import job from-cli created');
    expect(r.stdout).toMatch(/succeeded: 21 twins, 11 relationships, 1 errors/);
    const log = await cli('jobs', 'log', 'from-cli');
    expect(log.stdout).toContain('"code":"ValidationFailed"');
    expect((await cli('jobs', 'delete-all')).code).toBe(2);
  }, 60_000);
});

describe('delete jobs', () => {
  it('delete every relationship, twin and model, with ADT headers and statuses', async () => {
    const file = path.join(importsDir, 'for-delete.ndjson');
    await writeImportFile(file, { twins: 50, relationships: 100 });
    await api('POST', `/jobs/deletions?${API}`, undefined, { 'operation-id': 'wipe-3' });
    await finished('wipe-3', 'deletions');
    await api('PUT', `/jobs/imports/for-delete?${API}`, {
      inputBlobUri: pathToFileURL(file).href,
      outputBlobUri: 'https://x/log3',
    });
    expect((await finished('for-delete')).status).toBe('succeeded');
    expect(platform.graph.twinCount).toBe(51);

    const res = await api('POST', `/jobs/deletions?${API}&timeoutInMinutes=60`);
    expect(res.status).toBe(202);
    const created = (await res.json()) as Job;
    expect(res.headers.get('operation-id')).toBe(created.id);
    expect(res.headers.get('operation-location')).toMatch(
      new RegExp(`/jobs/deletions/${created.id}\\?api-version=2023-10-31$`),
    );
    expect(['notstarted', 'running']).toContain(created.status);
    const done = await finished(created.id, 'deletions');
    expect(done).toMatchObject({
      status: 'succeeded',
      progress: { twins: 51, relationships: 101, models: 2 },
    });
    expect(platform.graph.twinCount).toBe(0);
    expect(platform.models.count).toBe(0);
    expect(
      (await api('POST', `/jobs/deletions?${API}`, undefined, { 'operation-id': created.id })).status,
    ).toBe(400);
    expect((await api('POST', `/jobs/deletions?${API}&timeoutInMinutes=abc`)).status).toBe(400);
    const nf = await api('GET', `/jobs/deletions/nope?${API}`);
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as { error: { code: string } }).error.code).toBe('DeleteJobNotFound');
    const list = (await (await api('GET', `/jobs/deletions?${API}`)).json()) as { value: Job[] };
    expect(list.value.map((j) => j.id)).toContain(created.id);
  }, 60_000);
});
