/**
 * Storage faults met by a whole platform: a damaged, emptied or read-only database stops the start
 * with a clear error (never a silent reset, never acknowledged writes that cannot be read back);
 * /readyz fails while writes fail; a committed twin write whose history fails says so; dead-letter
 * pages are bounded in bytes; a data path that is a file is one clear line from the CLI.
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import {
  allowWrites,
  damageEnd,
  deniesOpenWriters,
  denyWrites,
} from '../../src/adapters/sqlite/sqlite-fault-fixture.js';
import { pino } from 'pino';
import { cliLayer, resolveConfig } from '../../src/app/config.js';
import { startPlatform } from '../../src/app/platform.js';
import { API, startTestPlatform, tempDataDir, waitFor } from './platform-fixture.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const exec = promisify(execFile);
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function seeded(points = 0): Promise<string> {
  const data = tempDataDir('twinloop-faults-');
  cleanups.push(() => data.cleanup());
  const p = await startTestPlatform(data.dir);
  try {
    if (points > 0) {
      await p.storage.history.append(
        Array.from({ length: points }, (_, i) => ({
          workspace: 'default',
          twinId: ['pump-1a', 'pump-3a'][i % 2]!,
          path: 'flow',
          kind: 'telemetry' as const,
          ts: 1.7e12 + i * 10,
          value: i,
        })),
      );
    }
  } finally {
    await p.stop();
  }
  return data.dir;
}

async function started(dir: string): Promise<Platform> {
  const p = await startTestPlatform(dir);
  cleanups.push(() => p.stop());
  return p;
}

describe('storage faults at start', () => {
  it('refuses an emptied (zero-length) database instead of seeding the pilot again', async () => {
    const dir = await seeded(60_000);
    const db = path.join(dir, 'twinloop.db');
    truncateSync(db, 0);
    await expect(startTestPlatform(dir)).rejects.toMatchObject({
      code: 'StorageCorrupt',
      message: expect.stringMatching(/is empty \(0 bytes\).*holds data/),
    });
    expect(statSync(db).size).toBe(0); // nothing written over it
    expect(existsSync(path.join(dir, 'runtime.json'))).toBe(false);
  });

  it('refuses a database damaged at its end before acknowledging anything', async () => {
    const dir = await seeded(60_000);
    damageEnd(path.join(dir, 'twinloop.db'));
    await expect(startTestPlatform(dir)).rejects.toMatchObject({
      code: 'StorageCorrupt',
      message: expect.stringMatching(/is damaged/),
    });
  });

  it('checks a database above the start bound in the background: damage makes /readyz fail', async () => {
    const dir = await seeded(60_000);
    damageEnd(path.join(dir, 'twinloop.db'));
    const config = resolveConfig([
      { storage: { integrityCheckMaxMB: 0.01 } }, // the file is bigger: not checked before starting
      cliLayer({ data: dir, httpPort: '0', mqttPort: '0', sim: 'off', shadow: 'off' }),
    ]);
    const p = await startPlatform(config, { logger: pino({ level: 'silent' }), banner: false });
    cleanups.push(() => p.stop());
    await waitFor('the background check', () => !p.storage.health.check().ready);
    const res = await fetch(`${p.runtime.httpUrl}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      checks: { storage: { status: 'failing', reason: expect.stringMatching(/^The database is damaged/) } },
    });
  });

  it('refuses a read-only database, naming the file and the way out', async () => {
    const dir = await seeded();
    const db = path.join(dir, 'twinloop.db');
    denyWrites(db);
    cleanups.push(() => allowWrites(db));
    await expect(startTestPlatform(dir)).rejects.toMatchObject({
      code: 'StorageError',
      message: expect.stringMatching(/twinloop\.db is read-only/),
    });
  });

  it('the CLI says in one line that a data path which is a file is not a folder', async () => {
    const data = tempDataDir('twinloop-faults-');
    cleanups.push(() => data.cleanup());
    const file = path.join(data.dir, 'data');
    writeFileSync(file, 'a file');
    const r = await exec(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'src/app/cli/main.ts'), 'start', '--data', file, '--no-sim'],
      { cwd: root },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: StorageError: The data path ${file} is a file, not a folder. Give --data (or TWINLOOP_DATA) a folder: an existing one, or a path where one can be created.\n`,
    );
  }, 30_000);
});

describe('a running platform', () => {
  it('/healthz is liveness; /readyz is 200 while writes work', async () => {
    const p = await started(await seeded());
    const ready = await fetch(`${p.runtime.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { storage: { status: 'ok' } } });
  });

  // Only an immutable file (chattr, as root) stops writes through a descriptor already open.
  it.runIf(deniesOpenWriters)(
    '/readyz fails with the reason while writes fail, /healthz stays ok',
    async () => {
      const dir = await seeded();
      const p = await started(dir);
      const wal = path.join(dir, 'twinloop.db-wal');
      denyWrites(wal);
      cleanups.push(() => allowWrites(wal));
      const send = await fetch(`${p.runtime.httpUrl}/digitaltwins/pump-1a/telemetry?${API}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ flow: 1 }),
      });
      expect(send.status).toBe(500);
      const res = await fetch(`${p.runtime.httpUrl}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({
        status: 'unavailable',
        checks: { storage: { status: 'failing', reason: expect.stringMatching(/I\/O error/) } },
      });
      expect((await fetch(`${p.runtime.httpUrl}/healthz`)).status).toBe(200);
      allowWrites(wal);
      await new Promise((r) => setTimeout(r, 1100)); // the next probe finds writes work again
      expect((await fetch(`${p.runtime.httpUrl}/readyz`)).status).toBe(200);
    },
  );

  it('a committed twin write whose history cannot be recorded answers success with a warning', async () => {
    const p = await started(await seeded());
    await p.storage.history.close(); // a real failure of the real store: appends are refused
    const res = await fetch(`${p.runtime.httpUrl}/digitaltwins/line-1?${API}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json-patch+json' },
      body: JSON.stringify([{ op: 'replace', path: '/name', value: 'Line one' }]),
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('twinloop-warning')).toMatch(/^HistoryNotRecorded: the change is committed/);
    const twin = (await (await fetch(`${p.runtime.httpUrl}/digitaltwins/line-1?${API}`)).json()) as {
      name: string;
    };
    expect(twin.name).toBe('Line one');
  });

  it('GET /deadletters pages are bounded in bytes and page on to every letter', async () => {
    const p = await started(await seeded());
    const payload = Buffer.alloc(200 * 1024, 0x7a); // cut to the 16 KiB kept by default
    await p.storage.deadLetters.add(
      Array.from({ length: 400 }, (_, i) => ({
        workspace: 'default',
        time: Date.now(),
        source: 'mqtt',
        topic: `twins/x${i}/telemetry`,
        payload,
        code: 'InvalidTelemetry',
        reason: `bad ${i}`,
      })),
    );
    let url: string | undefined = `${p.runtime.httpUrl}/deadletters?limit=1000`;
    let pages = 0;
    let letters = 0;
    while (url) {
      const res = await fetch(url);
      const text = await res.text();
      expect(text.length).toBeLessThan(2 * 1024 * 1024); // 1 MiB of payload a page, by default
      const body = JSON.parse(text) as {
        value: { payloadBytes: number; payloadTruncated?: boolean; receivedBytes?: number }[];
        nextLink?: string;
      };
      expect(body.value[0]).toMatchObject({
        payloadBytes: 16 * 1024,
        payloadTruncated: true,
        receivedBytes: 200 * 1024,
      });
      letters += body.value.length;
      pages++;
      url = body.nextLink;
    }
    expect(letters).toBe(400);
    expect(pages).toBeGreaterThan(1);
  });
});
