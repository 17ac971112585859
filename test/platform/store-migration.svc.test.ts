/**
 * `twinloop migrate-store` end to end: a pump-line data folder with history, a dead letter, a device
 * credential, a calibration, an event route and a hostile twin is moved into a fresh PostgreSQL
 * schema; every count matches; the platform then starts on that schema and answers a query and a
 * history read, and the device's old token still authenticates over MQTT. Also the refusals: no
 * database, a folder in use, an unreachable server, a target that is not empty.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, freshSchemaName, pgTestUrl } from '../../src/adapters/postgres/pg-test-fixture.js';
import { openSqliteStorage } from '../../src/adapters/sqlite/sqlite-storage.js';
import { openPgStorage } from '../../src/adapters/postgres/pg-storage.js';
import { migrateStoreCommand } from '../../src/app/cli/cmd-migrate-store.js';
import { migrateStore } from '../../src/app/store-migration.js';
import { lockDataFolder } from '../../src/app/data-folder-lock.js';
import type { Platform } from '../../src/app/platform.js';
import type { HistoryPoint } from '../../src/core/ports/storage-ports.js';
import { API, startTestPlatform, tempDataDir } from './platform-fixture.js';

const EVIL = "'; DROP TABLE x; --";
const T0 = Date.UTC(2026, 0, 1);
/** Commands' times: recent, so retention keeps the finished one. */
const CT = Date.now() - 60_000;
const POINTS = 30_000;
const data = tempDataDir('twinloop-migrate-');
const schema = freshSchemaName();
const url = (() => {
  const u = new URL(pgTestUrl());
  u.searchParams.set('schema', schema);
  return u.toString();
})();
let platform: Platform | undefined;
let token: string;
let pump: string;

function sink() {
  const chunks: string[] = [];
  return { write: (s: string) => chunks.push(s), text: () => chunks.join('') };
}

function api(method: string, p: string, body?: unknown) {
  return fetch(`${platform!.runtime.httpUrl}${p}`, {
    method,
    headers: {
      authorization: `Bearer ${platform!.token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

beforeAll(async () => {
  // A pilot's data folder, made by the platform itself (pump-line seeded), plus a credential and a route.
  platform = await startTestPlatform(data.dir, { auth: 'on' });
  const q = await api('POST', `/query?${API}`, { query: 'SELECT T.$dtId FROM DIGITALTWINS T' });
  pump = ((await q.json()) as { value: { $dtId: string }[] }).value[0]!.$dtId;
  const cred = await api('POST', `/devices/${pump}/credentials`, { label: 'gateway 😀' });
  token = ((await cred.json()) as { token: string }).token;
  expect(
    (await api('PUT', '/endpoints/hook', { type: 'webhook', url: 'http://127.0.0.1:9/events' })).status,
  ).toBe(204);
  expect(
    (
      await api('PUT', '/eventroutes/changes', {
        endpointName: 'hook',
        filter: "type = 'Microsoft.DigitalTwins.Twin.Delete'",
      })
    ).status,
  ).toBe(204);
  await platform.stop();
  platform = undefined;

  // History, a dead letter, a calibration and a hostile twin, written through the ports.
  const s = openSqliteStorage({ dataDir: data.dir, holdsData: true });
  try {
    const model = await (async () => {
      for await (const t of s.twins.loadTwins('default')) if (t.id === pump) return t.modelId;
      throw new Error('no pump');
    })();
    const contents = JSON.parse('{"__proto__": {"polluted": true}, "note": "ü\\u2028😀"}') as Record<
      string,
      unknown
    >;
    await s.twins.commit([
      {
        ops: [
          {
            op: 'putTwin',
            twin: {
              id: EVIL,
              modelId: model,
              workspace: 'default',
              etag: 'W/"evil"',
              lastUpdateTime: T0,
              contents,
              propertyTimes: {},
              telemetry: {},
            },
            expectEtag: null,
          },
        ],
      },
    ]);
    const points: HistoryPoint[] = [];
    for (let i = 0; i < POINTS; i++) {
      points.push({
        workspace: 'default',
        twinId: pump,
        path: 'migrated',
        kind: 'telemetry',
        ts: T0 + i * 1000,
        value: i,
      });
    }
    points.push({
      workspace: 'default',
      twinId: EVIL,
      path: 'flow',
      kind: 'telemetry',
      ts: T0,
      value: { __proto__: 1 },
    });
    await s.history.append(points);
    await s.deadLetters.add([
      {
        workspace: 'default',
        time: T0,
        source: 'mqtt',
        topic: `twins/${EVIL}/telemetry`,
        payload: Buffer.from([0, 0xff, 0x27]),
        code: 'InvalidTelemetry',
        reason: "'; DROP TABLE dead_letters; --",
      },
    ]);
    // A route dead letter and a pending delivery (the webhook above is never reachable).
    const row = (i: number) => ({
      endpoint: 'hook',
      orderKey: EVIL,
      event: {
        id: `ev-${i}`,
        type: 'Microsoft.DigitalTwins.Twin.Delete',
        source: 'x',
        time: T0,
        data: { i },
        twinId: EVIL,
      },
      created: T0 + i,
    });
    await s.twins.commit([{ ops: [], outbox: [row(1), row(2)] }]);
    const [first] = await s.outbox.pending(0, 1);
    await s.outbox.deadLetter([{ seq: first!.seq, attempts: 5, reason: 'HTTP 503', at: T0 + 9 }]);
    await s.behaviour.addCalibration({
      id: 'cal-1',
      workspace: 'default',
      twinId: pump,
      behaviour: 'pump',
      createdAt: T0,
      method: 'nelder-mead',
      converged: true,
      reason: 'ftol',
      iterations: 3,
      evaluations: 9,
      durationMs: 5,
      rmse: 0.5,
      r2: null,
      parameters: [{ name: 'tau', value: 2, initial: 1 }],
      values: { tau: 2 },
      base: {},
      inputs: {},
      initialState: 'model',
      initialStates: [],
      data: { from: T0, to: T0 + 1, points: 2, simFrom: 0, simTo: 1, truncated: false, telemetry: [] },
    });
    // A command that failed, with its steps, and one still queued (recent: finished commands older
    // than control.retentionDays are pruned when the platform starts).
    await s.commands.add(
      ['cmd-1', 'cmd-2'].map((requestId, i) => ({
        workspace: 'default',
        requestId,
        twinId: EVIL,
        command: 'setRunning',
        request: { on: true },
        createdAt: CT + i,
        expiresAt: Date.UTC(2100, 0, 1), // far ahead: a sweep at start must not expire it
      })),
    );
    const ws = 'default';
    await s.commands.transition([
      { workspace: ws, requestId: 'cmd-1', from: ['queued'], to: 'sent', at: CT + 5 },
      { workspace: ws, requestId: 'cmd-1', from: ['sent'], to: 'acknowledged', at: CT + 6 },
      {
        workspace: ws,
        requestId: 'cmd-1',
        from: ['acknowledged'],
        to: 'failed',
        at: CT + 7,
        status: 500,
        response: JSON.parse('{"__proto__": {"polluted": true}, "error": "jammed\\u0000"}') as unknown,
        reason: 'the device answered 500',
      },
    ]);
    // A trained model (1 MB artefact), promoted.
    const ml = await s.mlModels.add({
      workspace: 'default',
      kind: 'rul',
      target: model,
      createdAt: T0,
      features: { window: 30 },
      trainingRange: { from: T0, to: T0 + 1, assets: [EVIL], rows: 2 },
      metrics: { validationRmse: 11.5 },
      codeVersion: '0.1.0+svc',
      artefact: JSON.stringify({ format: 'twinloop-rul/1', w: 'x'.repeat(1024 * 1024) }),
    });
    await s.mlModels.setActive('default', ml.id, { at: T0 + 1, by: EVIL });
  } finally {
    await s.close();
  }
}, 60_000);

afterAll(async () => {
  await platform?.stop();
  await dropSchema(schema);
  data.cleanup();
});

describe('twinloop migrate-store', () => {
  it('refuses a folder with no database, a folder in use and an unreachable server', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'twinloop-empty-'));
    try {
      await expect(
        migrateStoreCommand({ from: empty, to: url, stdout: sink(), stderr: sink() }),
      ).rejects.toMatchObject({ code: 'NotFound', message: expect.stringContaining('no twinloop.db') });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    const lock = lockDataFolder(data.dir);
    try {
      await expect(
        migrateStoreCommand({ from: data.dir, to: url, stdout: sink(), stderr: sink() }),
      ).rejects.toMatchObject({ code: 'DataFolderInUse' });
    } finally {
      lock.release();
    }
    await expect(
      migrateStoreCommand({
        from: data.dir,
        to: 'postgres://postgres@127.0.0.1:1/test',
        stdout: sink(),
        stderr: sink(),
      }),
    ).rejects.toMatchObject({ code: 'StorageError' });
    await expect(
      migrateStoreCommand({ from: data.dir, to: 'mysql://x', stdout: sink(), stderr: sink() }),
    ).rejects.toMatchObject({ code: 'BadRequest' });
  });

  it('copies the folder into an empty schema with every count equal, then refuses a second copy', async () => {
    const out = sink();
    const err = sink();
    expect(
      await migrateStoreCommand({ from: data.dir, to: url, historyBatch: 7000, stdout: out, stderr: err }),
    ).toBe(0);
    const table = out.text();
    expect(table).not.toContain('DIFFERS');
    // The pilot's own telemetry plus what was written above.
    const hist = /history points\s+([\d,]+)\s+([\d,]+)\s+ok/.exec(table);
    expect(hist?.[1]).toBe(hist?.[2]);
    expect(Number(hist![1]!.replaceAll(',', ''))).toBeGreaterThan(POINTS);
    for (const kind of [
      'device credentials',
      'dead letters',
      'calibrations',
      'event routes',
      'event endpoints',
      'ML models',
      'ML model activations',
    ]) {
      expect(table).toMatch(new RegExp(`${kind}\\s+1\\s+1\\s+ok`));
    }
    expect(table).toMatch(/twins\s+(\d+)\s+\1\s+ok/);
    // Plain progress lines (not a terminal), the history ones with a rate.
    expect(err.text()).toMatch(/history points [\d,]+\/[\d,]+ \(\d+%\), [\d,]+ points\/s/);
    expect(err.text()).toContain('Every count matches');

    await expect(
      migrateStoreCommand({ from: data.dir, to: url, stdout: sink(), stderr: sink() }),
    ).rejects.toMatchObject({ code: 'Conflict', message: expect.stringContaining('?schema=') });
  }, 60_000);

  it('the platform runs on the target: query, history and the old device token', async () => {
    platform = await startTestPlatform(data.dir, { auth: 'on', store: url });
    expect(platform.storage.kind).toBe('postgres');
    const q = await api('POST', `/query?${API}`, {
      query: `SELECT T.$dtId, T.note FROM DIGITALTWINS T WHERE T.$dtId = "'; DROP TABLE x; --"`,
    });
    expect(q.status, await q.clone().text()).toBe(200);
    expect(((await q.json()) as { value: unknown[] }).value).toEqual([{ $dtId: EVIL, note: 'ü\u2028😀' }]);
    let evil: Record<string, unknown> | undefined;
    for await (const t of platform.storage.twins.loadTwins('default')) if (t.id === EVIL) evil = t.contents;
    expect(Object.keys(evil!)).toEqual(['__proto__', 'note']);
    expect(Object.getOwnPropertyDescriptor(evil, '__proto__')?.value).toEqual({ polluted: true });
    const [rdl] = await platform.storage.outbox.listDeadLetters({ limit: 1 });
    expect(rdl).toMatchObject({
      orderKey: EVIL,
      attempts: 5,
      reason: 'HTTP 503',
      deadAt: T0 + 9,
      created: T0 + 1,
    });
    // Commands as they were (read after the route dead letter: the delivery runs meanwhile).
    const [cmd2, cmd1] = await platform.storage.commands.list({ workspace: 'default', limit: 5 });
    const [ml] = await platform.mlModels.list();
    expect(ml).toMatchObject({ version: 1, status: 'active', trainingRange: { assets: [EVIL] } });
    expect((await platform.mlModels.active('rul', ml!.target))!.artefact!.length).toBe(ml!.artefactSize);
    expect(cmd2).toMatchObject({ requestId: 'cmd-2', state: 'queued', twinId: EVIL });
    expect(cmd1).toMatchObject({
      requestId: 'cmd-1',
      state: 'failed',
      status: 500,
      reason: 'the device answered 500',
    });
    expect(cmd1!.steps.map((x) => [x.state, x.at - CT])).toEqual([
      ['queued', 0],
      ['sent', 5],
      ['acknowledged', 6],
      ['failed', 7],
    ]);
    expect(JSON.stringify(cmd1!.response)).toBe('{"__proto__":{"polluted":true},"error":"jammed\\u0000"}');
    expect((await platform.storage.commands.queuedTwins()).map((x) => x.twinId)).toEqual([EVIL]);
    const h = await api(
      'GET',
      `/digitaltwins/${pump}/history?path=migrated&from=${T0}&to=${T0 + POINTS * 1000}&limit=3&order=desc`,
    );
    expect(h.status).toBe(200);
    expect(((await h.json()) as { value: { value: number }[] }).value.map((p) => p.value)).toEqual([
      POINTS - 1,
      POINTS - 2,
      POINTS - 3,
    ]);
    // A device resending a reading with its source time after the move: stored once still.
    const before = await platform.storage.history.queryRaw({
      workspace: 'default',
      twinId: pump,
      path: 'migrated',
      from: T0,
      to: T0 + 1,
      limit: 10,
    });
    await platform.storage.history.append([
      {
        workspace: 'default',
        twinId: pump,
        path: 'migrated',
        kind: 'telemetry',
        ts: T0,
        value: 42,
        once: true,
      },
    ]);
    const after = await platform.storage.history.queryRaw({
      workspace: 'default',
      twinId: pump,
      path: 'migrated',
      from: T0,
      to: T0 + 1,
      limit: 10,
    });
    expect(after.points).toEqual(before.points);
    expect(after.points).toEqual([{ ts: T0, value: 0 }]);
    const dev = await mqtt.connectAsync(platform.runtime.mqttUrl, {
      reconnectPeriod: 0,
      clientId: pump,
      username: pump,
      password: token,
    });
    expect(dev.connected).toBe(true);
    await dev.endAsync();
    // A wrong token is still refused (the store does not let anything in).
    await expect(
      mqtt.connectAsync(platform.runtime.mqttUrl, {
        reconnectPeriod: 0,
        clientId: pump,
        username: pump,
        password: token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'),
      }),
    ).rejects.toThrow();
  }, 60_000);
});

describe('migrate-store and NUL characters (PostgreSQL text cannot hold U+0000)', () => {
  const twin = (id: string, contents: Record<string, unknown>) => ({
    id,
    modelId: 'dtmi:x:A;1',
    workspace: 'default',
    etag: 'e',
    lastUpdateTime: 1,
    contents,
    propertyTimes: {},
    telemetry: {},
  });

  async function move(fill: (s: ReturnType<typeof openSqliteStorage>) => Promise<void>) {
    const dir = tempDataDir('twinloop-migrate-nul-');
    const sch = freshSchemaName();
    const source = openSqliteStorage({ dataDir: dir.dir });
    const target = await openPgStorage({ url: pgTestUrl(), schema: sch, poolSize: 2 });
    await fill(source);
    return {
      source,
      target,
      async done() {
        await target.close();
        await source.close();
        await dropSchema(sch);
        dir.cleanup();
      },
    };
  }

  it('values keep their NULs (json), dead-letter text gets U+FFFD, counts equal', async () => {
    const m = await move(async (s) => {
      await s.twins.commit([
        { ops: [{ op: 'putTwin', twin: twin('t1', { a: 'x\u0000y' }), expectEtag: null }] },
      ]);
      await s.history.append([
        { workspace: 'default', twinId: 't1', path: 'p', kind: 'telemetry', ts: 1, value: 'x\u0000y' },
        { workspace: 'default', twinId: 't1', path: 'q', kind: 'telemetry', ts: 1, value: { 'k\u0000': 1 } },
      ]);
      await s.deadLetters.add([
        {
          workspace: 'default',
          time: 1,
          source: 'mqtt',
          payload: Buffer.from([0]),
          code: 'X',
          reason: 'a\u0000b',
        },
      ]);
    });
    try {
      const report = await migrateStore(m.source, m.target);
      expect(report.ok).toBe(true);
      for await (const t of m.target.twins.loadTwins('default'))
        expect(t.contents).toEqual({ a: 'x\u0000y' });
      const raw = (path: string) =>
        m.target.history.queryRaw({ workspace: 'default', twinId: 't1', path, from: 0, to: 10, limit: 10 });
      expect((await raw('p')).points).toEqual([{ ts: 1, value: 'x\u0000y' }]);
      expect((await raw('q')).points).toEqual([{ ts: 1, value: { 'k\u0000': 1 } }]);
      const [letter] = await m.target.deadLetters.list({ workspace: 'default', limit: 1 });
      expect(letter).toMatchObject({ reason: 'a\uFFFDb', payload: Buffer.from([0]) });
    } finally {
      await m.done();
    }
  });

  it('a NUL in a twin id stops the copy with InvalidArgument naming it and what to do', async () => {
    const m = await move(async (s) => {
      await s.twins.commit([{ ops: [{ op: 'putTwin', twin: twin('t\u0000', {}), expectEtag: null }] }]);
    });
    try {
      await expect(migrateStore(m.source, m.target)).rejects.toMatchObject({
        code: 'InvalidArgument',
        message: expect.stringMatching(/While copying twins.*NUL.*drop its schema/),
      });
    } finally {
      await m.done();
    }
  });
});
