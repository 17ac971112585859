/**
 * A restart keeps the alarms and the anomaly detectors consistent (issue 10): the platform with the
 * pump-line pilot scores pump-1a's vibration and evaluates a rule; a spike raises both alarms; after
 * a stop and a start on the same data folder,
 * - the detector, rebuilt from history (its last 1,000 points), scores the next readings exactly as
 *   a detector that never stopped (checked against one fed every value in the test);
 * - the alarms still open are taken up: normal readings clear them by their conditions (the rule's
 *   clear side at once; the detector's after its quiet time), and nothing is raised twice.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { createDetector } from '../../src/analytics/anomaly/create-detector.js';
import { startTestPlatform, tempDataDir, waitFor } from './platform-fixture.js';

const T0 = Date.UTC(2026, 0, 5);
/** Normal vibration: a slow wave with a deterministic wobble (no randomness: the test is exact). */
const normal = (i: number) => 2 + 0.3 * Math.sin(i / 15) + 0.05 * Math.sin(i * 1.7);

async function bulk(p: Platform, from: number, values: number[]): Promise<void> {
  const body = values
    .map((v, k) => JSON.stringify({ $dtId: 'pump-1a', $ts: T0 + (from + k) * 1000, vibration: v }))
    .join('\n');
  const res = await fetch(`${p.runtime.httpUrl}/telemetry/bulk`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: `${body}\n`,
  });
  expect(res.status).toBe(200);
}

async function alarms(
  p: Platform,
): Promise<{ ruleId: string; state: string; count: number; id: string; cleared?: { by: string } }[]> {
  const res = await fetch(`${p.runtime.httpUrl}/alarms?twin=pump-1a`);
  return ((await res.json()) as { value: never[] }).value;
}

async function scores(p: Platform, fromIndex: number): Promise<number[]> {
  const out: number[] = [];
  let cursor: string | undefined;
  do {
    const q = new URLSearchParams({
      path: 'vibrationAnomalyScore',
      from: String(T0 + fromIndex * 1000),
      to: String(T0 + 10_000_000),
      ...(cursor ? { cursor } : {}),
    });
    const page = (await (await fetch(`${p.runtime.httpUrl}/digitaltwins/pump-1a/history?${q}`)).json()) as {
      value: { value: number }[];
      cursor?: string;
    };
    out.push(...page.value.map((x) => x.value));
    cursor = page.cursor;
  } while (cursor);
  return out;
}

const RULE = {
  id: 'restart-vibration',
  appliesTo: { twins: ['pump-1a'] },
  severity: 'major',
  condition: { threshold: { telemetry: 'vibration', above: 50, clearBelow: 40 } },
  message: 'vibration {value} on {twinId}',
};

// Both places the operators run: the analytics worker thread (default) and the ingest thread.
describe.each([{ worker: true }, { worker: false }])(
  'analytics across a restart (worker: $worker)',
  ({ worker }) => {
    const data = tempDataDir('twinloop-analytics-restart-');
    afterAll(() => data.cleanup());
    // deadbands off: every score is stored, so the scores before and after the restart compare one to one.
    const layer = { analytics: { worker, deadbands: false } };
    it('keeps detector scores exact and clears the alarms left open by their conditions', async () => {
      const before = Array.from({ length: 850 }, (_, i) => normal(i));
      before.push(60); // the spike: index 850
      const after = Array.from({ length: 700 }, (_, i) => normal(851 + i));

      let p = await startTestPlatform(data.dir, {}, layer);
      try {
        const put = await fetch(`${p.runtime.httpUrl}/rules/${RULE.id}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(RULE),
        });
        expect(put.status).toBe(201);
        await bulk(p, 0, before);
        // An alarm of another raiser than the rules and detectors: no condition of theirs may clear it.
        p.alarms.raise({
          workspace: 'default',
          twinId: 'pump-1a',
          ruleId: 'external-check',
          ruleVersion: 1,
          severity: 'minor',
          message: 'raised by an outside check',
          time: T0,
        });
        await waitFor('both alarms raised', () => p.analytics.stats().runtime?.queued === 0, 30_000);
        let open: Awaited<ReturnType<typeof alarms>> = [];
        for (let i = 0; i < 100; i++) {
          await p.alarms.flush();
          open = await alarms(p);
          if (open.some((a) => a.ruleId === 'anomaly.vibration') && open.some((a) => a.ruleId === RULE.id))
            break;
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(open.filter((a) => a.ruleId === RULE.id || a.ruleId === 'anomaly.vibration')).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ ruleId: RULE.id, state: 'active', count: 1 }),
            expect.objectContaining({ ruleId: 'anomaly.vibration', state: 'active', count: 1 }),
          ]),
        );
      } finally {
        await p.stop();
      }

      p = await startTestPlatform(data.dir, {}, layer);
      try {
        await bulk(p, 851, after);
        await waitFor(
          'the scores of the readings after the restart',
          () => p.analytics.stats().anomaly?.scored === after.length,
          30_000,
        );
        await waitFor('analytics drained', () => p.analytics.stats().runtime?.queued === 0, 30_000);

        // A detector that never stopped, fed every value: the same scores, to the last bit.
        const reference = createDetector('resonance');
        const expected: number[] = [];
        [...before, ...after].forEach((v, i) => {
          const s = Math.min(1, Math.max(0, reference.score(T0 + i * 1000, v)));
          if (i >= 851) expected.push(s);
        });
        let got: number[] = [];
        for (let i = 0; i < 100 && got.length < after.length; i++) {
          got = await scores(p, 851);
          if (got.length < after.length) await new Promise((r) => setTimeout(r, 100));
        }
        expect(got).toHaveLength(after.length);
        expect(got).toEqual(expected);

        // Both alarms cleared by their conditions; neither raised again.
        let mine: Awaited<ReturnType<typeof alarms>> = [];
        for (let i = 0; i < 100; i++) {
          await p.alarms.flush();
          mine = (await alarms(p)).filter((a) => a.ruleId === RULE.id || a.ruleId === 'anomaly.vibration');
          if (mine.every((a) => a.state === 'cleared')) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(mine).toHaveLength(2);
        for (const a of mine)
          expect(a).toMatchObject({ state: 'cleared', count: 1, cleared: { by: 'condition' } });
      } finally {
        await p.stop();
      }
    }, 120_000);

    it('keeps a rule duration under way across a restart; an unreadable saved state is set aside', async () => {
      const dir = tempDataDir('twinloop-rule-state-');
      const send = async (p: Platform, from: number, to: number) => {
        const lines: string[] = [];
        for (let s = from; s <= to; s += 30)
          lines.push(JSON.stringify({ $dtId: 'pump-1b', $ts: T0 + s * 1000, temperature: 150 }));
        const res = await fetch(`${p.runtime.httpUrl}/telemetry/bulk`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson' },
          body: `${lines.join('\n')}\n`,
        });
        expect(res.status).toBe(200);
      };
      const mine = async (p: Platform) => {
        await p.alarms.flush();
        const res = await fetch(`${p.runtime.httpUrl}/alarms?twin=pump-1b`);
        return ((await res.json()) as { value: { ruleId: string; firstTime: string }[] }).value.filter(
          (a) => a.ruleId === 'hot-for-10m',
        );
      };
      try {
        let p = await startTestPlatform(dir.dir, {}, layer);
        try {
          const put = await fetch(`${p.runtime.httpUrl}/rules/hot-for-10m`, {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              id: 'hot-for-10m',
              appliesTo: { twins: ['pump-1b'] },
              severity: 'minor',
              for: '10m',
              condition: { threshold: { telemetry: 'temperature', above: 100 } },
              message: 'hot',
            }),
          });
          expect(put.status).toBe(201);
          await send(p, 0, 360); // 6 of the 10 minutes
          await waitFor('analytics drained', () => p.analytics.stats().runtime?.queued === 0, 30_000);
          expect(await mine(p)).toEqual([]);
        } finally {
          await p.stop(); // saves the rule state
        }
        p = await startTestPlatform(dir.dir, {}, layer);
        try {
          await send(p, 390, 660); // the condition goes on holding: 10 minutes are up at 600 s
          await waitFor('analytics drained', () => p.analytics.stats().runtime?.queued === 0, 30_000);
          let alarms = await mine(p);
          for (let i = 0; i < 50 && alarms.length === 0; i++) {
            await new Promise((r) => setTimeout(r, 100));
            alarms = await mine(p);
          }
          // Raised when the duration was up counting from before the restart (a fresh engine: 990 s).
          expect(alarms.map((a) => a.firstTime)).toEqual([new Date(T0 + 600_000).toISOString()]);
        } finally {
          await p.stop();
        }
        // A saved state that cannot be read: the platform starts, the file is set aside.
        writeFileSync(
          path.join(dir.dir, 'rule-state.json'),
          '{"format": "twinloop.rules.state/1", "rules": [',
        );
        p = await startTestPlatform(dir.dir, {}, layer);
        try {
          expect(existsSync(path.join(dir.dir, 'rule-state.json.unreadable'))).toBe(true);
        } finally {
          await p.stop();
        }
        expect(JSON.parse(readFileSync(path.join(dir.dir, 'rule-state.json'), 'utf8'))).toMatchObject({
          format: 'twinloop.rules.state/1',
        });
      } finally {
        dir.cleanup();
      }
    }, 120_000);
  },
);
