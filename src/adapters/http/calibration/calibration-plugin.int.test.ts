/**
 * The calibration routes on a real, listening Twinloop HTTP server (SQLite stores in a temp folder,
 * the DTDL registry, the twin graph), beside the ADT routes they must not disturb.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { prometheusHttpMetrics } from '../../metrics/prometheus-http-metrics.js';
import { ALL_MODELS } from '../../../../test/adt-sdk/workspace-fixture.js';
import { openTestWorkspace, type TestWorkspace } from '../../../../test/adt-sdk/workspace-fixture.js';
import { IngestService } from '../../../core/telemetry/ingest-service.js';
import { BehaviourCatalog, compileBehaviour, seededRandom } from '../../../sim/behaviour/index.js';
import { CalibrationService, historyFromStore } from '../../../sim/calibration/calibration-service.js';
import { solveIvp } from '../../../sim/solvers/solve-ivp.js';
import { createHttpServer, type HttpServer } from '../http-server.js';
import { calibrationPlugin } from './calibration-plugin.js';

const ROOM = 'dtmi:test:Room;1';
const SENSOR = 'dtmi:test:Sensor;1';
const V = '?api-version=2023-10-31';
const T0 = Date.UTC(2026, 3, 1, 9, 0, 0);

// Room humidity: a humidifier (on from 600 s to 3000 s) adds `gain` % at steady state, time constant tau.
const HUMIDITY = `
behaviour: room-humidity
interface: ${ROOM}
parameters:
  outside: { value: 40, unit: percent }
  gain: { value: 20, min: 0, max: 100 }
  tau: { value: 900, unit: second, min: 1, max: 100000 }
inputs:
  humidifier: { schedule: [[0, 0], [600, 1], [3000, 0]], interpolation: step }
states:
  h: { initial: outside, derivative: '(outside + gain*humidifier - h)/tau', unit: percent }
telemetry:
  humidity: { from: h, noise: { std: 0.3 } }
`;
const TRUTH = { tau: 700, gain: 14 };

describe('calibration routes', () => {
  let w: TestWorkspace;
  let http: HttpServer;
  let url: string;
  const applied: string[] = [];

  const call = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(url + path, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    w = await openTestWorkspace();
    await w.models.add(ALL_MODELS);
    await w.twins.createOrReplace('room-1', { $metadata: { $model: ROOM }, thermostat: { $metadata: {} } });
    await w.twins.createOrReplace('s-1', { $metadata: { $model: SENSOR } });
    const model = compileBehaviour(HUMIDITY, w.models.getInterface(ROOM)!, { source: 'room.yaml' });
    const catalog = new BehaviourCatalog([{ source: 'room.yaml', interfaceId: ROOM, model }], w.models);

    // An hour of the room's humidity, every 30 s, from the model with the true parameters and its noise.
    const times = Float64Array.from({ length: 121 }, (_, i) => i * 30);
    const rt = model.createRuntime(TRUTH);
    const sol = solveIvp(model.rhs(rt), 0, model.initialState(rt), 3600, {
      tEval: times,
      maxStep: 30,
      rtol: 1e-10,
      atol: 1e-10,
    });
    const rnd = seededRandom(5);
    await w.storage.history.append(
      Array.from(times, (t, i) => ({
        workspace: 'default',
        twinId: 'room-1',
        path: 'humidity',
        kind: 'telemetry' as const,
        ts: T0 + t * 1000,
        value: model.measure(t, sol.row(i), rt, rnd).telemetry.humidity as number,
      })),
    );

    const calibration = new CalibrationService({
      workspace: 'default',
      store: w.storage.behaviour,
      history: historyFromStore(w.storage.history, 'default'),
      twin: (id) => {
        const t = w.graph.getTwin(id);
        return t && { modelId: t.modelId, properties: t.contents };
      },
      behaviours: catalog,
      onApplied: (twinId) => applied.push(twinId),
    });
    await calibration.load();
    const ingest = new IngestService({
      workspace: (name) => (name === 'default' ? { graph: w.graph, models: w.models } : undefined),
      history: w.storage.history,
      deadLetters: w.storage.deadLetters,
      live: w.live,
    });
    http = await createHttpServer({
      workspace: { name: 'default', models: w.models, twins: w.twins, graph: w.graph },
      ingest,
      history: w.storage.history,
      deadLetters: w.storage.deadLetters,
      metrics: prometheusHttpMetrics(new Registry()),
      plugins: [calibrationPlugin({ calibration })],
    });
    url = (await http.listen()).url;
  });
  afterAll(async () => {
    await http.close();
    await w.close();
  });

  let calibrationId = '';

  it('POST /digitaltwins/{id}/calibrations fits and answers 201 with the fit', async () => {
    const { status, json } = await call('POST', '/digitaltwins/room-1/calibrations', {
      parameters: ['tau', { name: 'gain', min: 0, max: 50 }],
      telemetry: ['humidity'],
      from: new Date(T0).toISOString(),
      to: T0 + 3600_001,
    });
    expect(status).toBe(201);
    calibrationId = json.id as string;
    expect(calibrationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(json).toMatchObject({
      twinId: 'room-1',
      behaviour: 'room-humidity',
      method: 'lm',
      applied: false,
    });
    const params = json.parameters as { name: 'tau' | 'gain'; value: number; low: number; high: number }[];
    expect(params.map((p) => p.name)).toEqual(['tau', 'gain']);
    for (const p of params) {
      expect(p.low).toBeLessThan(TRUTH[p.name]);
      expect(p.high).toBeGreaterThan(TRUTH[p.name]);
      expect(Math.abs(p.value - TRUTH[p.name]) / TRUTH[p.name]).toBeLessThan(0.08);
    }
    expect(json.rmse as number).toBeLessThan(0.4); // the sensor noise is 0.3
    expect(json.r2 as number).toBeGreaterThan(0.98);
    expect(json.data).toMatchObject({ from: T0, to: T0 + 3600_000, points: 121, truncated: false });
  });

  it('answers 400 with every problem, 404 for an unknown twin', async () => {
    const unknown = await call('POST', '/digitaltwins/room-1/calibrations', {
      parameters: ['nope', { name: 'tau', min: 10, max: 5 }],
      telemetry: ['humidity'],
    });
    expect(unknown.status).toBe(400);
    const err = unknown.json.error as { code: string; details: { pointer: string; message: string }[] };
    expect(err.code).toBe('BadRequest');
    expect(err.details.map((d) => d.pointer)).toEqual(['/parameters/0/name', '/parameters/1/min']);
    expect(err.details[0]!.message).toMatch(/its parameters are: outside, gain, tau/);

    const schema = await call('POST', '/digitaltwins/room-1/calibrations', { telemetry: ['humidity'] });
    expect(schema.status).toBe(400);
    expect(JSON.stringify(schema.json)).toMatch(/parameters/);

    const time = await call('POST', '/digitaltwins/room-1/calibrations', {
      parameters: ['tau'],
      telemetry: ['humidity'],
      from: 'yesterday',
    });
    expect(time.status).toBe(400);
    expect((time.json.error as { details: { pointer: string }[] }).details[0]!.pointer).toBe('/from');

    const empty = await call('POST', '/digitaltwins/room-1/calibrations', {
      parameters: ['tau'],
      telemetry: ['humidity'],
      from: T0 - 7200_000,
      to: T0,
    });
    expect(empty.status).toBe(400);
    expect((empty.json.error as { message: string }).message).toMatch(
      /no numeric point in the window \(0 read/,
    );

    const sensor = await call('POST', '/digitaltwins/s-1/calibrations', {
      parameters: ['tau'],
      telemetry: ['x'],
    });
    expect(sensor.status).toBe(400);
    expect((sensor.json.error as { message: string }).message).toContain(SENSOR);

    const ghost = await call('POST', '/digitaltwins/ghost/calibrations', {
      parameters: ['tau'],
      telemetry: ['x'],
    });
    expect(ghost.status).toBe(404);
    expect((ghost.json.error as { code: string }).code).toBe('DigitalTwinNotFound');
    expect((await call('GET', '/digitaltwins/s-1/behaviour')).status).toBe(404);
    expect((await call('GET', '/digitaltwins/room-1/calibrations/nope')).status).toBe(404);
    expect((await call('POST', '/digitaltwins/room-1/calibrations/nope/apply')).status).toBe(404);
  });

  it('lists and gets calibrations, applies one, shows and resets the behaviour parameters', async () => {
    const list = await call('GET', '/digitaltwins/room-1/calibrations?limit=10');
    expect(list.status).toBe(200);
    expect((list.json.value as { id: string }[]).map((c) => c.id)).toEqual([calibrationId]);
    const one = await call('GET', `/digitaltwins/room-1/calibrations/${calibrationId}`);
    expect(one.status).toBe(200);
    expect(one.json.id).toBe(calibrationId);

    const before = await call('GET', '/digitaltwins/room-1/behaviour');
    expect(before.status).toBe(200);
    expect(before.json).toMatchObject({
      twinId: 'room-1',
      behaviour: 'room-humidity',
      interface: ROOM,
      parameters: { tau: { value: 900, unit: 'second', default: 900, source: 'model' } },
    });

    const apply = await call('POST', `/digitaltwins/room-1/calibrations/${calibrationId}/apply`);
    expect(apply.status).toBe(200);
    const fittedTau = (one.json.values as { tau: number }).tau;
    expect(apply.json).toMatchObject({
      calibrationId,
      parameters: {
        tau: { value: fittedTau, default: 900, source: 'calibration', calibrationId },
        outside: { value: 40, source: 'model' },
      },
    });
    expect(applied).toEqual(['room-1']);
    expect((await call('GET', '/digitaltwins/room-1/behaviour')).json).toEqual(apply.json);
    expect((await call('GET', `/digitaltwins/room-1/calibrations/${calibrationId}`)).json.applied).toBe(true);

    const reset = await call('DELETE', '/digitaltwins/room-1/behaviour/parameters');
    expect(reset.status).toBe(200);
    expect(reset.json).toMatchObject({ parameters: { tau: { value: 900, source: 'model' } } });
    expect(reset.json).not.toHaveProperty('calibrationId');
    expect(applied).toEqual(['room-1', 'room-1']);
  });

  it('leaves the ADT routes as they were, and documents its own', async () => {
    const twin = await call('GET', `/digitaltwins/room-1${V}`);
    expect(twin.status).toBe(200);
    expect(twin.json.$dtId).toBe('room-1');
    expect((await call('GET', `/digitaltwins/room-1/relationships${V}`)).status).toBe(200);
    // The ADT routes' api-version check is theirs alone: ours sit outside it.
    expect((await call('GET', '/digitaltwins/room-1?api-version=2019-01-01')).status).toBe(400);
    expect((await call('GET', '/digitaltwins/room-1/behaviour?api-version=2019-01-01')).status).toBe(200);
    const api = await call('GET', '/openapi.json');
    const paths = Object.keys(api.json.paths as object);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/digitaltwins/{id}/calibrations',
        '/digitaltwins/{id}/calibrations/{cid}',
        '/digitaltwins/{id}/calibrations/{cid}/apply',
        '/digitaltwins/{id}/behaviour',
        '/digitaltwins/{id}/behaviour/parameters',
        '/digitaltwins/{id}',
      ]),
    );
  });
});
