/**
 * The CLI's output against a running platform: history newest first with --limit/--last, every
 * telemetry of a twin without a name, aggregates; --format table|json|csv; `twinloop whatif`
 * printing the limits crossed; `twinloop status --mqtt-port`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir } from '../platform/platform-fixture.js';
import { cliFor } from './cli-runner.js';

const data = tempDataDir('twinloop-cli-output-');
let platform: Platform;

const cli = cliFor(data.dir);

const now = Date.now();
const at = (msAgo: number) => new Date(now - msAgo).toISOString();

beforeAll(async () => {
  platform = await startTestPlatform(data.dir);
  // Readings of pump-1b: one two hours ago, then three in the last minutes.
  for (const [ago, v] of [
    [2 * 3600_000, 1.5],
    [180_000, 2.25],
    [120_000, 3.125],
    [60_000, 7.123456789],
  ] as const)
    expect((await cli('send', 'pump-1b', `vibration=${v}`, 'temperature=40', '--time', at(ago))).code).toBe(
      0,
    );
});
afterAll(async () => {
  await platform?.stop();
  data.cleanup();
});

describe('twinloop history', () => {
  it('prints the newest points first, at most --limit, as JSON when piped', async () => {
    const r = await cli('history', 'pump-1b', 'vibration', '--limit', '2');
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as { value: { value: number }[] };
    expect(body.value.map((p) => p.value)).toEqual([7.123456789, 3.125]);
  });

  it('keeps to the window --last gives', async () => {
    const r = await cli('history', 'pump-1b', 'vibration', '--last', '10m');
    const body = JSON.parse(r.stdout) as { value: { value: number }[] };
    expect(body.value.map((p) => p.value)).toEqual([7.123456789, 3.125, 2.25]);
    const bad = await cli('history', 'pump-1b', 'vibration', '--last', 'soon');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--last must be a duration/);
  });

  it('prints a table with readable times and rounded values, or CSV with full values', async () => {
    const table = await cli('history', 'pump-1b', 'vibration', '--format', 'table', '--limit', '1');
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^time\s+value$/);
    expect(lines[2]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{3})?\s+7\.123$/);
    const csv = await cli('history', 'pump-1b', 'vibration', '--format', 'csv', '--limit', '1');
    expect(csv.stdout).toBe(`time,value\n${at(60_000)},7.123456789\n`);
  });

  it('without a name, shows every telemetry of the twin, newest first', async () => {
    const r = await cli('history', 'pump-1b', '--format', 'csv', '--limit', '4');
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      'time,name,value',
      `${at(60_000)},temperature,40`,
      `${at(60_000)},vibration,7.123456789`,
      `${at(120_000)},temperature,40`,
      `${at(120_000)},vibration,3.125`,
    ]);
  });

  it('aggregates in buckets with --interval, newest bucket first, empty ones left out', async () => {
    const r = await cli(
      'history',
      'pump-1b',
      'vibration',
      '--interval',
      '1h',
      '--fn',
      'max,count',
      '--last',
      '3h',
    );
    const body = JSON.parse(r.stdout) as { value: { max: number; count: number }[] };
    expect(body.value.length).toBeGreaterThanOrEqual(2);
    expect(body.value[0]?.max).toBe(7.123456789);
    expect(body.value.every((b) => b.count > 0)).toBe(true);
  });
});

describe('--format on queries and lists', () => {
  it('a query as a table rounds numbers; as CSV keeps them', async () => {
    const q = "SELECT T.$dtId, T.$telemetry.vibration FROM DIGITALTWINS T WHERE T.$dtId = 'pump-1b'";
    const table = await cli('query', q, '--format', 'table');
    expect(table.stdout).toMatch(/pump-1b\s+7\.123\n/);
    const csv = await cli('query', q, '--format', 'csv');
    expect(csv.stdout).toBe('$dtId,vibration\npump-1b,7.123456789\n');
    const bad = await cli('query', q, '--format', 'xml');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Allowed choices are table, json, csv/);
  });
});

describe('twinloop whatif', () => {
  it('prints which limits are crossed, when and by whom', async () => {
    const request = JSON.stringify({
      twins: ['pump-3a', 'pump-3b'],
      horizon: '2h',
      changes: { 'pump-3a': { states: { wear: 0.6 } } }, // a worn bearing: over its 7.1 limit at once
    });
    const r = await cli('whatif', request, '--format', 'table');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/2 twin\(s\) simulated for 2 h from now: pump-3a, pump-3b/);
    expect(r.stdout).toMatch(/Limits crossed \(1\):/);
    expect(r.stdout).toMatch(/pump-3a\s+vibration\s+> 7\.1\s+0 s/);
    expect(r.stdout).toMatch(/Within limits: pump-3b vibration/);
    const j = await cli(
      'whatif',
      '--twins',
      'pump-3b',
      '--horizon',
      '1h',
      '--fault',
      '10min pump-3b cavitation',
    );
    const body = JSON.parse(j.stdout) as {
      status: string;
      crossings: unknown[];
      withinLimits: { twinId: string }[];
    };
    expect(body.status).toBe('succeeded');
    expect(body.withinLimits.map((c) => c.twinId)).toEqual(['pump-3b']);
    const bad = await cli('whatif', '--horizon', '1h');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--root TWIN .* or --twins/);
    const noFault = await cli('whatif', '--twins', 'pump-3b', '--fault', '10min pump-3b');
    expect(noFault.stderr).toMatch(/--fault is "AT TWIN FAULT"/);
  });
});

describe('twinloop send --mqtt', () => {
  it("publishes over MQTT to the broker's port actually bound, like a device", async () => {
    const r = await cli('send', '--mqtt', 'pump-1c', 'vibration=4.25', '--time', at(30_000));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`over ${platform.runtime.mqttUrl} (twins/pump-1c/telemetry)`);
    const h = JSON.parse((await cli('history', 'pump-1c', 'vibration', '--limit', '1')).stdout) as {
      value: { time: string; value: number }[];
    };
    expect(h.value[0]).toMatchObject({ time: at(30_000), value: 4.25 });
  });
});

describe('twinloop status', () => {
  it('prints the MQTT port actually bound, for scripts', async () => {
    const r = await cli('status', '--mqtt-port');
    expect(r.stdout.trim()).toBe(new URL(platform.runtime.mqttUrl).port);
    const all = await cli('status');
    expect(JSON.parse(all.stdout)).toMatchObject({ mqtt: platform.runtime.mqttUrl, pilot: 'pump-line' });
  });
});
