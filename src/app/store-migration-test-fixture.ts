/**
 * Test support for store-migration: fills a Storage, through its ports only, with one record or
 * more of every kind a migration copies, hostile values included (a twin id made of SQL
 * metacharacters, `__proto__` keys in contents, odd unicode). Used by the SQLite → SQLite unit test
 * and the SQLite → PostgreSQL service test.
 */
import { newDeleteJob, newImportJob } from '../core/jobs/job-state.js';
import type { CalibrationRecord } from '../core/ports/behaviour-parameter-store.js';
import type { CommandState } from '../core/ports/command-store.js';
import type { OutboxRow } from '../core/ports/event-routing.js';
import type { HistoryPoint } from '../core/ports/storage-ports.js';
import type { Storage } from '../core/ports/storage.js';

export const EVIL_ID = "'; DROP TABLE x; --";
const WS = 'default';
const T0 = 1_700_000_000_000;

function calibration(id: string, twinId: string, createdAt: number): CalibrationRecord {
  return {
    id,
    workspace: WS,
    twinId,
    behaviour: 'pump',
    createdAt,
    method: 'lm',
    converged: true,
    reason: 'ftol',
    iterations: 12,
    evaluations: 80,
    durationMs: 41,
    rmse: 0.101,
    r2: 0.9931,
    parameters: [{ name: 'tau', value: 419.7, initial: 600, min: 1, max: 5000 }],
    values: { tau: 419.7 },
    base: {},
    inputs: { running: 1 },
    initialState: 'model',
    initialStates: [],
    data: { from: T0, to: T0 + 1000, points: 2, simFrom: 0, simTo: 1, truncated: false, telemetry: [] },
  };
}

function outboxRow(i: number, twinId: string): OutboxRow {
  return {
    endpoint: 'hook',
    orderKey: twinId,
    event: {
      id: `e${i}`,
      type: 'Microsoft.DigitalTwins.Twin.Update',
      source: 'host',
      subject: twinId,
      time: T0 + i,
      data: { patch: [{ op: 'replace', path: '/v', value: i }] },
      twinId,
    },
    created: T0 + i,
  };
}

export interface SeededStore {
  /** The token of the credential made for the hostile twin. */
  token: string;
  /** History points written per series. */
  pointsPerSeries: number;
}

/**
 * Writes a small store: 2 models, 3 twins (one hostile), 2 relationships, history on 2 series,
 * 2 dead letters, a credential, parameters and 2 calibrations, 2 jobs, an endpoint and a route,
 * 3 pending outbox deliveries, 1 route dead letter and 4 commands (queued, acknowledged, succeeded,
 * expired).
 */
export async function seedStore(s: Storage, pointsPerSeries = 2500): Promise<SeededStore> {
  const model = (id: string, extendsId?: string) => ({
    workspace: WS,
    id,
    definition: JSON.stringify({
      '@id': id,
      '@type': 'Interface',
      '@context': 'dtmi:dtdl:context;3',
      ...(extendsId ? { extends: extendsId } : {}),
    }),
    uploadTime: T0,
    decommissioned: false,
  });
  await s.models.insert([
    model('dtmi:x:Base;1'),
    { ...model('dtmi:x:Pump;1', 'dtmi:x:Base;1'), decommissioned: true },
  ]);
  const twin = (id: string, contents: Record<string, unknown>) => ({
    id,
    modelId: 'dtmi:x:Pump;1',
    workspace: WS,
    etag: `W/"${id.length}"`,
    lastUpdateTime: T0,
    contents,
    propertyTimes: {},
    telemetry: {},
  });
  const proto = JSON.parse(
    '{"__proto__": {"polluted": true}, "constructor": {"prototype": 1}, "name": "ü\\u2028😀"}',
  ) as Record<string, unknown>;
  await s.twins.commit([
    {
      ops: [
        { op: 'putTwin', twin: twin('pump-1', { speed: 3 }), expectEtag: null },
        { op: 'putTwin', twin: twin('pump-2', { speed: 4 }), expectEtag: null },
        { op: 'putTwin', twin: twin(EVIL_ID, proto), expectEtag: null },
        {
          op: 'putRelationship',
          rel: {
            id: 'r1',
            sourceId: 'pump-1',
            targetId: EVIL_ID,
            name: 'feeds',
            workspace: WS,
            etag: 'W/"r1"',
            lastUpdateTime: T0,
            properties: proto,
          },
          expectEtag: null,
        },
        {
          op: 'putRelationship',
          rel: {
            id: EVIL_ID,
            sourceId: EVIL_ID,
            targetId: 'pump-2',
            name: 'feeds',
            workspace: WS,
            etag: 'W/"r2"',
            lastUpdateTime: T0,
            properties: {},
          },
          expectEtag: null,
        },
      ],
    },
  ]);
  for (const [twinId, path] of [
    ['pump-1', 'pressure'],
    [EVIL_ID, 'flow'],
  ] as const) {
    const points: HistoryPoint[] = [];
    for (let i = 0; i < pointsPerSeries; i++) {
      points.push({
        workspace: WS,
        twinId,
        path,
        kind: 'telemetry',
        ts: T0 + i * 1000,
        value: i % 7 === 0 ? i / 7 : i,
      });
    }
    // Two points at one time: both must survive the move.
    points.push({ workspace: WS, twinId, path, kind: 'telemetry', ts: T0, value: -1 });
    await s.history.append(points);
  }
  await s.history.append([
    {
      workspace: WS,
      twinId: 'pump-2',
      path: 'state',
      kind: 'property',
      ts: T0,
      value: { __proto__: 1, on: true },
    },
  ]);
  await s.deadLetters.add([
    {
      workspace: WS,
      time: T0,
      source: 'mqtt',
      topic: `twinloop/${EVIL_ID}/telemetry`,
      twinId: EVIL_ID,
      payload: Buffer.from([0, 1, 2, 255]),
      code: 'InvalidTelemetry',
      reason: 'not JSON',
    },
    {
      workspace: WS,
      time: T0 + 1,
      source: 'http',
      payload: Buffer.from('{"__proto__":1}'),
      code: 'InvalidTelemetry',
      reason: 'bad',
      problems: [{ code: 'x', message: 'y', pointer: '/__proto__' }],
    },
  ]);
  // Commands in several states: queued, acknowledged, succeeded (a hostile response), expired.
  const command = (i: number, twinId: string) => ({
    workspace: WS,
    requestId: `cmd-${i}`,
    twinId,
    command: 'setRunning',
    request: i % 2 === 0,
    createdAt: T0 + i,
    expiresAt: T0 + 600_000,
    ...(i === 1 ? { requestedBy: 'alice 😀' } : {}),
  });
  await s.commands.add([
    command(0, EVIL_ID),
    command(1, 'pump-1'),
    command(2, 'pump-1'),
    command(3, 'pump-2'),
  ]);
  const move = (i: number, from: CommandState, to: CommandState, at: number, extra: object = {}) => ({
    workspace: WS,
    requestId: `cmd-${i}`,
    from: [from],
    to,
    at: T0 + at,
    ...extra,
  });
  await s.commands.transition([
    move(1, 'queued', 'sent', 10),
    move(1, 'sent', 'acknowledged', 11, { status: 202 }),
    move(2, 'queued', 'sent', 12),
    move(2, 'sent', 'succeeded', 13, { status: 200, response: proto }),
    move(3, 'queued', 'sent', 14),
  ]);
  await s.commands.expireDue(T0 + 600_000, 1); // cmd-0 (the oldest, queued); cmd-3 stays sent
  const issued = await s.credentials.create({ workspace: WS, twinId: EVIL_ID, label: 'gateway 😀' });
  await s.behaviour.put({
    workspace: WS,
    twinId: 'pump-1',
    behaviour: 'pump',
    values: { tau: 419.7 },
    calibrationId: 'c2',
    appliedAt: T0,
  });
  await s.behaviour.addCalibration(calibration('c1', 'pump-1', T0));
  await s.behaviour.addCalibration(calibration('c2', 'pump-1', T0 + 5));
  await s.jobs.put(newImportJob('j1', 'file:///in', 'file:///out', T0, 86_400_000));
  await s.jobs.put(newDeleteJob('j1', T0 + 1, 86_400_000, 5));
  await s.eventRoutes.putEndpoint({
    name: 'hook',
    spec: { type: 'webhook', url: 'http://127.0.0.1:9/x' },
    secret: 'Bearer s3cret',
  });
  await s.eventRoutes.putRoute({ id: 'all', endpointName: 'hook', filter: 'true' });
  await s.twins.commit([{ ops: [], outbox: [0, 1, 2, 3].map((i) => outboxRow(i, i ? 'pump-1' : EVIL_ID)) }]);
  const [first] = await s.outbox.pending(0, 1);
  await s.outbox.deadLetter([{ seq: first!.seq, attempts: 7, reason: 'HTTP 500', at: T0 + 99 }]);
  // Two ML models of the pump (hostile keys in the features), promoted in turn, then rolled back.
  const mlModel = (window: number) => ({
    workspace: WS,
    kind: 'rul' as const,
    target: 'dtmi:x:Pump;1',
    createdAt: T0 + window,
    features: JSON.parse(`{"window": ${window}, "__proto__": {"polluted": true}}`) as unknown,
    trainingRange: { from: T0, to: T0 + 1000, assets: [EVIL_ID, 'pump-1'], rows: 2 },
    metrics: { validationRmse: window / 2 },
    codeVersion: '0.1.0+seed',
    artefact: JSON.stringify({ format: 'twinloop-rul/1', w: 'x'.repeat(window * 1000) }),
  });
  const ml1 = await s.mlModels.add(mlModel(30));
  const ml2 = await s.mlModels.add(mlModel(40));
  await s.mlModels.setActive(WS, ml1.id, { at: T0 + 1, by: 'alice', reason: 'first' });
  await s.mlModels.setActive(WS, ml2.id, { at: T0 + 2, by: 'bob' });
  await s.mlModels.rollback(WS, 'rul', 'dtmi:x:Pump;1', { at: T0 + 3, by: EVIL_ID, reason: 'drift' });
  return { token: issued.token, pointsPerSeries };
}
