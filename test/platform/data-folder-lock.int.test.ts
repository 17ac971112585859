/**
 * One Twinloop per data folder, with real processes (the `twinloop start` command): a second start
 * on the same folder stops before binding anything and names the first; the first's runtime.json is
 * left alone; after kill -9 the OS has released the lock and the folder starts again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestPlatform, tempDataDir } from './platform-fixture.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const data = tempDataDir('twinloop-lock-');
const children: ChildProcess[] = [];

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function start(dataDir: string): Run {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(root, 'src/app/cli/main.ts'),
      'start',
      '--data',
      dataDir,
      '--http-port',
      '0',
      '--mqtt-port',
      '0',
      '--log-level',
      'warn',
      '--no-sim',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

type Runtime = { pid: number; startedAt: string; httpUrl: string; mqttUrl: string };
const runtimeFile = path.join(data.dir, 'runtime.json');
const readRuntime = (): Runtime | undefined =>
  existsSync(runtimeFile) ? (JSON.parse(readFileSync(runtimeFile, 'utf8')) as Runtime) : undefined;

async function running(run: Run): Promise<Runtime> {
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    const info = readRuntime();
    if (info && info.pid === run.child.pid) return info;
    if (run.child.exitCode !== null) throw new Error(`twinloop exited early: ${run.err()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`twinloop did not start: ${run.err()}`);
}

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  data.cleanup();
});

describe('one process per data folder', () => {
  it('a second start stops before binding, names the first and the way out; kill -9 frees the folder', async () => {
    const first = start(data.dir);
    const info = await running(first);

    const second = start(data.dir);
    expect(await second.exited).toBe(1);
    const err = second.err();
    expect(err).toMatch(/^error: DataFolderInUse: The data folder .* is in use by another Twinloop/);
    expect(err).toContain(`pid ${info.pid}`);
    expect(err).toContain(`started `);
    expect(err).toContain(`HTTP ${info.httpUrl}`);
    expect(err).toContain(`MQTT ${info.mqttUrl}`);
    expect(err).toMatch(/kill \d+.*--data/);
    expect(err).not.toMatch(/\n\s+at /); // one message, no stack trace
    expect(second.out()).not.toMatch(/Twinloop is running/);
    // The first is untouched: its runtime.json and its server.
    expect(readRuntime()).toEqual(info);
    expect((await fetch(`${info.httpUrl}/healthz`)).status).toBe(200);

    // kill -9: the OS releases the lock with the process.
    first.child.kill('SIGKILL');
    await first.exited;
    const p = await startTestPlatform(data.dir);
    try {
      expect(p.runtime.pid).toBe(process.pid);
      // runtime.json, lock.json and the lock are private to the user.
      for (const f of ['runtime.json', 'lock.json', 'lock', 'pilot.json', 'twinloop.db'])
        expect(statSync(path.join(data.dir, f)).mode & 0o777).toBe(0o600);
    } finally {
      await p.stop();
    }
    expect(existsSync(runtimeFile)).toBe(false); // its own, removed on stop
  }, 90_000);

  it('refuses a second platform in the same process too, and frees the folder on stop', async () => {
    const dir = tempDataDir('twinloop-lock2-');
    try {
      const p = await startTestPlatform(dir.dir);
      try {
        await expect(startTestPlatform(dir.dir)).rejects.toMatchObject({
          code: 'DataFolderInUse',
          details: { pid: process.pid, httpUrl: p.runtime.httpUrl },
        });
        expect(readFileSync(path.join(dir.dir, 'runtime.json'), 'utf8')).toContain(p.runtime.startedAt);
      } finally {
        await p.stop();
      }
      const again = await startTestPlatform(dir.dir);
      await again.stop();
    } finally {
      dir.cleanup();
    }
  });
});
