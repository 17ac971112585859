import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileImportIo } from './file-import-io.js';

let server: http.Server;
let base: string;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-importio-'));

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/ok') return res.end('{"Section": "Header"}\n');
    if (req.url === '/big-declared') {
      res.setHeader('content-length', '5000');
      return res.end('x'.repeat(5000));
    }
    if (req.url === '/big-chunked') {
      res.write('x'.repeat(600));
      res.write('x'.repeat(600));
      return res.end('x'.repeat(600));
    }
    if (req.url === '/slow') {
      res.write('{"Section": "Header"}\n'); // then nothing: the time budget ends it
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

function io(options: Partial<ConstructorParameters<typeof FileImportIo>[0]> = {}) {
  return new FileImportIo({
    importsDir: path.join(dir, 'imports'),
    logsDir: path.join(dir, 'jobs'),
    maxInputBytes: 1000,
    httpInput: true,
    httpTimeoutMs: 1000,
    ...options,
  });
}

async function drain(stream: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of stream) n += c.length;
  return n;
}

describe('FileImportIo over http(s)', () => {
  it('streams an input within its budgets', async () => {
    const input = await io().openInput(`${base}/ok`);
    expect(await drain(input.stream)).toBe(22);
  });

  it('refuses inputs over the size budget, declared or not, and a source that is too slow', async () => {
    await expect(io().openInput(`${base}/big-declared`)).rejects.toMatchObject({ code: 'PayloadTooLarge' });
    const chunked = await io().openInput(`${base}/big-chunked`);
    await expect(drain(chunked.stream)).rejects.toMatchObject({ code: 'PayloadTooLarge' });
    const slow = await io().openInput(`${base}/slow`);
    await expect(drain(slow.stream)).rejects.toMatchObject({ code: 'ServiceUnavailable' });
    await expect(io().openInput(`${base}/missing?sig=secret`)).rejects.toThrow(/answered 404/);
    await expect(io().openInput(`${base}/missing?sig=secret`)).rejects.not.toThrow(/secret/);
  });

  it('refuses http inputs when jobs.httpInput is off', () => {
    expect(() => io({ httpInput: false }).checkUris(`${base}/ok`, 'https://x/y')).toThrow(/jobs.httpInput/);
  });

  it('keeps an upload over the budget nowhere', async () => {
    const x = io();
    await expect(
      x.saveUpload(
        'j',
        (async function* () {
          yield new Uint8Array(600);
          yield new Uint8Array(600);
        })(),
      ),
    ).rejects.toMatchObject({ code: 'PayloadTooLarge' });
    expect(fs.readdirSync(x.folder)).toEqual([]);
  });
});
