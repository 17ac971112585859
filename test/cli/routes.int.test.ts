/**
 * `twinloop routes …` against a running platform (its data folder tells the CLI the URL): set,
 * list, endpoints, dead-letters, replay, purge, delete.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir, waitFor } from '../platform/platform-fixture.js';
import { RouteReceiver } from '../routes/route-receiver.js';
import { cliFor } from './cli-runner.js';

const data = tempDataDir('twinloop-cli-routes-');
const cli = cliFor(data.dir);
const receiver = new RouteReceiver();
let p: Platform;

beforeAll(async () => {
  await receiver.up();
  p = await startTestPlatform(data.dir);
  await p.eventRoutes.service.putEndpoint('hook', { type: 'webhook', url: receiver.url });
}, 60_000);

afterAll(async () => {
  await p?.stop();
  await receiver.down();
  data.cleanup();
});

describe('twinloop routes', () => {
  it('manages routes and replays dead letters', async () => {
    const set = await cli(
      'routes',
      'set',
      'all-updates',
      'hook',
      "type = 'Microsoft.DigitalTwins.Twin.Update'",
    );
    expect(set).toMatchObject({ code: 0, stdout: 'event route all-updates → hook\n' });
    const bad = await cli('routes', 'set', 'x', 'hook', 'type =');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/EventRouteFilterInvalid|filter is invalid/);
    const list = await cli('routes', 'list', '--format', 'json');
    expect(JSON.parse(list.stdout)).toEqual([
      { id: 'all-updates', endpointName: 'hook', filter: "type = 'Microsoft.DigitalTwins.Twin.Update'" },
    ]);

    receiver.status = 413; // permanent: dead-lettered at once
    await p.twins.update('pump-1a', [{ op: 'add', path: '/serialNumber', value: 'cli' }]);
    let letters: { value: { id: number }[] } = { value: [] };
    for (let i = 0; i < 100 && letters.value.length === 0; i++) {
      letters = JSON.parse(
        (await cli('routes', 'dead-letters', 'hook', '--format', 'json')).stdout,
      ) as typeof letters;
      if (letters.value.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(letters.value).toHaveLength(1);
    const eps = JSON.parse((await cli('routes', 'endpoints', '--format', 'json')).stdout) as {
      value: { name: string; status: { deadLetters: number } }[];
    };
    expect(eps.value.find((e) => e.name === 'hook')!.status.deadLetters).toBe(1);

    receiver.status = 200;
    const replay = await cli('routes', 'replay', 'hook', '--id', String(letters.value[0]!.id));
    expect(replay.stdout).toBe('replayed 1 event(s) to hook\n');
    await waitFor('the replayed event', () => receiver.events.some((e) => e.body.subject === 'pump-1a'));
    expect((await cli('routes', 'purge', 'hook')).stdout).toBe('deleted 0 dead letter(s) of hook\n');
    expect((await cli('routes', 'delete', 'all-updates')).code).toBe(0);
    expect(JSON.parse((await cli('routes', 'list', '--format', 'json')).stdout)).toEqual([]);
  }, 90_000);
});
