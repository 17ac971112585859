/**
 * Nothing acknowledged to a writer is lost to a route because of kill -9: a real Twinloop process
 * (`twinloop start`, endpoint and route from its config file) acknowledges twin writes while the
 * webhook refuses connections; it is killed with SIGKILL before it could deliver; after a restart,
 * with the webhook back, every acknowledged change arrives, in order per twin.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../platform/platform-fixture.js';
import { RouteReceiver, collapseRepeats } from '../routes/route-receiver.js';
import { kill9, startTwinloopChild, waitForRuntime } from './twinloop-child.js';

const data = tempDataDir('twinloop-routes-crash-');
const receiver = new RouteReceiver();

afterAll(async () => {
  await receiver.down();
  data.cleanup();
});

describe('event routes across kill -9', () => {
  it('every acknowledged change reaches the webhook after a SIGKILL between commit and delivery', async () => {
    await receiver.up();
    await receiver.down(); // the port is known and refuses connections
    const configFile = path.join(data.dir, 'routes.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        eventRoutes: {
          initialBackoffMs: 50,
          maxBackoffMs: 300,
          endpoints: [{ name: 'hook', type: 'webhook', url: receiver.url }],
          routes: [
            { id: 'changes', endpointName: 'hook', filter: "type = 'Microsoft.DigitalTwins.Twin.Update'" },
          ],
        },
      }),
    );
    const child = startTwinloopChild(data.dir, ['--config', configFile]);
    const { httpUrl } = await waitForRuntime(child, data.dir);
    const acked = new Map<string, string[]>([
      ['pump-1a', []],
      ['pump-3a', []],
    ]);
    for (let i = 0; i < 20; i++) {
      for (const [twin, values] of acked) {
        const v = `crash-${i}`;
        const res = await fetch(`${httpUrl}/digitaltwins/${twin}?api-version=2023-10-31`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json-patch+json' },
          body: JSON.stringify([{ op: 'add', path: '/serialNumber', value: v }]),
        });
        expect(res.status).toBe(204);
        values.push(v);
      }
    }
    await kill9(child);
    expect(receiver.events).toHaveLength(0);

    await receiver.up();
    const again = startTwinloopChild(data.dir, ['--config', configFile]);
    try {
      await waitForRuntime(again, data.dir);
      const end = Date.now() + 30_000;
      const done = () => {
        const got = receiver.byTwin('Microsoft.DigitalTwins.Twin.Update');
        return [...acked].every(([t, vs]) => (got.get(t) ?? []).length >= vs.length);
      };
      while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      const got = receiver.byTwin('Microsoft.DigitalTwins.Twin.Update');
      for (const [twin, values] of acked)
        expect(
          collapseRepeats(
            (got.get(twin) ?? []).map((d) => (d as { patch: { value: string }[] }).patch[0]!.value),
          ),
        ).toEqual(values);
    } finally {
      await kill9(again);
    }
  }, 120_000);
});
