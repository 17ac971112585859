/**
 * Kill -9 durability of the SQLite history store: a child process appends at full speed and reports
 * what was acknowledged; we SIGKILL it at a random moment, reopen the folder and check that every
 * acknowledged point is there and the database is intact. Repeated on one folder, so each round
 * also replays the log left by the previous kill.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStorage } from '../../src/adapters/sqlite/sqlite-storage.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..', '..');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-crash-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

/** Runs the child until it has acknowledged for `runMs` after its first ack, kills it, returns the highest acked seq. */
function runAndKill(
  sync: 'FULL' | 'NORMAL',
  runMs: number,
): Promise<{ start: number; acked: number; acks: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'history-crash-child.ts'), dataDir, sync],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    let start = -1;
    let acked = -1;
    let acks = 0;
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      out += s;
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const [word, n] = line.split(' ');
        if (word === 'START') start = Number(n);
        if (word === 'ACK') {
          acked = Math.max(acked, Number(n));
          acks++;
          timer ??= setTimeout(() => child.kill('SIGKILL'), runMs);
        }
      }
    });
    child.stderr.on('data', (s: Buffer) => (err += s.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited by itself (code ${code}): ${err}`));
      else resolve({ start, acked, acks });
    });
  });
}

describe('history survives kill -9', () => {
  const rounds: ['FULL' | 'NORMAL', number][] = [
    ['FULL', 700],
    ['NORMAL', 450],
    ['FULL', 300],
    ['NORMAL', 900],
  ];
  let expectedStart = 0;
  for (const [i, [sync, ms]] of rounds.entries()) {
    it(`round ${i + 1} (synchronous=${sync}, killed ~${ms} ms after the first ack): every acknowledged point is there`, async () => {
      const { start, acked, acks } = await runAndKill(sync, ms);
      expect(acks).toBeGreaterThan(0);
      // The child continues after the last durable point: nothing acknowledged before was lost.
      expect(start).toBeGreaterThanOrEqual(expectedStart);
      const storage = openSqliteStorage({ dataDir, checkIntegrity: true });
      try {
        expect(storage.db.pragma('integrity_check', { simple: true })).toBe('ok');
        for (const p of ['a', 'b', 'c']) {
          const [b] = await storage.history.queryAggregate({
            workspace: 'crash',
            twinId: 'twin',
            path: p,
            from: 0,
            to: acked + 1,
            interval: acked + 1,
            fns: ['count', 'sum', 'min', 'max'],
          });
          expect(b).toEqual({
            start: 0,
            count: acked + 1,
            sum: (acked * (acked + 1)) / 2,
            min: 0,
            max: acked,
          });
        }
        const state = await storage.history.queryAggregate({
          workspace: 'crash',
          twinId: 'twin',
          path: 'state',
          from: 0,
          to: acked + 1,
          interval: acked + 1,
          fns: ['count', 'last'],
        });
        expect(state[0]!.count).toBe(Math.floor(acked / 10) + 1);
        expect(state[0]!.last).toEqual({ seq: Math.floor(acked / 10) * 10 });
        const series = (await storage.history.listSeries('crash', 'twin')).find((s) => s.path === 'a');
        expect(series!.lastValue as number).toBeGreaterThanOrEqual(acked);
        expectedStart = (series!.lastValue as number) + 1;
      } finally {
        await storage.close();
      }
    }, 60_000);
  }
});
