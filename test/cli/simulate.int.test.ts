/**
 * `twinloop simulate` as its own process against a running Twinloop seeded with the ev-fleet pilot:
 * `--assets 10` sizes the scenario's fleet beyond the 8 cars the server has, creates the two missing
 * cars (and their relationships) through the API, and their readings arrive over MQTT.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestPlatform, tempDataDir, waitFor } from '../platform/platform-fixture.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const data = tempDataDir('twinloop-simulate-');
afterAll(() => data.cleanup());

describe('twinloop simulate --assets', () => {
  it('creates the missing fleet twins and simulates them over MQTT', async () => {
    const p = await startTestPlatform(data.dir, { pilot: 'ev-fleet' });
    try {
      expect(p.graph.getTwin('ev-008')).toBeDefined();
      expect(p.graph.getTwin('ev-009')).toBeUndefined();
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          path.join(root, 'src/app/cli/main.ts'),
          'simulate',
          '--pilot',
          'ev-fleet',
          '--assets',
          '10',
          '--speed',
          '600',
        ],
        { cwd: root, env: { ...process.env, TWINLOOP_DATA: data.dir }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await waitFor(
          'readings of the new car ev-010',
          () => p.graph.getTwin('ev-010')?.telemetry.stateOfCharge !== undefined,
          30_000,
        );
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      expect(out).toMatch(/created 2 twin\(s\) and 4 relationship\(s\) for the fleet/);
      expect(out).toMatch(/Simulating .*10 × ev-fleet-vehicle of ev-fleet/);
      expect([...p.graph.outgoing('ev-010', 'chargesAt')].map((r) => r.targetId)).toEqual(['station-home-b']);
      expect([...p.graph.incoming('ev-009', 'hasVehicle')].map((r) => r.sourceId)).toEqual(['fleet-lyon']);
      const soc = p.graph.getTwin('ev-010')?.telemetry.stateOfCharge?.value as number;
      expect(soc).toBeGreaterThan(0);
      expect(soc).toBeLessThanOrEqual(100);
      expect(await p.storage.deadLetters.count('default')).toBe(0);
    } finally {
      await p.stop();
    }
  }, 60_000);
});
