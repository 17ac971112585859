/**
 * Nothing acknowledged to a writer is lost to a route because of kill -9: a real Twinloop process
 * (`twinloop start`, endpoint and route from its config file) acknowledges twin writes while the
 * webhook refuses connections; it is killed with SIGKILL before it could deliver; after a restart,
 * with the webhook back, every acknowledged change arrives, in order per twin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../platform/platform-fixture.js';
import { RouteReceiver, collapseRepeats } from '../routes/route-receiver.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const data = tempDataDir('twinloop-routes-crash-');
const receiver = new RouteReceiver();

function startChild(configFile: string): ChildProcess {
  return spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(root, 'src/app/cli/main.ts'),
      'start',
      '--config',
      configFile,
      '--data',
      data.dir,
      '--http-port',
      '0',
      '--mqtt-port',
      '0',
      '--log-level',
      'warn',
      '--no-sim',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

async function waitForRuntime(child: ChildProcess): Promise<{ httpUrl: string }> {
  const file = path.join(data.dir, 'runtime.json');
  const end = Date.now() + 60_000;
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  while (Date.now() < end) {
    if (existsSync(file)) {
      const info = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; httpUrl: string };
      if (info.pid === child.pid) return info;
    }
    if (child.exitCode !== null) throw new Error(`twinloop exited early: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`twinloop did not start: ${stderr}`);
}

async function kill9(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await new Promise<void>((r) =>
    child.exitCode !== null || child.signalCode ? r() : child.once('exit', () => r()),
  );
}

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
    const child = startChild(configFile);
    const { httpUrl } = await waitForRuntime(child);
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
    const again = startChild(configFile);
    try {
      await waitForRuntime(again);
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
