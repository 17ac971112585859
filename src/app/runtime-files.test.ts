import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ensureToken,
  readRuntimeInfo,
  removeRuntimeInfo,
  writePilotRecord,
  writeRuntimeInfo,
  type RuntimeInfo,
} from './runtime-files.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const info = (pid: number, startedAt: string): RuntimeInfo => ({
  pid,
  startedAt,
  httpUrl: 'http://127.0.0.1:1',
  liveUrl: 'ws://127.0.0.1:1/live',
  mqttUrl: 'mqtt://127.0.0.1:2',
  mqttMode: 'embedded',
});

describe('runtime files', () => {
  it('only the owner removes runtime.json', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'twinloop-rt-'));
    const mine = info(process.pid, '2026-01-01T00:00:00.000Z');
    writeRuntimeInfo(dir, info(process.pid + 1, '2026-01-02T00:00:00.000Z'));
    removeRuntimeInfo(dir, mine);
    expect(readRuntimeInfo(dir)?.pid).toBe(process.pid + 1);
    // Same pid, another start (a pid reused after a reboot): not ours either.
    writeRuntimeInfo(dir, info(process.pid, '2026-01-03T00:00:00.000Z'));
    removeRuntimeInfo(dir, mine);
    expect(readRuntimeInfo(dir)).toBeDefined();
    writeRuntimeInfo(dir, mine);
    removeRuntimeInfo(dir, mine);
    expect(readRuntimeInfo(dir)).toBeUndefined();
  });

  it('writes runtime.json, pilot.json and the token 0600, and tightens an old token file', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'twinloop-rt-'));
    writeFileSync(path.join(dir, 'runtime.json.tmp'), 'left over', { mode: 0o644 });
    writeRuntimeInfo(dir, info(1, 'x'));
    writePilotRecord(dir, 'pump-line');
    ensureToken(dir);
    for (const f of ['runtime.json', 'pilot.json', 'token'])
      expect(statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
    const sub = path.join(dir, 'sub');
    ensureToken(sub); // creates the folder: 0700
    expect(statSync(sub).mode & 0o777).toBe(0o700);
    const old = mkdtempSync(path.join(tmpdir(), 'twinloop-rt-old-'));
    try {
      writeFileSync(path.join(old, 'token'), 'tl_an-old-token-written-0644\n', { mode: 0o644 });
      expect(ensureToken(old)).toMatchObject({ created: false, token: 'tl_an-old-token-written-0644' });
      expect(statSync(path.join(old, 'token')).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  });
});
