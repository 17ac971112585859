/**
 * Acknowledged data survives kill -9: a real Twinloop process (the `twinloop start` command) ingests
 * MQTT QoS 1 messages as fast as a device can send them; it is killed with SIGKILL mid-stream; after
 * a restart every message that got a PUBACK is in history, and the data folder opens cleanly.
 */
import type { SqliteStorage } from '../../src/adapters/sqlite/sqlite-storage.js';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestPlatform, tempDataDir } from '../platform/platform-fixture.js';
import { startTwinloopChild, waitForRuntime } from './twinloop-child.js';

const data = tempDataDir('twinloop-crash-');

afterAll(() => data.cleanup());

describe('crash safety', () => {
  it('every PUBACKed reading is in history after SIGKILL', async () => {
    const acked: number[] = [];
    for (let round = 0; round < 2; round++) {
      const child = startTwinloopChild(data.dir);
      const { mqttUrl } = await waitForRuntime(child, data.dir);
      const clients = await Promise.all(
        ['pump-1a', 'pump-3a', 'pump-3b'].map((twin) =>
          mqtt
            .connectAsync(mqttUrl, { clientId: `crash-${twin}-${round}`, reconnectPeriod: 0 })
            .then((c) => ({ c, twin })),
        ),
      );
      let seq = round * 1_000_000;
      let stop = false;
      const senders = clients.map(async ({ c, twin }) => {
        // Many messages in flight per connection, as a real gateway would have.
        while (!stop) {
          const batch = Array.from({ length: 50 }, () => ++seq);
          await Promise.all(
            batch.map((s) =>
              c.publishAsync(`twins/${twin}/telemetry`, JSON.stringify({ flow: s }), { qos: 1 }).then(
                () => acked.push(s),
                () => undefined, // not acknowledged: may or may not be stored
              ),
            ),
          );
        }
      });
      await new Promise((r) => setTimeout(r, 1500 + round * 500));
      child.kill('SIGKILL');
      stop = true;
      await new Promise<void>((r) =>
        child.exitCode !== null || child.signalCode ? r() : child.once('exit', () => r()),
      );
      // The broker is gone: no PUBACK can arrive any more. In-flight publishes stay pending in
      // MQTT.js (no reconnect), so the senders are left behind rather than awaited.
      void senders;
      for (const { c } of clients) c.end(true);
    }
    expect(acked.length).toBeGreaterThan(100);

    // Restart in-process on the same folder and read everything back.
    const p = await startTestPlatform(data.dir);
    try {
      const integrity = (p.storage as SqliteStorage).db.pragma('integrity_check', { simple: true });
      expect(integrity).toBe('ok');
      const stored = new Set<number>();
      for (const twin of ['pump-1a', 'pump-3a', 'pump-3b']) {
        let cursor: string | undefined;
        do {
          const page = await p.storage.history.queryRaw({
            workspace: 'default',
            twinId: twin,
            path: 'flow',
            from: 0,
            to: Date.now() + 60_000,
            limit: 10_000,
            cursor,
          });
          for (const pt of page.points) stored.add(pt.value as number);
          cursor = page.cursor;
        } while (cursor);
      }
      const missing = acked.filter((s) => !stored.has(s));
      expect(missing).toEqual([]);
    } finally {
      await p.stop();
    }
  }, 120_000);
});
