/**
 * Report by exception through the whole analytics subsystem (real SQLite stores, the pump-line
 * pilot, whose vibrationMax10min has `deadband: 0.05`), with the operators in the worker thread and
 * on the ingest thread: a value within the deadband of the last one stored is not stored, yet a
 * rule on it fires on that very value; a value beyond the deadband is stored; the held values are
 * counted.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { readRuleObject } from '../../analytics/rules/read-rule.js';
import type { VersionedRule } from '../../analytics/rules/rule-types.js';
import { defaultConfig } from '../config.js';
import { startAnalytics, type AnalyticsSubsystem } from './analytics.js';
import {
  openAnalyticsFixture,
  until,
  type AnalyticsFixture,
} from '../../../test/platform/analytics-fixture.js';

const PUMP = 'dtmi:twinloop:pumpline:Pump;1';
const read = readRuleObject({
  id: 'max-over',
  appliesTo: { model: PUMP },
  severity: 'minor',
  condition: { threshold: { telemetry: 'vibrationMax10min', above: 2.035 } },
  message: 'vibrationMax10min {value}',
});
if (!read.rule) throw new Error(JSON.stringify(read.problems));
const RULES: VersionedRule[] = [{ spec: read.rule, version: 1 }];

let f: AnalyticsFixture | undefined;
let a: AnalyticsSubsystem | undefined;
afterEach(async () => {
  await a?.close();
  await f?.w.close();
  a = undefined;
  f = undefined;
});

describe.each([true, false])('report by exception (analytics.worker %s)', (worker) => {
  it('stores what moved beyond the deadband, while the rules see every value', async () => {
    f = await openAnalyticsFixture('2031-02-01T00:00:00Z');
    const fx = f;
    expect(
      fx.pilot.derived?.some((s) => s.values.some((v) => v.name === 'vibrationMax10min' && v.report)),
    ).toBe(true);
    a = startAnalytics(
      fx.options(pino({ level: 'silent' }), {
        config: { analytics: { ...defaultConfig().analytics, worker } },
        rules: () => Promise.resolve(RULES),
      }),
    );
    await a.start();
    await until('the rule is handed over', () => a!.totals().rules === 1);
    const stored = async () =>
      (
        await fx.w.storage.history.queryRaw({
          workspace: 'default',
          twinId: 'pump-3a',
          path: 'vibrationMax10min',
          from: 0,
          to: 1e15,
          limit: 100,
        })
      ).points.map((p) => p.value);
    const alarms = () => fx.w.storage.alarms.list({ workspace: 'default', ruleId: 'max-over', limit: 10 });

    // 2.00 … 2.04 one second apart: the 10-minute max follows, within 0.05 of the first stored.
    for (const v of [2, 2.01, 2.02, 2.03, 2.04])
      await fx.reading('pump-3a', { vibration: v, temperature: 50 });
    await until('the rule fired on a value that was not stored', async () => (await alarms()).length > 0);
    const [alarm] = await alarms();
    expect(alarm).toMatchObject({ twinId: 'pump-3a', value: 2.04 });
    await until('the held values are counted', () => a!.totals().derivedHeld >= 4);
    expect(await stored()).toEqual([2]);

    // A jump beyond the deadband is stored.
    await fx.reading('pump-3a', { vibration: 3, temperature: 50 });
    await until('the jump is stored', async () => (await stored()).length === 2);
    expect(await stored()).toEqual([2, 3]);
  });
});
