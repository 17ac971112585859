/**
 * What-if runs through the whole platform over HTTP: a subgraph of the pump-line pilot forked and run
 * for a day with a fault, trajectories as JSON and CSV; the live twins, their telemetry and history
 * are byte-identical afterwards; a run forks from the live simulator's state when the twin is simulated.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { API, startTestPlatform, tempDataDir } from './platform-fixture.js';

const dirs: { cleanup: () => void }[] = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));

async function call(p: Platform, method: string, route: string, body?: unknown, accept?: string) {
  const res = await fetch(`${p.runtime.httpUrl}${route}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(accept ? { accept } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

interface Trajectory {
  twinId: string;
  fork: string;
  forkTime: number;
  times: number[];
  telemetry: Record<string, number[]>;
  states: Record<string, number[]>;
}

describe('what-if over HTTP', () => {
  it('runs a subgraph with a fault for a day and leaves the live twins untouched', async () => {
    const data = tempDataDir('twinloop-whatif-');
    dirs.push(data);
    // Analytics off: they would keep deriving values from the reading below (line totals on each
    // tick), and this test asserts that nothing but the what-if touches the twins.
    const p = await startTestPlatform(data.dir, {}, { analytics: { enabled: false } });
    try {
      // Some live state to keep an eye on.
      const send = await call(p, 'POST', `/digitaltwins/pump-3a/telemetry?${API}`, { vibration: 2.5 });
      expect(send.status).toBe(204);
      const live = async () =>
        JSON.stringify({
          twins: await Promise.all(
            ['line-3', 'pump-3a', 'pump-3b', 'pump-3c', 'pump-3d', 'tank-3'].map(
              async (id) => (await call(p, 'GET', `/digitaltwins/${id}?${API}`)).text,
            ),
          ),
          telemetry: ['pump-3a', 'pump-3b'].map((id) => p.graph.getTwin(id)?.telemetry),
          series: await p.storage.history.listSeries('default'),
          history: (
            await call(p, 'GET', '/digitaltwins/pump-3a/history?path=vibration&from=0&to=4102444800000')
          ).text,
        });
      const before = await live();

      const res = await call(p, 'POST', '/simulations?wait=60000', {
        name: 'bearing damage on 3a',
        root: 'line-3',
        follow: ['hasEquipment', 'feeds'],
        horizon: '24h',
        sampleInterval: '10min',
        changes: { 'pump-3c': { inputs: { setpoint: 30 } } },
        events: [{ at: '1h', twin: 'pump-3a', fault: 'bearingDamage' }],
      });
      expect(res.status).toBe(200);
      const job = res.json();
      expect(job).toMatchObject({ status: 'succeeded', progress: 1, horizon: 86_400, sampleInterval: 600 });
      expect(job.twins).toEqual(expect.arrayContaining(['pump-3a', 'pump-3b', 'pump-3c', 'pump-3d']));
      expect(job.skipped).toEqual(expect.arrayContaining([expect.objectContaining({ twinId: 'line-3' })]));

      const traj = await call(p, 'GET', `/simulations/${String(job.id)}/trajectories`);
      expect(traj.status).toBe(200);
      const twins = (traj.json().twins as Trajectory[]).reduce<Record<string, Trajectory>>(
        (m, t) => ({ ...m, [t.twinId]: t }),
        {},
      );
      const a = twins['pump-3a']!;
      const c = twins['pump-3c']!;
      expect(a.times).toHaveLength(145);
      expect(a.fork).toBe('model');
      const vibA = a.telemetry.vibration!;
      const vibD = twins['pump-3d']!.telemetry.vibration!;
      expect(vibA.at(-1)! - vibD.at(-1)!).toBeGreaterThan(0.5); // the damaged bearing vibrates more
      expect(Math.max(...c.telemetry.flow!)).toBeLessThanOrEqual(30 + 1e-9); // the changed set-point caps it
      // 3b is fed by 3a inside the run: its inlet is 3a's discharge
      const b = twins['pump-3b']!;
      expect(b.telemetry.dischargePressure!.at(-1)!).toBeGreaterThan(
        a.telemetry.dischargePressure!.at(-1)! + 1,
      );

      const csv = await call(p, 'GET', `/simulations/${String(job.id)}/trajectories.csv`);
      expect(csv.status).toBe(200);
      const lines = csv.text.trim().split('\n');
      expect(lines[0]).toBe('twin,time,kind,name,value');
      expect(lines).toContain(`pump-3a,86400,telemetry,vibration,${vibA.at(-1)}`);
      const viaAccept = await call(
        p,
        'GET',
        `/simulations/${String(job.id)}/trajectories`,
        undefined,
        'text/csv',
      );
      expect(viaAccept.text).toBe(csv.text);

      expect(await live()).toBe(before);
      const list = (await call(p, 'GET', '/simulations')).json().value as { id: string }[];
      expect(list.map((j) => j.id)).toEqual([job.id]);
    } finally {
      await p.stop();
    }
  }, 60_000);

  it('forks a simulated twin from the simulator, reports 4xx clearly, cancels', async () => {
    const data = tempDataDir('twinloop-whatif-sim-');
    dirs.push(data);
    const p = await startTestPlatform(data.dir, { sim: 'on', simSpeed: '600' });
    try {
      await new Promise((r) => setTimeout(r, 300)); // a few simulated minutes
      const res = await call(p, 'POST', '/simulations?wait=30000', { twins: ['pump-1a'], horizon: '1h' });
      expect(res.status).toBe(200);
      const job = res.json();
      const tr = (
        (await call(p, 'GET', `/simulations/${String(job.id)}/trajectories`)).json().twins as Trajectory[]
      )[0]!;
      expect(tr.fork).toBe('simulator');
      expect(tr.forkTime).toBeGreaterThan(60);
      // continues from the device's state: the bearing is already warmer than ambient
      expect(tr.states.bearingTemp![0]).toBeGreaterThan(20);

      const bad = await call(p, 'POST', '/simulations', {
        twins: ['pump-1a'],
        horizon: 'later',
        events: [{}],
      });
      expect(bad.status).toBe(400);
      const err = bad.json().error as { code: string; details: { pointer: string }[] };
      expect(err.code).toBe('BadRequest');
      expect(err.details.map((x) => x.pointer)).toEqual(
        expect.arrayContaining(['/horizon', '/events/0/at', '/events/0/twin']),
      );
      expect((await call(p, 'POST', '/simulations', { twins: ['nope'], horizon: 10 })).status).toBe(404);
      expect((await call(p, 'GET', '/simulations/none')).status).toBe(404);

      const long = (
        await call(p, 'POST', '/simulations', {
          twins: ['pump-1a', 'pump-1b'],
          horizon: '100d',
          sampleInterval: '1d',
        })
      ).json();
      expect(long.status).toMatch(/queued|running/);
      const early = await call(p, 'GET', `/simulations/${String(long.id)}/trajectories`);
      expect(early.status).toBe(409);
      const cancelled = await call(p, 'DELETE', `/simulations/${String(long.id)}`);
      expect(cancelled.status).toBe(200);
      let status = '';
      for (let i = 0; i < 100 && status !== 'cancelled'; i++) {
        await new Promise((r) => setTimeout(r, 20));
        status = String((await call(p, 'GET', `/simulations/${String(long.id)}`)).json().status);
      }
      expect(status).toBe('cancelled');
    } finally {
      await p.stop();
    }
  }, 60_000);
});
