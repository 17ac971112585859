/**
 * The analytics with their operators in the worker thread (analytics.worker, the default), composed
 * as the platform does over real SQLite stores and the pump-line pilot: readings reach the worker's
 * operators, derived values and alarms come back and are stored; a property change on the ingest
 * thread reaches the worker's copy of the twins (a rule's limit read from the twin); a worker that
 * dies is logged and replaced by a new run that reads the rules again.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRuleObject } from '../../analytics/rules/read-rule.js';
import type { VersionedRule } from '../../analytics/rules/rule-types.js';
import { defaultConfig } from '../config.js';
import { startAnalytics, type AnalyticsSubsystem } from './analytics.js';
import { currentThreadId, threadPolicy } from '../../adapters/workers/thread-priority.js';
import {
  openAnalyticsFixture,
  until,
  type AnalyticsFixture,
} from '../../../test/platform/analytics-fixture.js';

const PUMP = 'dtmi:twinloop:pumpline:Pump;1';
let f: AnalyticsFixture;
let w: AnalyticsFixture['w'];
let a: AnalyticsSubsystem | undefined;
const logs: { level: number; msg: string }[] = [];

const reading = (twinId: string, values: Record<string, number>) => f.reading(twinId, values);
const alarmsOf = (ruleId: string) => w.storage.alarms.list({ workspace: 'default', ruleId, limit: 100 });
const series = async (twinId: string, path: string) =>
  (await w.storage.history.queryRaw({ workspace: 'default', twinId, path, from: 0, to: 1e15, limit: 100 }))
    .points;

/** Above the twin's own `vibrationLimit` property: the limit is read from the worker's replica. */
const read = readRuleObject({
  id: 'over-limit',
  appliesTo: { model: PUMP },
  severity: 'major',
  condition: { threshold: { telemetry: 'vibration', above: '$vibrationLimit' } },
  message: 'vibration {value} above {limit}',
});
if (!read.rule) throw new Error(JSON.stringify(read.problems));
const RULES: VersionedRule[] = [{ spec: read.rule, version: 1 }];

/** A thread's nice value from its /proc stat line (field 19; the command may hold spaces). */
const niceOf = (stat: string): number => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
/** A thread's scheduling policy (field 41: 0 SCHED_OTHER, 5 SCHED_IDLE). */
/** util-linux's chrt, which sets SCHED_IDLE, is on this machine. */
const hasChrt = spawnSync('chrt', ['--help']).status === 0;
let niceBefore = 0;

beforeAll(async () => {
  niceBefore = process.platform === 'linux' ? niceOf(readFileSync('/proc/thread-self/stat', 'utf8')) : 0;
  f = await openAnalyticsFixture('2031-01-01T00:00:00Z');
  w = f.w;
  a = startAnalytics(
    f.options(
      pino(
        { level: 'info' },
        { write: (line: string) => logs.push(JSON.parse(line) as { level: number; msg: string }) },
      ),
      {
        config: { analytics: { ...defaultConfig().analytics, worker: true } },
        rules: () => Promise.resolve(RULES),
        ...(f.pilot.anomalyPlan ? { anomaly: f.pilot.anomalyPlan } : {}),
      },
    ),
  );
  await a.start();
});

afterAll(async () => {
  await a?.close();
  await f?.w.close();
});

describe('analytics in the worker thread', () => {
  it('stores derived values and raises alarms judged on the twin’s properties as they change', async () => {
    expect(a!.runtime).toBeUndefined(); // nothing of the operators on this thread
    await until('the rule is handed over', () => a!.totals().rules === 1);
    await reading('pump-1a', { vibration: 2, temperature: 50, flow: 36, dischargePressure: 2.01325 });
    await until('a derived value', async () => (await series('pump-1a', 'hydraulicPower')).length > 0);
    expect((await series('pump-1a', 'hydraulicPower'))[0]!.value).toBeCloseTo(1, 9);
    expect(await alarmsOf('over-limit')).toEqual([]);

    // The limit is lowered on the ingest thread: the worker's copy follows, the next reading is over it.
    await w.twins.update('pump-1a', [{ op: 'replace', path: '/vibrationLimit', value: 1.5 }]);
    await reading('pump-1a', { vibration: 2, temperature: 50 });
    await until('the alarm', async () => (await alarmsOf('over-limit')).length > 0);
    const [alarm] = await alarmsOf('over-limit');
    expect(alarm).toMatchObject({ twinId: 'pump-1a', state: 'active', value: 2 });
    await until('the worker’s figures', () => a!.totals().derivedWritten > 0 && a!.totals().observed >= 2);
  });

  it.runIf(process.platform === 'linux')(
    'runs below the ingest thread’s priority (SCHED_IDLE by default, else nice 10), that thread keeping its own',
    async () => {
      const own = readFileSync('/proc/thread-self/stat', 'utf8');
      const tids = readdirSync('/proc/self/task');
      const threads = tids.map((t) => readFileSync(`/proc/self/task/${t}/stat`, 'utf8'));
      expect(niceOf(own)).toBe(niceBefore); // the thread that started the run (the ingest thread here)
      expect(threadPolicy(currentThreadId()!)).toBe(0); // SCHED_OTHER
      if (hasChrt) {
        expect(tids.filter((t) => threadPolicy(t) === 5).length).toBeGreaterThanOrEqual(1); // SCHED_IDLE
        expect(logs.some((l) => /could not use SCHED_IDLE/.test(l.msg))).toBe(false);
        return;
      }
      // Without chrt: nice 10. A runner started at nice 10 or more (nice -n 19 npm test) cannot tell the worker apart.
      const nices = threads.map(niceOf);
      if (niceOf(own) < 10) expect(nices.filter((n) => n === 10).length).toBeGreaterThanOrEqual(1);
      else expect(nices.every((n) => n >= niceOf(own))).toBe(true);
    },
  );

  it('a worker that dies is logged, and a new run takes over with the rules read again', async () => {
    const before = a!.totals().observed;
    // A rule the engine cannot compile (the rule service never hands one over): the worker throws.
    a!.setRules([
      { version: 1, spec: { id: 'broken', enabled: true, appliesTo: {}, condition: null, forMs: 0 } },
    ] as unknown as VersionedRule[]);
    await until('the failure is logged', () =>
      logs.some((l) => l.msg === 'the analytics worker stopped unexpectedly'),
    );
    await until(
      'a new run with the store’s rules',
      () => a!.state() === 'running' && a!.totals().rules === 1,
    );
    await reading('pump-1b', { vibration: 2, temperature: 50, flow: 36, dischargePressure: 2.01325 });
    await until(
      'the new run analyses readings',
      async () => (await series('pump-1b', 'hydraulicPower')).length > 0,
    );
    await until('its figures count', () => a!.totals().observed > before);
  });
});
