/**
 * The analytics' start/stop wiring on a cluster, with the real lease store (PostgreSQL, the
 * machine's server) and real SQLite stores for the rest: three "nodes" compose the analytics as an
 * api node does, over one live event bus (each api node sees every committed reading) and one
 * history, rule and alarm store. Checked: one node runs them at a time; a reading raises ONE alarm
 * and its derived value is stored once; rules are read from the store when told they changed and
 * when a run starts; a clean stop hands over at the successor's next try; a node whose lease is
 * taken away stops its run (and says so) and another takes over.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_LEASE_MIGRATIONS, PgNamedLeases } from '../../adapters/postgres/pg-partition-leases.js';
import { pgTestDatabase } from '../../adapters/postgres/pg-test-fixture.js';
import { RuleService } from '../../analytics/rules/rule-service.js';
import { defaultConfig } from '../config.js';
import { ANALYTICS_LEASE, startAnalytics, type AnalyticsSubsystem } from './analytics.js';
import {
  openAnalyticsFixture,
  sleep,
  until,
  type AnalyticsFixture,
} from '../../../test/platform/analytics-fixture.js';

const TTL = 800;
const EVERY = 100;
const PUMP = 'dtmi:twinloop:pumpline:Pump;1';

let db: Awaited<ReturnType<typeof pgTestDatabase>>;
let f: AnalyticsFixture;
let w: AnalyticsFixture['w'];
let rules: RuleService;
const nodes: AnalyticsSubsystem[] = [];
const logs: { node: string; msg: string; why?: string }[] = [];

function node(name: string): AnalyticsSubsystem {
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        const o = JSON.parse(line) as { msg: string; why?: string };
        logs.push({ node: name, msg: o.msg, ...(o.why ? { why: o.why } : {}) });
      },
    },
  );
  const a = startAnalytics(
    f.options(logger, {
      config: { analytics: { ...defaultConfig().analytics, leaseMs: TTL } },
      rules: () => rules.enabled(),
      lease: { leases: new PgNamedLeases(db), owner: name, ttlMs: TTL, everyMs: EVERY },
    }),
  );
  nodes.push(a);
  return a;
}

const reading = (twinId: string, values: Record<string, number>) => f.reading(twinId, values);
const alarmsOf = (ruleId: string) => w.storage.alarms.list({ workspace: 'default', ruleId, limit: 100 });
const running = () => nodes.filter((n) => n.state() === 'running');

beforeAll(async () => {
  db = await pgTestDatabase([PG_LEASE_MIGRATIONS]);
  f = await openAnalyticsFixture('2030-01-01T00:00:00Z');
  w = f.w;
  rules = new RuleService({ workspace: 'default', store: w.storage.rules });
});

afterAll(async () => {
  for (const n of nodes) await n.close();
  await w?.close();
  await db?.drop();
});

describe('streaming analytics under the analytics lease', () => {
  it('run on one node at a time, raise one alarm, hand over on stop and when the lease is lost', async () => {
    const a = node('a');
    await a.start();
    await until('a runs the analytics', () => a.state() === 'running');
    const b = node('b');
    await b.start();
    await sleep(3 * EVERY);
    expect([a.state(), b.state()]).toEqual(['running', 'standby']);
    expect(b.runtime).toBeUndefined();

    // ---- a rule put on "another node": the running one reads it when told (over the feed)
    await rules.put('hot', {
      value: {
        id: 'hot',
        appliesTo: { model: PUMP },
        severity: 'critical',
        condition: { threshold: { telemetry: 'temperature', above: 100, clearBelow: 90 } },
        message: 'hot {value}',
      },
    });
    await Promise.all([a.reloadRules(), b.reloadRules()]);
    expect([a.totals().rules, b.totals().rules]).toEqual([1, 0]);

    // ---- a reading that breaks it: ONE alarm (both nodes saw the reading); a derived value stored once
    await reading('pump-1a', { temperature: 120, flow: 36, dischargePressure: 2.01325 });
    await until('the alarm', async () => (await alarmsOf('hot')).length > 0);
    await until(
      'the derived value',
      async () =>
        (
          await w.storage.history.queryRaw({
            workspace: 'default',
            twinId: 'pump-1a',
            path: 'hydraulicPower',
            from: 0,
            to: 1e15,
            limit: 10,
          })
        ).points.length > 0,
    );
    await sleep(300); // a second alarm or value would come meanwhile
    const first = await alarmsOf('hot');
    expect(first.map((x) => [x.twinId, x.state, x.count])).toEqual([['pump-1a', 'active', 1]]);
    const power = await w.storage.history.queryRaw({
      workspace: 'default',
      twinId: 'pump-1a',
      path: 'hydraulicPower',
      from: 0,
      to: 1e15,
      limit: 10,
    });
    expect(power.points).toHaveLength(1);
    expect(power.points[0]!.value).toBeCloseTo(1, 9);
    expect(a.totals()).toMatchObject({ observed: expect.any(Number), derivedWritten: expect.any(Number) });
    expect(a.totals().derivedWritten).toBeGreaterThan(0);
    expect(b.totals()).toMatchObject({ observed: 0, derivedWritten: 0 });

    // ---- a stops cleanly: the lease is released after its run stopped; b takes over at its next try
    const stoppedAt = Date.now();
    await a.close();
    const tookOver = await until('b takes over', () => b.state() === 'running');
    expect(Date.now() - stoppedAt).toBeLessThan(EVERY + 1000);
    expect(a.state()).toBe('standby');
    // b read the rules from the store when its run started: a later violation raises an alarm.
    await until('b has the rules', () => b.totals().rules === 1);
    await reading('pump-3a', { temperature: 130 });
    await until('the second alarm', async () => (await alarmsOf('hot')).length === 2);
    await sleep(300);
    expect((await alarmsOf('hot')).map((x) => [x.twinId, x.count]).sort()).toEqual([
      ['pump-1a', 1],
      ['pump-3a', 1],
    ]);
    expect(logs).toContainEqual({
      node: 'a',
      msg: 'gave up the analytics lease: the streaming analytics no longer run on this node',
      why: 'stopping',
    });
    expect(logs.filter((l) => l.msg.startsWith('took the analytics lease')).map((l) => l.node)).toEqual([
      'a',
      'b',
    ]);

    // ---- b's lease is taken away (fenced: a new epoch, expired): b stops its run, c takes it
    const c = node('c');
    await c.start();
    await sleep(3 * EVERY);
    expect([b.state(), c.state()]).toEqual(['running', 'standby']);
    await db.query(
      `UPDATE twinloop_named_leases SET owner = 'gone', epoch = epoch + 1, expires_at = now() - interval '1 second' WHERE name = $1`,
      [ANALYTICS_LEASE],
    );
    await until('b stops and c runs', () => b.state() === 'standby' && c.state() === 'running', TTL + 2000);
    expect(running()).toEqual([c]);
    // Said once b's run has stopped (its worker analysed what it had queued and ended).
    await until('b says it gave the lease up', () =>
      logs.some(
        (l) =>
          l.node === 'b' &&
          l.msg === 'gave up the analytics lease: the streaming analytics no longer run on this node' &&
          l.why === 'taken over or expired',
      ),
    );
    // c evaluates the rules too, and b's counters keep what b did.
    await until('c has the rules', () => c.totals().rules === 1);
    expect(b.totals().observed).toBeGreaterThan(0);
    process.stdout.write(
      `analytics lease: clean hand-over in ${tookOver} ms (a try every ${EVERY} ms, ttl ${TTL} ms)\n`,
    );
  });
});
