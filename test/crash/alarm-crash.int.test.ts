/**
 * Kill -9 durability of alarms: a child raises alarms through the alarm service at full speed and
 * reports what was flushed; we SIGKILL it at a random moment, reopen the folder and check that every
 * acknowledged raise is counted, every acknowledged clear is there, at most one alarm per twin and
 * rule is open, and the database is intact. Repeated on one folder.
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
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-alarm-crash-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

function runAndKill(
  runMs: number,
): Promise<{ acked: Record<string, number>; cleared: string[]; acks: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'alarm-crash-child.ts'), dataDir],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    let acked: Record<string, number> = {};
    const cleared: string[] = [];
    let acks = 0;
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      out += s;
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const sp = line.indexOf(' ');
        const word = sp < 0 ? line : line.slice(0, sp);
        if (word === 'ACK') {
          acked = JSON.parse(line.slice(sp + 1)) as Record<string, number>;
          acks++;
          timer ??= setTimeout(() => child.kill('SIGKILL'), runMs);
        }
        if (word === 'CLR') cleared.push(line.slice(sp + 1));
      }
    });
    child.stderr.on('data', (s: Buffer) => (err += s.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited by itself (code ${code}): ${err}`));
      else resolve({ acked, cleared, acks });
    });
  });
}

describe('alarms survive kill -9', () => {
  // Raises counted in earlier rounds (each round's child starts its own counts from 0).
  const before: Record<string, number> = {};
  const allCleared: string[] = [];
  for (const [i, ms] of [600, 250, 900].entries()) {
    it(`round ${i + 1} (killed ~${ms} ms after the first flush): every acknowledged raise and clear is there`, async () => {
      const { acked, cleared, acks } = await runAndKill(ms);
      expect(acks).toBeGreaterThan(0);
      allCleared.push(...cleared);
      const storage = openSqliteStorage({ dataDir, checkIntegrity: true });
      try {
        expect(storage.integrity.checked).toBe(true);
        for (const [twin, n] of Object.entries(acked)) {
          const all = await storage.alarms.list({ workspace: 'crash', twinId: twin, limit: 100_000 });
          const counted = all.reduce((s, a) => s + a.count, 0);
          expect(counted).toBeGreaterThanOrEqual((before[twin] ?? 0) + n);
          expect(all.filter((a) => a.state !== 'cleared').length).toBeLessThanOrEqual(1);
          before[twin] = counted; // what the child wrote after its last ACK counts too
        }
        for (const id of allCleared) expect((await storage.alarms.get('crash', id))?.state).toBe('cleared');
      } finally {
        await storage.close();
      }
    }, 30_000);
  }
});
