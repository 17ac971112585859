/**
 * `twinloop fault <twin> offline|online` against a running Twinloop with its simulator on: the
 * simulated device's connection is cut (its last will tells the broker) and restored, and a twin
 * that does not exist or is not simulated gets a clear error and a non-zero exit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir, waitFor } from '../platform/platform-fixture.js';
import { cliFor } from './cli-runner.js';

const data = tempDataDir('twinloop-cli-offline-');
let platform: Platform;
const cli = cliFor(data.dir);

beforeAll(async () => {
  platform = await startTestPlatform(data.dir, { sim: 'on', simSpeed: '600' });
}, 30_000);
afterAll(async () => {
  await platform?.stop();
  data.cleanup();
});

describe('twinloop fault … offline / online', () => {
  it('takes a simulated device offline and back online', async () => {
    const off = await cli('fault', 'pump-3b', 'offline');
    expect(off.stderr).toBe('');
    expect(off.code).toBe(0);
    expect(off.stdout).toBe('pump-3b is offline\n');
    expect(platform.simulator?.offline()).toEqual(['pump-3b']);
    expect(platform.simulator?.stats().deviceConnections).toBe((platform.simulator?.stats().assets ?? 0) - 1);
    const on = await cli('fault', 'pump-3b', 'online');
    expect(on.code).toBe(0);
    expect(on.stdout).toBe('pump-3b is online\n');
    expect(platform.simulator?.offline()).toEqual([]);
    await waitFor(
      'every device connection up',
      () => platform.simulator?.stats().deviceConnections === platform.simulator?.stats().assets,
    );
    // `--off` is the opposite switch.
    const offAgain = await cli('fault', 'pump-3b', 'online', '--off');
    expect(offAgain.stdout).toBe('pump-3b is offline\n');
    expect((await cli('fault', 'pump-3b', 'offline', '--off')).stdout).toBe('pump-3b is online\n');
  }, 30_000);

  it('says clearly when the twin does not exist or is not simulated', async () => {
    const none = await cli('fault', 'pump-99', 'offline');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/DigitalTwinNotFound.*pump-99/);
    const site = await cli('fault', 'site-lyon', 'offline');
    expect(site.code).toBe(1);
    expect(site.stderr).toMatch(/NotFound.*'site-lyon' is not simulated/);
  }, 30_000);
});
