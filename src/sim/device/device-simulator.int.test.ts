/**
 * The device simulator end to end: a whole platform with the pump-line pilot and simulation on (at
 * speed 600, token auth on so the simulator must log in like a device), the pumps' telemetry
 * arriving over MQTT into the graph and history without dead letters; and bad behaviour files
 * rejected with their file and line before anything connects.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { API, startTestPlatform, tempDataDir, waitFor } from '../../../test/platform/platform-fixture.js';
import type { Platform } from '../../app/platform.js';
import { startMqttSimulator as startSimulator } from '../../adapters/mqtt/mqtt-simulator-publisher.js';
import { pilotWorkspace } from '../../app/pilot-workspace.js';
import { shippedPilotsDir } from '../../app/pilot-files.js';
import { encodeTopicLevel } from './device-simulator.js';

const dirs: { cleanup: () => void }[] = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));

async function api(p: Platform, method: string, route: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${p.runtime.httpUrl}${route}${route.includes('?') ? '&' : '?'}${API}`, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(p.token ? { authorization: `Bearer ${p.token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return res.json();
}

const count = async (p: Platform, q: string): Promise<number> =>
  ((await api(p, 'POST', '/query', { query: q })) as { value: { COUNT: number }[] }).value[0]?.COUNT ?? -1;

describe('the device simulator in the platform', () => {
  it('simulates every pump of the pilot live over MQTT: values in the graph and history, no dead letters', async () => {
    const data = tempDataDir('twinloop-sim-');
    dirs.push(data);
    const p = await startTestPlatform(data.dir, { sim: 'on', simSpeed: '600', auth: 'on' });
    try {
      expect(p.token).toBeTruthy(); // the simulator had to present it as its MQTT password
      const sim = p.simulator;
      expect(sim).toBeDefined();
      const pumps = await count(
        p,
        "SELECT COUNT() FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:twinloop:pumpline:Pump;1')",
      );
      expect(pumps).toBeGreaterThan(0);
      expect(sim?.fleets).toEqual([
        { behaviour: 'pump-line-pump', interface: 'dtmi:twinloop:pumpline:Pump;1', assets: pumps },
        { behaviour: 'pump-line-tank', interface: 'dtmi:twinloop:pumpline:Tank;1', assets: 2 },
      ]);

      const deadline = Date.now() + 20_000;
      let withValues = 0;
      while (Date.now() < deadline) {
        withValues = await count(
          p,
          'SELECT COUNT() FROM DIGITALTWINS T WHERE IS_DEFINED(T.$telemetry.vibration) AND IS_DEFINED(T.$telemetry.temperature)',
        );
        if (withValues === pumps && (sim?.stats().published ?? 0) >= pumps * 5) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(withValues).toBe(pumps);

      const rows = (
        (await api(p, 'POST', '/query', {
          query:
            "SELECT T.$dtId, T.$telemetry.vibration, T.$telemetry.temperature, T.$telemetry.flow, T.$telemetry.running FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:twinloop:pumpline:Pump;1')",
        })) as { value: { vibration: number; temperature: number; flow: number; running: boolean }[] }
      ).value;
      for (const r of rows) {
        expect(r.vibration).toBeGreaterThan(0.1);
        expect(r.vibration).toBeLessThan(10);
        expect(r.temperature).toBeGreaterThan(10); // ambient 20 °C, warming up
        expect(r.temperature).toBeLessThan(100);
        expect(r.flow).toBeGreaterThan(0);
        expect(r.running).toBe(true);
      }

      const id = 'pump-3a';
      const hist = (await api(
        p,
        'GET',
        `/digitaltwins/${id}/history?path=vibration&from=0&to=${Date.now() + 60_000}`,
      )) as {
        value: { time: string | number; value: number }[];
      };
      expect(hist.value.length).toBeGreaterThanOrEqual(3);
      expect(hist.value.every((pt) => typeof pt.value === 'number' && Number.isFinite(pt.value))).toBe(true);

      const letters = (await api(p, 'GET', '/deadletters')) as { value: unknown[] };
      expect(letters.value).toEqual([]);
      const stats = sim?.stats();
      expect(stats?.failed).toBe(0);
      expect(stats?.simulatedSeconds).toBeGreaterThan(0);
    } finally {
      await p.stop();
    }
    // Stopped first on shutdown: no timer keeps running after stop.
    const after = p.simulator?.stats().simulatedSeconds;
    await new Promise((r) => setTimeout(r, 200));
    expect(p.simulator?.stats().simulatedSeconds).toBe(after);
  }, 40_000);

  it('reacts to commands and desired properties from the platform, and reads relationship inputs', async () => {
    const data = tempDataDir('twinloop-sim-ctl-');
    dirs.push(data);
    const p = await startTestPlatform(data.dir, { sim: 'on', simSpeed: '600' });
    const latest = (id: string) => p.graph.getTwin(id)?.telemetry ?? {};
    try {
      await waitFor(
        'readings of pump-3a and pump-3b',
        () => 'flow' in latest('pump-3a') && 'dischargePressure' in latest('pump-3b'),
      );
      // pump-3a feeds pump-3b: 3b's inlet is 3a's discharge, so 3b discharges at a higher pressure
      // (without the wiring both would start from the default inlet pressure of 1 bar).
      await waitFor('the relationship input to reach pump-3b', () => {
        const a = latest('pump-3a').dischargePressure?.value as number;
        const b = latest('pump-3b').dischargePressure?.value as number;
        return b > a + 1;
      });

      // A desired property: flowSetpoint caps the flow of pump-3a at 20 m³/h.
      const patch = await fetch(`${p.runtime.httpUrl}/digitaltwins/pump-3a?${API}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json-patch+json' },
        body: JSON.stringify([{ op: 'add', path: '/flowSetpoint', value: 20 }]),
      });
      expect(patch.status).toBe(204);
      const desired = (await (await fetch(`${p.runtime.httpUrl}/digitaltwins/pump-3a/desired`)).json()) as {
        desired: Record<string, unknown>;
      };
      expect(desired.desired.flowSetpoint).toBe(20);
      await waitFor('the flow of pump-3a to follow the set-point', () => {
        const f = latest('pump-3a').flow;
        return f !== undefined && f.time > Date.now() - 500 && Math.abs((f.value as number) - 20) < 2;
      });
      expect(p.simulator?.stats().desired).toBeGreaterThanOrEqual(1);

      // A command: setRunning false stops pump-3c.
      const res = await fetch(`${p.runtime.httpUrl}/digitaltwins/pump-3c/commands/setRunning`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: 'false',
      });
      expect(res.status).toBe(202);
      // The simulated pump is a device subscribed to its commands: the command went out at once,
      // and the device answers it (200, its response schema's value).
      const receipt = (await res.json()) as { requestId: string; state: string };
      expect(receipt.state).toBe('sent');
      let c = receipt as { state: string; status?: number; response?: unknown; steps?: unknown[] };
      for (let i = 0; i < 10 && c.state !== 'succeeded'; i++) {
        const r = await fetch(
          `${p.runtime.httpUrl}/digitaltwins/pump-3c/commands/${receipt.requestId}?afterSteps=${c.steps?.length ?? 0}&waitSeconds=2`,
        );
        c = (await r.json()) as typeof c;
      }
      expect(c).toMatchObject({ state: 'succeeded', status: 200, response: true });
      await waitFor('pump-3c to report running = false', () => latest('pump-3c').running?.value === false);
      await waitFor(
        'pump-3c flow to drop to about zero',
        () => Math.abs(latest('pump-3c').flow?.value as number) < 1.5,
      );
      expect(latest('pump-3d').running?.value).toBe(true); // the others keep running
      expect(p.simulator?.stats().commands).toBe(1);

      // Bad commands are refused by the platform with the reason, never sent.
      const bad = await fetch(`${p.runtime.httpUrl}/digitaltwins/pump-3c/commands/setRunning`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '"fast"',
      });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('ValidationFailed');
      const unknown = await fetch(`${p.runtime.httpUrl}/digitaltwins/pump-3c/commands/selfDestruct`, {
        method: 'POST',
      });
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain(
        'setRunning',
      );
    } finally {
      await p.stop();
    }
  }, 40_000);

  it('takes a simulated device offline and online over HTTP (twinloop fault <twin> offline|online)', async () => {
    const data = tempDataDir('twinloop-sim-offline-');
    dirs.push(data);
    const p = await startTestPlatform(data.dir, { sim: 'on', simSpeed: '600', auth: 'on' });
    const watcher = await mqtt.connectAsync(p.runtime.mqttUrl, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      username: 'watcher',
      password: p.token,
    });
    const fault = (body: unknown) =>
      fetch(`${p.runtime.httpUrl}/simulator/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${p.token}` },
        body: JSON.stringify(body),
      });
    try {
      const presence: { state: string; at: number }[] = [];
      watcher.on('message', (_t, payload) =>
        presence.push({ ...(JSON.parse(payload.toString()) as { state: string }), at: Date.now() }),
      );
      await watcher.subscribeAsync('twins/pump-3a/connection', { qos: 1 });
      await waitFor('pump-3a connected (retained)', () => presence.some((m) => m.state === 'connected'));
      const cut = Date.now();
      const off = await fault({ twinId: 'pump-3a', fault: 'offline' });
      expect(off.status).toBe(200);
      expect(await off.json()).toMatchObject({ twinId: 'pump-3a', fault: 'offline', state: 'offline' });
      await waitFor('the will of pump-3a', () =>
        presence.some((m) => m.at >= cut && m.state === 'disconnected'),
      );
      const status = (await api(p, 'GET', '/simulator')) as { offline: string[]; stats: { offline: number } };
      expect(status.offline).toEqual(['pump-3a']);
      expect(status.stats.offline).toBe(1);
      await new Promise((r) => setTimeout(r, 200));
      const quiet = p.graph.getTwin('pump-3a')?.telemetry.vibration?.time;
      await new Promise((r) => setTimeout(r, 500)); // 300 simulated seconds at speed 600
      expect(p.graph.getTwin('pump-3a')?.telemetry.vibration?.time).toBe(quiet);

      const back = Date.now();
      const on = await fault({ twinId: 'pump-3a', fault: 'online' });
      expect(on.status).toBe(200);
      await waitFor('pump-3a connected again', () =>
        presence.some((m) => m.at >= back && m.state === 'connected'),
      );
      await waitFor(
        'pump-3a telemetry again',
        () => (p.graph.getTwin('pump-3a')?.telemetry.vibration?.time ?? 0) > (quiet ?? 0),
      );
      expect(((await api(p, 'GET', '/simulator')) as { offline: string[] }).offline).toEqual([]);

      // Clear errors: a twin that does not exist, and one the simulator does not run.
      const unknown = await fault({ twinId: 'pump-99', fault: 'offline' });
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('DigitalTwinNotFound');
      const site = await fault({ twinId: 'site-lyon', fault: 'offline' });
      expect(site.status).toBe(404);
      expect(((await site.json()) as { error: { message: string } }).error.message).toContain(
        'not simulated',
      );
    } finally {
      watcher.end(true);
      await p.stop();
    }
  }, 40_000);

  it('shadow mode: residuals near zero for healthy pumps, large for the one with cavitation', async () => {
    const data = tempDataDir('twinloop-shadow-');
    dirs.push(data);
    // Speed 60: the cavitation burst (60 simulated seconds) lasts a second of real time, so a loaded
    // machine (a CI run) still publishes readings inside it; at 600 it was 100 ms and could be missed.
    const p = await startTestPlatform(data.dir, { sim: 'on', simSpeed: '60', shadow: 'on' });
    const residual = (id: string) => p.graph.getTwin(id)?.telemetry.vibrationResidual;
    try {
      expect(p.shadow).toBeDefined();
      const pumps = ['pump-1a', 'pump-1b', 'pump-1c', 'pump-3a', 'pump-3b', 'pump-3c', 'pump-3d'];
      await waitFor('residuals of every pump', () => pumps.every((id) => residual(id) !== undefined));
      await new Promise((r) => setTimeout(r, 1000)); // ~1 simulated minute of readings
      const series = async (id: string, from: number) => {
        const res = await fetch(
          `${p.runtime.httpUrl}/digitaltwins/${id}/history?path=vibrationResidual&from=${from}&to=${Date.now() + 600_000}&limit=10000`,
        );
        expect(res.status).toBe(200);
        return ((await res.json()) as { value: { value: number }[] }).value.map((v) => v.value);
      };
      for (const id of pumps) {
        const r = await series(id, 0);
        expect(r.length).toBeGreaterThan(5);
        // healthy: sensor noise (σ 0.05) plus this pump's spread of parameters (baseVibration ±10%)
        expect(Math.max(...r.map(Math.abs))).toBeLessThan(0.6);
      }
      const predicted = p.graph.getTwin('pump-3a')?.telemetry.vibrationPredicted?.value as number;
      expect(predicted).toBeGreaterThan(0.5);

      const at = Date.now();
      const res = await fetch(`${p.runtime.httpUrl}/simulator/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ twinId: 'pump-1a', fault: 'cavitation' }),
      });
      expect(res.status).toBe(200);
      // The burst lasts 60 simulated seconds, a second of real time at speed 60: a loaded machine may
      // not look at the latest value inside that window, so the burst is looked for in the history.
      let burst: number[] = [];
      const deadline = Date.now() + 20_000;
      while (!burst.some((v) => v > 3)) {
        if (Date.now() > deadline) throw new Error(`no cavitation residual > 3 in ${JSON.stringify(burst)}`);
        await new Promise((r) => setTimeout(r, 200));
        burst = await series('pump-1a', at);
      }
      // The residual is telemetry: the query reads it with `$telemetry` on every pump.
      const q = await fetch(`${p.runtime.httpUrl}/query?${API}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_NUMBER(T.$telemetry.vibrationResidual)',
        }),
      });
      const ids = ((await q.json()) as { value: { $dtId: string }[] }).value.map((v) => v.$dtId);
      expect(ids.sort()).toEqual([...pumps].sort());
      expect(Math.max(...(await series('pump-1b', at)).map(Math.abs))).toBeLessThan(0.6);
      expect(p.shadow?.stats().errors).toBe(0);
    } finally {
      await p.stop();
    }
  }, 40_000);

  it('plays model events of the scenario on every twin of that model (a `model:` event, not only `twin:`)', async () => {
    const pilotDir = tempDataDir('twinloop-model-events-');
    dirs.push(pilotDir);
    const dir = path.join(pilotDir.dir, 'stopped-line');
    cpSync(path.join(shippedPilotsDir(), 'pump-line'), dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'scenario.yaml'),
      [
        'scenario: all-pumps-stopped',
        'simulation: { speed: 600, sampleInterval: 10s, seed: 1 }',
        'events:',
        '  - { at: 0s, model: "dtmi:twinloop:pumpline:Pump;1", command: setRunning, payload: false }',
      ].join('\n'),
    );
    const data = tempDataDir('twinloop-sim-');
    dirs.push(data);
    const p = await startTestPlatform(data.dir, { sim: 'on', pilot: dir });
    try {
      const pumps = [...p.graph.allTwins()].filter((t) => t.modelId === 'dtmi:twinloop:pumpline:Pump;1');
      expect(pumps.length).toBeGreaterThan(1);
      await waitFor(
        'every pump to report running = false',
        () => pumps.every((t) => p.graph.getTwin(t.id)?.telemetry.running?.value === false),
        20_000,
      );
    } finally {
      await p.stop();
    }
  }, 40_000);

  it('is off with sim off (the other platform tests rely on it)', async () => {
    const data = tempDataDir('twinloop-sim-off-');
    dirs.push(data);
    const p = await startTestPlatform(data.dir);
    try {
      expect(p.simulator).toBeUndefined();
      expect(
        await count(p, 'SELECT COUNT() FROM DIGITALTWINS T WHERE IS_DEFINED(T.$telemetry.vibration)'),
      ).toBe(0);
    } finally {
      await p.stop();
    }
  });
});

describe('the device simulator on bad input', () => {
  /** A copy of pump-line with one behaviour file replaced. */
  function pilotWith(file: string, text: string): string {
    const d = tempDataDir('twinloop-pilot-');
    dirs.push(d);
    const dir = path.join(d.dir, 'my-pilot');
    cpSync(path.join(shippedPilotsDir(), 'pump-line', 'models'), path.join(dir, 'models'), {
      recursive: true,
    });
    cpSync(path.join(shippedPilotsDir(), 'pump-line', 'twins.json'), path.join(dir, 'twins.json'));
    mkdirSync(path.join(dir, 'behaviours'));
    writeFileSync(path.join(dir, 'behaviours', file), text);
    return dir;
  }
  const start = async (dir: string) =>
    startSimulator({
      pilot: dir,
      ...(await pilotWorkspace(dir)),
      mqttUrl: 'mqtt://127.0.0.1:1',
      connectTimeoutMs: 500,
    });

  async function failure(dir: string): Promise<TwinloopError> {
    const e: unknown = await start(dir).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(TwinloopError);
    return e as TwinloopError;
  }

  it('names the file and line of a YAML syntax error', async () => {
    const dir = pilotWith(
      'broken.yaml',
      'behaviour: x\ninterface: dtmi:twinloop:pumpline:Pump;1\nstates: [\n',
    );
    const e = await failure(dir);
    expect(e.code).toBe('ValidationFailed');
    expect(e.message).toContain(path.join(dir, 'behaviours', 'broken.yaml'));
    expect(e.message).toMatch(/broken\.yaml:\d+:\d+/);
  });

  it('names the file and line of an unknown interface', async () => {
    const dir = pilotWith(
      'ghost.yaml',
      '# a pump of no known model\nbehaviour: ghost\ninterface: dtmi:nowhere:Ghost;1\n',
    );
    const e = await failure(dir);
    expect(e.code).toBe('ModelNotFound');
    expect(e.message).toContain('ghost.yaml:3');
    expect(e.message).toContain('dtmi:nowhere:Ghost;1');
  });

  it('passes on the behaviour compiler’s problems (with their line) for a bad expression', async () => {
    const dir = pilotWith(
      'bad-expr.yaml',
      [
        'behaviour: bad',
        'interface: dtmi:twinloop:pumpline:Pump;1',
        'states:',
        '  x: { initial: 0, derivative: "1 +* 2" }',
        'telemetry:',
        '  vibration: x',
      ].join('\n'),
    );
    const e = await failure(dir);
    expect(e.code).toBe('ValidationFailed');
    expect(e.message).toContain('bad-expr.yaml');
    expect(e.problems.some((pr) => pr.line === 4)).toBe(true);
  });

  it('says clearly when no broker answers', async () => {
    const dir = pilotWith('pump.behaviour.yaml', '');
    cpSync(
      path.join(shippedPilotsDir(), 'pump-line', 'behaviours', 'pump.behaviour.yaml'),
      path.join(dir, 'behaviours', 'pump.behaviour.yaml'),
    );
    const e = await failure(dir);
    expect(e.code).toBe('ServiceUnavailable');
    expect(e.message).toContain('mqtt://127.0.0.1:1');
  });

  it('percent-encodes twin ids in topics as docs/mqtt.md says', () => {
    expect(encodeTopicLevel('line/3#a')).toBe('line%2F3%23a');
    expect(encodeTopicLevel('a+b%c\0')).toBe('a%2Bb%25c%00');
    expect(encodeTopicLevel('pump-3a')).toBe('pump-3a');
  });
});
