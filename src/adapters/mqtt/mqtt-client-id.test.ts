import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLIENT_ID_FILE, clientIdFingerprint, ensureMqttClientId } from './mqtt-client-id.js';

let dirs: string[];
const folder = () => {
  const d = mkdtempSync(join(tmpdir(), 'twinloop-clientid-'));
  dirs.push(d);
  return d;
};
beforeEach(() => (dirs = []));
afterEach(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('ensureMqttClientId', () => {
  it('creates a random id once per data folder, mode 0600, and keeps it', () => {
    const dir = folder();
    const first = ensureMqttClientId(dir);
    expect(first.created).toBe(true);
    expect(first.clientId).toMatch(/^twinloop-[0-9a-f]{32}$/);
    expect(statSync(join(dir, CLIENT_ID_FILE)).mode & 0o777).toBe(0o600);
    const again = ensureMqttClientId(dir);
    expect(again).toEqual({ ...first, created: false });
    expect(first.fingerprint).toBe(clientIdFingerprint(first.clientId));
    expect(first.clientId).not.toContain(first.fingerprint);
    // Another folder (even one with the same path later) gets an unrelated id.
    expect(ensureMqttClientId(folder()).clientId).not.toBe(first.clientId);
  });

  it('tightens a world-readable file and refuses a file that holds no id', () => {
    const dir = folder();
    const { clientId } = ensureMqttClientId(dir);
    const file = join(dir, CLIENT_ID_FILE);
    chmodSync(file, 0o644);
    expect(ensureMqttClientId(dir).clientId).toBe(clientId);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeFileSync(file, 'twinloop-abc\n');
    expect(() => ensureMqttClientId(dir)).toThrow(/does not hold an MQTT client id/);
    expect(readFileSync(file, 'utf8')).toBe('twinloop-abc\n');
  });
});
