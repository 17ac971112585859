/**
 * The alarm routes on a real, listening Twinloop HTTP server (with a token) over the alarm service
 * and SQLite stores in a temp folder: list filters and paging, ack and clear with their errors, and
 * hostile queries, headers and bodies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestWorkspace, type TestWorkspace } from '../../../test/adt-sdk/workspace-fixture.js';
import { cliFor } from '../../../test/cli/cli-runner.js';
import { rawRequest } from '../../../test/edge/raw-http.js';
import { AlarmService } from '../../analytics/alarms/alarm-service.js';
import type { AlarmRaise } from '../../analytics/analytics-types.js';
import { alarmChanged } from '../../core/alarms/alarm.js';
import type { AlarmStore } from '../../core/ports/alarm-store.js';
import { IngestService } from '../../core/telemetry/ingest-service.js';
import { MAX_ALARM_NOTE } from './http-alarm-routes.js';
import { createHttpServer, type HttpServer } from './http-server.js';
import { errorCodeOf, httpCaller } from '../../../test/support/http-call.js';

const TOKEN = 'alarm-test-token';
const T0 = Date.UTC(2026, 5, 1);
const raise = (over: Partial<AlarmRaise> = {}): AlarmRaise => ({
  workspace: 'default',
  twinId: 'pump-1',
  ruleId: 'vib',
  ruleVersion: 1,
  severity: 'major',
  message: 'vibration high',
  time: T0,
  value: 7.9,
  ...over,
});

describe('alarm routes', () => {
  let w: TestWorkspace;
  let http: HttpServer;
  let url: string;
  let port: number;
  let alarms: AlarmService;
  let ingest: IngestService;

  const call = httpCaller(() => url, TOKEN);
  const errorCode = errorCodeOf;

  beforeAll(async () => {
    w = await openTestWorkspace();
    alarms = new AlarmService({ store: w.storage.alarms, batchDelayMs: 1 });
    // 12 alarms: pumps 0..3, rules r0..r2; severities alternate; times one minute apart.
    for (let i = 0; i < 12; i++)
      alarms.raise(
        raise({
          twinId: `pump-${i % 4}`,
          ruleId: `r${i % 3}`,
          severity: i % 2 ? 'minor' : 'critical',
          time: T0 + i * 60_000,
        }),
      );
    await alarms.flush();
    ingest = new IngestService({
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
      token: TOKEN,
      alarms,
    });
    ({ url, port } = await http.listen());
  });
  afterAll(async () => {
    await http.close();
    await alarms.close();
    await w.close();
  });

  it('lists newest first and pages with nextLink, keeping the filters', async () => {
    const first = await call('GET', '/alarms?limit=5');
    expect(first.status).toBe(200);
    expect(first.json.value!.map((a) => a.firstTime)).toEqual(
      [11, 10, 9, 8, 7].map((i) => new Date(T0 + i * 60_000).toISOString()),
    );
    const seen = first.json.value!.map((a) => a.id);
    let next = first.json.nextLink;
    while (next) {
      const page = await call('GET', next);
      expect(page.status).toBe(200);
      seen.push(...page.json.value!.map((a) => a.id));
      next = page.json.nextLink;
    }
    expect(new Set(seen).size).toBe(12);
    const crit = await call('GET', '/alarms?severity=critical&limit=2');
    const all: Record<string, unknown>[] = [...crit.json.value!];
    const more = await call('GET', crit.json.nextLink!);
    all.push(...more.json.value!);
    expect(all.every((a) => a.severity === 'critical')).toBe(true);
    expect(all.length).toBeGreaterThanOrEqual(4);
  });

  it('filters by twin, rule, state, severity and time', async () => {
    const byTwin = await call('GET', '/alarms?twin=pump-1');
    expect(byTwin.json.value!.map((a) => a.twinId)).toEqual(['pump-1', 'pump-1', 'pump-1']);
    const both = await call('GET', '/alarms?twin=pump-1&rule=r1');
    expect(both.json.value).toHaveLength(1);
    const since = await call('GET', `/alarms?since=${new Date(T0 + 9 * 60_000).toISOString()}`);
    expect(since.json.value).toHaveLength(3);
    const until = await call('GET', `/alarms?until=${T0 + 2 * 60_000}`);
    expect(until.json.value).toHaveLength(2);
    const open = await call('GET', '/alarms?state=open&severity=minor,critical');
    expect(open.json.value).toHaveLength(12);
    expect((await call('GET', '/alarms?state=cleared')).json.value).toEqual([]);
  });

  it('acknowledges (by Twinloop-User) and clears, with 409 for wrong transitions and 404 for unknown ids', async () => {
    const [a] = (await call('GET', '/alarms?twin=pump-0&rule=r0')).json.value!;
    const id = encodeURIComponent(a!.id as string);
    const acked = await call(
      'POST',
      `/alarms/${id}/ack`,
      { comment: 'on my way' },
      { 'twinloop-user': 'ana' },
    );
    expect(acked.status).toBe(200);
    expect(acked.json).toMatchObject({
      state: 'acknowledged',
      acknowledged: { by: 'ana', comment: 'on my way' },
    });
    const again = await call('POST', `/alarms/${id}/ack`, {});
    expect(again.status).toBe(409);
    expect(errorCode(again)).toBe('Conflict');
    const cleared = await call('POST', `/alarms/${id}/clear`); // no body at all
    expect(cleared.status).toBe(200);
    expect(cleared.json).toMatchObject({ state: 'cleared', cleared: { by: 'anonymous', reason: '' } });
    expect((await call('POST', `/alarms/${id}/clear`, { reason: 'x' })).status).toBe(409);
    expect((await call('GET', `/alarms/${id}`)).json.state).toBe('cleared');
    expect((await call('GET', '/alarms?state=cleared')).json.value).toHaveLength(1);
    const missing = await call('GET', '/alarms/no-such-alarm');
    expect(missing.status).toBe(404);
    expect(errorCode(missing)).toBe('NotFound');
    expect((await call('POST', '/alarms/no-such-alarm/ack', {})).status).toBe(404);
    expect((await call('POST', '/alarms/no-such-alarm/clear', {})).status).toBe(404);
  });

  it('needs the token', async () => {
    const res = await fetch(`${url}/alarms`);
    expect(res.status).toBe(401);
  });

  it('reports every bad query parameter at once, with where it is', async () => {
    const r = await call(
      'GET',
      '/alarms?state=active,bogus&severity=loud&since=yesterday&limit=0&twin=a&twin=b',
    );
    expect(r.status).toBe(400);
    expect(errorCode(r)).toBe('InvalidArgument');
    const details = (r.json.error as { details: { target?: string; pointer?: string }[] }).details;
    expect(details).toHaveLength(5);
    const text = JSON.stringify(details);
    for (const p of ['/state', '/severity', '/since', '/limit', '/twin']) expect(text).toContain(p);
    const token = await call('GET', '/alarms?continuationToken=not-a-token');
    expect(token.status).toBe(400);
    const forged = Buffer.from(JSON.stringify({ f: 1, i: 'x', n: 1e9 })).toString('base64url');
    expect((await call('GET', `/alarms?continuationToken=${forged}`)).status).toBe(400);
    const proto = await call('GET', '/alarms?__proto__=x&constructor=y&twin=pump-2');
    expect(proto.status).toBe(200);
    expect(proto.json.value!.every((a) => a.twinId === 'pump-2')).toBe(true);
    const huge = await call('GET', `/alarms?twin=${'x'.repeat(5000)}`);
    expect(huge.status).toBe(200);
    expect(huge.json.value).toEqual([]);
  });

  it('refuses hostile bodies and headers with the member named, changing nothing', async () => {
    const [a] = (await call('GET', '/alarms?twin=pump-3&rule=r0')).json.value!;
    const id = encodeURIComponent(a!.id as string);
    const tooLong = await call('POST', `/alarms/${id}/ack`, { comment: 'c'.repeat(MAX_ALARM_NOTE + 1) });
    expect(tooLong.status).toBe(400);
    expect(JSON.stringify(tooLong.json)).toContain('/comment');
    const proto = await call('POST', `/alarms/${id}/ack`, '{"__proto__": {"admin": true}, "comment": "x"}');
    expect(proto.status).toBe(400);
    const wrongType = await call('POST', `/alarms/${id}/ack`, { comment: 42 });
    expect(wrongType.status).toBe(400);
    expect((await call('POST', `/alarms/${id}/ack`, [1, 2])).status).toBe(400);
    expect((await call('POST', `/alarms/${id}/clear`, { reason: 'r', by: 'mallory' })).status).toBe(400);
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    expect((await call('POST', `/alarms/${id}/ack`, deep)).status).toBe(400);
    const user = await call('POST', `/alarms/${id}/ack`, {}, { 'twinloop-user': 'u'.repeat(500) });
    expect(user.status).toBe(400);
    // Bad UTF-8 in the body.
    const badUtf8 = await rawRequest(
      port,
      'POST',
      `/alarms/${id}/ack`,
      [
        ['Authorization', `Bearer ${TOKEN}`],
        ['Content-Type', 'application/json'],
      ],
      Buffer.concat([Buffer.from('{"comment":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]),
    );
    expect(badUtf8.status).toBe(400);
    // A browser's cross-site form post (a simple request: text/plain), and a cross-origin JSON post.
    const form = await call('POST', `/alarms/${id}/clear`, 'reason=pwned', {
      'content-type': 'text/plain',
    });
    expect([403, 415]).toContain(form.status);
    const cross = await call('POST', `/alarms/${id}/clear`, {}, { origin: 'https://evil.example' });
    expect(cross.status).toBe(403);
    const site = await call('POST', `/alarms/${id}/clear`, {}, { 'sec-fetch-site': 'cross-site' });
    expect(site.status).toBe(403);
    expect((await call('GET', `/alarms/${id}`)).json).toMatchObject({ state: 'active' });
    expect((await call('GET', `/alarms/${id}`)).json.acknowledged).toBeUndefined();
  });

  it('answers a burst of concurrent acks of one alarm with exactly one 200', async () => {
    const [a] = (await call('GET', '/alarms?twin=pump-2&rule=r2')).json.value!;
    const id = encodeURIComponent(a!.id as string);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call('POST', `/alarms/${id}/ack`, {}, { 'twinloop-user': `u${i}` }),
      ),
    );
    expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
    expect(answers.filter((r) => r.status === 409)).toHaveLength(19);
  });

  it('answers 409 with the reason when other nodes keep changing the alarm through every retry', async () => {
    const base = w.storage.alarms;
    // A store on which another node wins every race (each write and each locked retry is refused).
    const contended: AlarmStore = {
      get: (ws, id) => base.get(ws, id),
      open: (ws, t, r) => base.open(ws, t, r),
      list: (q) => base.list(q),
      countByState: (ws) => base.countByState(ws),
      pruneCleared: (b) => base.pruneCleared(b),
      write: (changes) =>
        Promise.reject(alarmChanged('default', changes[0]!.alarm.id, changes[0]!.expectedRevision)),
      modify: (reads) => Promise.reject(alarmChanged('default', reads.ids[0]?.id ?? '?', 1)),
    };
    const busy = new AlarmService({ store: contended, conflictAttempts: 3, conflictRetryMs: 1 });
    const other = await createHttpServer({
      workspace: { name: 'default', models: w.models, twins: w.twins, graph: w.graph },
      ingest,
      history: w.storage.history,
      deadLetters: w.storage.deadLetters,
      token: TOKEN,
      alarms: busy,
    });
    try {
      const { url: otherUrl } = await other.listen();
      const [a] = (await call('GET', '/alarms?twin=pump-1&rule=r1&state=active')).json.value!;
      const id = encodeURIComponent(a!.id as string);
      for (const [path, what] of [
        ['ack', 'acknowledged'],
        ['clear', 'cleared'],
      ] as const) {
        const answer = await call('POST', `${otherUrl}/alarms/${id}/${path}`, {});
        expect(answer.status).toBe(409);
        const error = answer.json.error as { code: string; message: string; innererror?: { code: string } };
        expect(error.code).toBe('Conflict');
        expect(error.innererror?.code).toBe('AlarmChanged');
        expect(error.message).toMatch(new RegExp(`was not ${what}: other Twinloop nodes .* 3 attempts`));
        expect(error.message).toMatch(/Nothing was changed; read the alarm again and retry/);
      }
      expect((await call('GET', `/alarms/${id}`)).json).toMatchObject({ state: 'active' });
      expect(busy.stats).toMatchObject({ conflicts: 4, failedWrites: 2 });
    } finally {
      await other.close();
      await busy.close();
    }
  });

  it('twinloop alarms lists (table, json, csv), shows, acks and clears', async () => {
    const cli = cliFor(w.dir);
    const flags = ['--url', url, '--token', TOKEN];
    const json = await cli('alarms', 'list', '--twin', 'pump-3', '--format', 'json', ...flags);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as { id: string; twinId: string; state: string }[];
    expect(rows.map((r) => r.twinId)).toEqual(['pump-3', 'pump-3', 'pump-3']);
    const csv = await cli(
      'alarms',
      'list',
      '--state',
      'open',
      '--limit',
      '2',
      '--all',
      '--format',
      'csv',
      ...flags,
    );
    expect(csv.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(10); // header + every open alarm
    const id = rows.find((r) => r.state === 'active')!.id;
    const acked = await cli('alarms', 'ack', id, '--comment', 'seen', '--user', 'cli-user', ...flags);
    expect(acked.stdout.trim()).toBe(`${id}: acknowledged`);
    const shown = await cli('alarms', 'show', id, '--format', 'json', ...flags);
    expect(JSON.parse(shown.stdout)).toMatchObject({ acknowledged: { by: 'cli-user', comment: 'seen' } });
    expect((await cli('alarms', 'clear', id, '--reason', 'fixed', ...flags)).stdout.trim()).toBe(
      `${id}: cleared`,
    );
    const twice = await cli('alarms', 'clear', id, ...flags);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/Conflict|already cleared/);
    const table = await cli('alarms', 'list', '--twin', 'pump-3', ...flags);
    expect(table.stdout).toMatch(/severity/);
    expect(table.stdout).toContain('cleared');
  }, 60_000);
});
