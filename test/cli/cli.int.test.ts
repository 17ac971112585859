/**
 * The `twinloop` command against a running platform: it finds the server through the data folder's
 * runtime.json, and its errors are messages with a non-zero exit, never stack traces.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir } from '../platform/platform-fixture.js';
import { cliFor, root } from './cli-runner.js';

const data = tempDataDir('twinloop-cli-');
let platform: Platform;

const cli = cliFor(data.dir);

beforeAll(async () => {
  platform = await startTestPlatform(data.dir);
});
afterAll(async () => {
  await platform?.stop();
  data.cleanup();
});

describe('twinloop CLI', () => {
  it('validates model files offline, with places and a non-zero exit on errors', async () => {
    const ok = await cli('models', 'validate', path.join(root, 'pilots/pump-line/models'));
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/6 file\(s\), \d+ interface\(s\), 0 error\(s\)/);
    const bad = path.join(data.dir, 'bad.json');
    writeFileSync(
      bad,
      '{\n  "@context": "dtmi:dtdl:context;3",\n  "@id": "dtmi:x:Bad;1",\n  "@type": "Interface",\n  "contents": [ { "@type": "Property", "name": "1bad", "schema": "double" } ]\n}\n',
    );
    const r = await cli('models', 'validate', bad);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/bad\.json.*contents\/0\/name.*\[dtdl\./);
  });

  it('sends telemetry, queries it back and lists dead letters', async () => {
    expect((await cli('send', 'pump-1b', 'vibration=9.5', 'running=true')).code).toBe(0);
    const q = await cli('query', 'SELECT T.$dtId FROM DIGITALTWINS T WHERE T.$telemetry.vibration > 9');
    expect(q.code).toBe(0);
    expect(JSON.parse(q.stdout)).toEqual([{ $dtId: 'pump-1b' }]);
    // A plain path reads properties only (ADT's answer: no row); stderr names the $telemetry form.
    const plain = await cli('query', 'SELECT T.$dtId FROM DIGITALTWINS T WHERE T.vibration > 9');
    expect(plain.code).toBe(0);
    expect(JSON.parse(plain.stdout)).toEqual([]);
    expect(plain.stderr).toContain(
      "hint: 'T.vibration' reads a property, and vibration is a telemetry: its latest reading is T.$telemetry.vibration",
    );
    expect(q.stderr).not.toContain('hint:');
    const bad = await cli('send', 'pump-1b', 'vibration="loud"');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/InvalidTelemetry/);
    const dl = await cli('dead-letters');
    expect(JSON.parse(dl.stdout)).toMatchObject({ value: [{ code: 'InvalidTelemetry' }] });
    const id = (JSON.parse(dl.stdout) as { value: { id: number }[] }).value[0]!.id;
    // The cause is not fixed: re-ingest stores nothing, and the value is kept as a new letter.
    const again = await cli('dead-letters', 'reingest', String(id));
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(
      `Dead letter ${id} re-ingested: 0 reading(s) stored, 1 value(s) dead-lettered again.\n`,
    );
    const gone = await cli('dead-letters', 'reingest', String(id));
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/NotFound.*already re-ingested/);
    const notAnId = await cli('dead-letters', 'reingest', 'abc');
    expect(notAnId.code).toBe(1);
    expect(notAnId.stderr).toMatch(/BadRequest/);
    const listed = await cli('dead-letters', 'list', '--limit', '1');
    expect(JSON.parse(listed.stdout)).toMatchObject({ value: [{ code: 'InvalidTelemetry' }] });
  });

  it('sends a command to a device, refusing a bad one with the reason', async () => {
    const heard: [string, string, unknown][] = [];
    const off = platform.commands.onCommand((...a) => heard.push(a));
    try {
      // No device is connected (the simulator is off here): the command is stored and waits queued.
      const ok = await cli('command', 'pump-3a', 'setRunning', 'false', '--expiry', '30');
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/^setRunning to pump-3a: request [0-9a-f-]{36}\n {2}queued {7}\d{4}-/);
      expect(heard).toEqual([]);
      const waited = await cli('command', 'pump-3a', 'setRunning', 'true', '--wait', '--timeout', '1');
      expect(waited.code).toBe(1);
      expect(waited.stderr).toMatch(/Stopped waiting: the command is still queued/);
      const bad = await cli('command', 'pump-3a', 'setRunning', 'maybe');
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/ValidationFailed/);
      expect(heard).toEqual([]);
      // the simulator is off in this platform: the fault command says so
      const fault = await cli('fault', 'pump-3a', 'bearingDamage');
      expect(fault.code).toBe(1);
      expect(fault.stderr).toMatch(/simulator is off/);
    } finally {
      off();
    }
  });

  it('reports a bad query with its line and column', async () => {
    const r = await cli('query', 'SELECT * FROM DIGITALTWINS T\nWHERE T.x >');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SqlQueryError/);
    expect(r.stderr).toMatch(/line 2/i);
  });

  it('says clearly when no server is running', async () => {
    const r = await cli('twins', 'get', 'x', '--url', 'http://127.0.0.1:9');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Cannot reach Twinloop/);
  });
});
