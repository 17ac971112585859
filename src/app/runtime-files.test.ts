import { existsSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ensureToken,
  MAX_RULE_STATE_BYTES,
  readRuntimeInfo,
  RULE_STATE_FILE,
  ruleStateFile,
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

describe('the rule state file', () => {
  const open = () => {
    dir = mkdtempSync(path.join(tmpdir(), 'twinloop-rule-state-'));
    const warnings: string[] = [];
    const f = ruleStateFile(dir, (fields) => warnings.push(String(fields.reason)));
    return { f, warnings, file: path.join(dir, RULE_STATE_FILE) };
  };

  it('saves and loads a snapshot; none saved is undefined', () => {
    const { f, warnings } = open();
    expect(f.load()).toBeUndefined();
    f.save({ format: 'x', rules: [1, 2] });
    expect(f.load()).toEqual({ format: 'x', rules: [1, 2] });
    expect(warnings).toEqual([]);
  });

  it('sets aside what it cannot read (bad UTF-8, not JSON, deeply nested, too large) and goes on', () => {
    const cases: [string, (file: string) => void][] = [
      ['bad UTF-8', (file) => writeFileSync(file, Buffer.from([0x7b, 0xff, 0xfe, 0x22, 0xc3, 0x28, 0x7d]))],
      ['not JSON', (file) => writeFileSync(file, '{"format": ')],
      ['deeply nested', (file) => writeFileSync(file, '['.repeat(5_000_000))],
      // Sparse: one byte more than the bound, refused by its size before anything is read.
      ['too large', (file) => (writeFileSync(file, ''), truncateSync(file, MAX_RULE_STATE_BYTES + 1))],
    ];
    for (const [what, write] of cases) {
      const { f, warnings, file } = open();
      write(file);
      expect(f.load(), what).toBeUndefined();
      expect(warnings, what).toHaveLength(1);
      expect(existsSync(file), what).toBe(false);
      expect(existsSync(`${file}.unreadable`), what).toBe(true);
      f.save({ ok: true }); // the next save starts afresh
      expect(f.load(), what).toEqual({ ok: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads __proto__ keys as plain data, polluting nothing (the rule engine checks every field)', () => {
    const { f, file } = open();
    writeFileSync(
      file,
      '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}',
    );
    const v = f.load() as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__', 'constructor']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
