/**
 * The what-if routes on a real, listening Twinloop HTTP server over the real parts (SQLite stores in
 * a temp folder, the DTDL registry, the twin graph and twin service, ingestion): heaters whose
 * answer is known in closed form, JSON and CSV trajectories, 4xx answers, cancel, and live twins,
 * their telemetry and history byte-identical after runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { prometheusHttpMetrics } from '../../metrics/prometheus-http-metrics.js';
import { openTestWorkspace, type TestWorkspace } from '../../../../test/adt-sdk/workspace-fixture.js';
import type { InterfaceInfo } from '../../../core/models/model-types.js';
import { IngestService } from '../../../core/telemetry/ingest-service.js';
import { BehaviourCatalog, compileBehaviour } from '../../../sim/behaviour/index.js';
import { graphWorld } from '../../../sim/whatif/graph-world.js';
import { HEATER, HEATER_BEHAVIOUR, HEATER_MODELS, lag } from '../../../sim/whatif/test-heater.js';
import { WhatIfService } from '../../../sim/whatif/what-if-service.js';
import type { TwinTrajectory } from '../../../sim/whatif/what-if-types.js';
import { createHttpServer, type HttpServer } from '../http-server.js';
import { simulationsPlugin } from './simulations-plugin.js';

const V = '?api-version=2023-10-31';

describe('what-if routes', () => {
  let w: TestWorkspace;
  let http: HttpServer;
  let whatIf: WhatIfService;
  let url: string;

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(url + path, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      text,
      json: () => JSON.parse(text) as Record<string, unknown>,
    };
  };

  /** What a client sees of the live twins, and what the platform keeps of them. */
  const live = async (): Promise<string> =>
    JSON.stringify({
      twins: await Promise.all(
        ['h1', 'h2', 'h3', 'room'].map(async (id) => (await call('GET', `/digitaltwins/${id}${V}`)).text),
      ),
      relationships: (await call('GET', `/digitaltwins/h1/relationships${V}`)).text,
      graph: ['h1', 'h2', 'h3'].map((id) => w.graph.getTwin(id)),
      history: (await call('GET', '/digitaltwins/h3/history?path=temperature&from=0&to=4102444800000')).text,
      series: await w.storage.history.listSeries('default'),
    });

  beforeAll(async () => {
    w = await openTestWorkspace();
    await w.models.add(HEATER_MODELS);
    const heater = compileBehaviour(HEATER_BEHAVIOUR, w.models.getInterface(HEATER) as InterfaceInfo, {
      source: 'heater.yaml',
      lookup: w.models,
    });
    const catalog = new BehaviourCatalog(
      [{ source: 'heater.yaml', interfaceId: HEATER, model: heater }],
      w.models,
    );
    whatIf = new WhatIfService({
      catalog,
      world: graphWorld(w.graph, { now: () => 5000 }),
      interfaces: w.models,
      yieldNow: () => new Promise((res) => setImmediate(res)),
      sliceMs: 5,
      limits: { maxSteps: 1e9 },
    });
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
      plugins: [simulationsPlugin(whatIf)],
    });
    url = (await http.listen()).url;

    for (const id of ['h1', 'h2', 'h3'])
      expect((await call('PUT', `/digitaltwins/${id}${V}`, { $metadata: { $model: HEATER } })).status).toBe(
        200,
      );
    expect(
      (await call('PUT', `/digitaltwins/room${V}`, { $metadata: { $model: 'dtmi:test:Room;1' } })).status,
    ).toBe(200);
    for (const [src, name, target] of [
      ['h1', 'feeds', 'h2'],
      ['h3', 'feeds', 'h2'],
      ['room', 'contains', 'h1'],
    ] as const) {
      const put = await call('PUT', `/digitaltwins/${src}/relationships/${src}-${target}${V}`, {
        $relationshipName: name,
        $targetId: target,
      });
      expect(put.status).toBe(200);
    }
    // h3 reports a temperature (live, kept in history); h1 has an offset property
    expect((await call('POST', `/digitaltwins/h3/telemetry${V}`, { temperature: 50 })).status).toBe(204);
    expect(
      (
        await call('PATCH', `/digitaltwins/h1${V}`, [{ op: 'add', path: '/offset', value: 4 }], {
          'content-type': 'application/json-patch+json',
        })
      ).status,
    ).toBe(204);
  });
  afterAll(async () => {
    whatIf.close();
    await http.close();
    await w.close();
  });

  it('runs a subgraph to JSON and streamed CSV trajectories, leaving the live twins byte-identical', async () => {
    const before = await live();
    expect(before).toContain('"telemetry":{"temperature":{"value":50'); // what there is to keep an eye on
    const res = await call('POST', '/simulations?wait=20000', {
      name: 'room warm-up',
      root: 'room',
      horizon: '10min',
      sampleInterval: '1min',
      events: [{ at: '5min', twin: 'h1', command: 'setPower', payload: 0 }],
    });
    expect(res.status).toBe(200);
    const job = res.json();
    expect(job).toMatchObject({
      name: 'room warm-up',
      status: 'succeeded',
      progress: 1,
      horizon: 600,
      sampleInterval: 60,
      twins: ['h1', 'h2'],
      skipped: [{ twinId: 'room', reason: 'model dtmi:test:Room;1 has no behaviour' }],
    });
    const id = String(job.id);
    expect(res.headers.get('location')).toBe(`/simulations/${id}`);
    expect(job.links).toEqual({
      self: `/simulations/${id}`,
      trajectories: `/simulations/${id}/trajectories`,
      csv: `/simulations/${id}/trajectories.csv`,
    });

    const answer = await call('GET', `/simulations/${id}/answer`);
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({
      id,
      sentence: 'No limits to check: no twin of the run has a <telemetry>Limit, Max or Min property.',
      checks: [],
    });

    const traj = await call('GET', `/simulations/${id}/trajectories`);
    expect(traj.status).toBe(200);
    const body = traj.json();
    expect(body).toMatchObject({ id, name: 'room warm-up', horizon: 600, sampleInterval: 60 });
    const [h1] = body.twins as TwinTrajectory[];
    expect(h1).toMatchObject({ twinId: 'h1', behaviour: 'heater', fork: 'model', forkTime: 5000 });
    expect(h1!.units).toMatchObject({
      temperature: 'degreeCelsius',
      temp: 'degreeCelsius',
      heatLoss: 'kelvin',
    });
    // offset 4 (its property): T∞ 44 until 5 min, then power 0 → T∞ 24
    const at300 = lag(300, 20, 44);
    expect(h1!.telemetry.temperature![5]).toBeCloseTo(at300, 7);
    expect(h1!.telemetry.temperature![10]).toBeCloseTo(lag(300, at300, 24), 7);

    const csv = await call('GET', `/simulations/${id}/trajectories.csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('transfer-encoding')).toBe('chunked'); // streamed, not buffered
    const lines = csv.text.trimEnd().split('\n');
    expect(lines[0]).toBe('twin,time,kind,name,value');
    // per twin and sample: 2 telemetry + 1 property + 1 state + 2 outputs
    expect(lines).toHaveLength(1 + 2 * 11 * 6);
    expect(lines).toContain(`h1,300,telemetry,temperature,${h1!.telemetry.temperature![5]}`);
    expect(lines).toContain('h1,300,property,reportedPower,0');
    // not a number (h2's offset is 0): null in JSON, empty in CSV
    const h2 = (body.twins as TwinTrajectory[])[1]!;
    expect(h2.outputs.lossPerOffset!.slice(0, 2)).toEqual([null, null]); // 0/0, then x/0
    expect(lines).toContain('h2,0,output,lossPerOffset,');
    expect(lines).toContain(`h2,60,output,heatLoss,${h2.outputs.heatLoss![1]}`);
    const accept = await call('GET', `/simulations/${id}/trajectories`, undefined, { accept: 'text/csv' });
    expect(accept.text).toBe(csv.text);

    expect(await live()).toBe(before);
  });

  it('answers 400 with every problem, 404 for an unknown twin or simulation', async () => {
    const bad = await call('POST', '/simulations', {
      twins: ['h1'],
      horizon: 'later',
      changes: { h1: { parameters: { nope: 1 } } },
      events: [{}],
    });
    expect(bad.status).toBe(400);
    const err = bad.json().error as { code: string; details: { pointer: string; message: string }[] };
    expect(err.code).toBe('BadRequest');
    expect(err.details.map((d) => d.pointer).sort()).toEqual(
      ['/changes/h1/parameters/nope', '/events/0/at', '/events/0/twin', '/horizon'].sort(),
    );
    expect(err.details.find((d) => d.pointer === '/changes/h1/parameters/nope')?.message).toMatch(
      /it has: tau, gain, ambient/,
    );
    const room = await call('POST', '/simulations', { twins: ['room'], horizon: 10 });
    expect(room.status).toBe(400);
    expect(room.text).toContain('dtmi:test:Room;1');
    expect((await call('POST', '/simulations?wait=soon', { twins: ['h1'], horizon: 10 })).status).toBe(400);
    const ghost = await call('POST', '/simulations', { twins: ['ghost'], horizon: 10 });
    expect(ghost.status).toBe(404);
    expect((ghost.json().error as { code: string }).code).toBe('DigitalTwinNotFound');
    for (const path of [
      '/simulations/none',
      '/simulations/none/trajectories',
      '/simulations/none/trajectories.csv',
      '/simulations/none/answer',
    ]) {
      const r = await call('GET', path);
      expect(r.status).toBe(404);
      expect((r.json().error as { code: string }).code).toBe('NotFound');
    }
    expect((await call('DELETE', '/simulations/none')).status).toBe(404);
    const notJson = await fetch(`${url}/simulations`, {
      method: 'POST',
      body: '{"twins":',
      headers: { 'content-type': 'application/json' },
    });
    expect(notJson.status).toBe(400);
  });

  it('reports the progress of a long run, 409 for its trajectories, and cancels it', async () => {
    const before = await live();
    const res = await call('POST', '/simulations', {
      twins: ['h1', 'h2', 'h3'],
      horizon: '300d',
      sampleInterval: '1d',
    });
    expect(res.status).toBe(201);
    const id = String(res.json().id);
    expect(res.json().status).toBe('running');
    let progress = 0;
    for (let i = 0; i < 500 && progress === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      progress = Number((await call('GET', `/simulations/${id}`)).json().progress);
    }
    expect(progress).toBeGreaterThan(0);
    expect(progress).toBeLessThan(1);
    const early = await call('GET', `/simulations/${id}/trajectories.csv`);
    expect(early.status).toBe(409);
    expect((early.json().error as { message: string }).message).toMatch(
      /running: it has no trajectories yet/,
    );

    expect((await call('GET', `/simulations/${id}/answer`)).status).toBe(409);

    const del = await call('DELETE', `/simulations/${id}`);
    expect(del.status).toBe(200);
    expect(del.json()).toMatchObject({ id, status: 'cancelled' });
    const after = (await call('GET', `/simulations/${id}`)).json();
    expect(after.status).toBe('cancelled');
    expect(Number(after.progress)).toBeLessThan(1);
    expect((await call('GET', `/simulations/${id}/trajectories`)).status).toBe(409);
    const list = (await call('GET', '/simulations')).json().value as { id: string; status: string }[];
    expect(list[0]).toMatchObject({ id, status: 'cancelled' });
    expect(await live()).toBe(before);
  });

  it('documents the routes in the OpenAPI description', async () => {
    const doc = (await call('GET', '/openapi.json')).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/simulations',
        '/simulations/{id}',
        '/simulations/{id}/trajectories',
        '/simulations/{id}/trajectories.csv',
      ]),
    );
    expect(doc.paths['/simulations']).toHaveProperty('post.requestBody');
    expect(doc.paths['/simulations']).toHaveProperty('post.responses.201');
  });
});
