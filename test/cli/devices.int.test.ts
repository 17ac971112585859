/**
 * `twinloop devices …` against a running platform: the token is printed once and works as the
 * device's MQTT password; listing never shows it; revoking ends it.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir } from '../platform/platform-fixture.js';
import { cliFor } from './cli-runner.js';

const data = tempDataDir('twinloop-cli-devices-');
let platform: Platform;

const cli = cliFor(data.dir);

beforeAll(async () => {
  platform = await startTestPlatform(data.dir, { auth: 'on' });
});
afterAll(async () => {
  await platform?.stop();
  data.cleanup();
});

describe('twinloop devices', () => {
  it('add-credential prints a working token once; credentials lists it without; revoke-credential ends it', async () => {
    const added = await cli('devices', 'add-credential', 'pump-1a', '--label', 'gateway 3');
    expect(added.code).toBe(0);
    const token = /token: (tldc_\S+)/.exec(added.stdout)?.[1];
    expect(token).toBeDefined();
    const id = /credential (dc_[0-9a-f]{16})/.exec(added.stdout)?.[1];
    const dev = await mqtt.connectAsync(platform.runtime.mqttUrl, {
      reconnectPeriod: 0,
      clientId: 'pump-1a',
      username: 'pump-1a',
      password: token,
    });
    await dev.endAsync();
    const listed = await cli('devices', 'credentials', 'pump-1a');
    expect(listed.stdout).toContain(`${id}`);
    expect(listed.stdout).toContain('gateway 3');
    expect(listed.stdout).not.toContain(token!);
    expect((await cli('devices', 'revoke-credential', 'pump-1a', id!)).stdout).toContain(`revoked ${id}`);
    await expect(
      mqtt.connectAsync(platform.runtime.mqttUrl, {
        reconnectPeriod: 0,
        clientId: 'pump-1a',
        username: 'x',
        password: token,
      }),
    ).rejects.toThrow();
    const missing = await cli('devices', 'add-credential', 'no-such-twin');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/DigitalTwinNotFound/);
  });
});
