/**
 * The twin page's "Remaining useful life" panel in Debian's Chromium: pumps with a run-to-failure
 * history, a model trained and promoted over HTTP, then the held-out pump's page shows the steps
 * left, the time they mean, the band and the model; a twin of a model without an RUL model shows no
 * panel; the page says when a twin's newest reading is older than the live window and offers the
 * week before it. Screenshots in test-artifacts/web/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { Platform } from '../../src/app/platform.js';
import { pumpRunsToFailure } from '../../src/analytics/rul/rul-pump-test-fixture.js';
import { httpCaller, type HttpCall } from '../support/http-call.js';
import { pumpTraining, seedPumpRuns, trainingEnd } from '../support/rul-pumps.js';
import { startTestPlatform, tempDataDir } from '../platform/platform-fixture.js';
import { launchBrowser, open, shot, VIEWS } from './browser-harness.js';

const d = tempDataDir('twinloop-web-rul-');
let platform: Platform;
let browser: Browser;
let call: HttpCall;
let base: string;
const SAMPLE_S = 600;
// Readings from weeks ago: the live window (15 minutes) holds none of them.
const ORIGIN = Date.now() - 30 * 86_400_000;
const runs = pumpRunsToFailure({ count: 10, seed: 7, sampleSeconds: SAMPLE_S });
const held = runs[9]!;

beforeAll(async () => {
  [platform, browser] = await Promise.all([startTestPlatform(d.dir, { sim: 'off' }), launchBrowser()]);
  base = platform.runtime.httpUrl;
  call = httpCaller(() => base, platform.token ?? '');
  await seedPumpRuns(platform, call, runs, ORIGIN);
  const start = await call('POST', '/ml/training', pumpTraining(runs.slice(0, 9), SAMPLE_S));
  expect(start.status).toBe(202);
  const job = await trainingEnd(call, (start.json as { id: string }).id);
  expect(job.status).toBe('succeeded');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  d.cleanup();
});

describe('the twin page with a remaining-useful-life model', () => {
  for (const v of VIEWS)
    it(`shows what the model says, and the history when nothing is live (${v.name})`, async () => {
      const ctx = await browser.newContext({ viewport: v.viewport, colorScheme: v.colorScheme });
      const { page, errors } = await open(ctx);
      await page.goto(`${base}/app/twin?id=${held.id}`);
      const card = page.getByRole('group', { name: 'Remaining useful life' });
      await card.waitFor({ timeout: 15_000 });
      const answer = (await call('GET', `/digitaltwins/${held.id}/rul`)).json as { rul: number };
      // The same prediction the route gives, rounded, in steps; the time at 10 minutes a step.
      const text = (await card.textContent()) ?? '';
      expect(text).toContain(`${Math.max(0, Math.round(answer.rul))} step`);
      expect(text).toMatch(/at 10 min a step/);
      expect(text).toMatch(/at its step \d+/);
      const model = (await page.getByRole('group', { name: 'RUL model' }).textContent()) ?? '';
      expect(model).toMatch(/rul-[\w-]+ v1/);
      expect(model).toMatch(/RMSE \d+(\.\d)? steps/);

      // Its readings are a month old: the page says so and shows them on request.
      await page.getByRole('status').filter({ hasText: 'No reading in the last 15 minutes' }).waitFor();
      await page.getByRole('button', { name: 'Show the week before it' }).click();
      await page.getByText(/^History from /).waitFor();
      await page.locator('.chart-box').first().locator('canvas').first().waitFor();
      await shot(page, `twin-rul-${v.name}`);
      expect(errors).toEqual([]);
      await ctx.close();
    });

  it('shows no panel for a twin whose model has no RUL model', async () => {
    const put = await call('PUT', '/digitaltwins/plain-1?api-version=2023-10-31', {
      $metadata: { $model: 'dtmi:twinloop:pumpline:ProductionLine;1' },
    });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    const ctx = await browser.newContext();
    const { page, errors } = await open(ctx);
    await page.goto(`${base}/app/twin?id=plain-1`);
    await page.getByRole('heading', { name: 'Telemetry' }).waitFor();
    await page.getByRole('heading', { name: 'Properties' }).waitFor();
    expect(await page.getByRole('heading', { name: 'Remaining useful life' }).count()).toBe(0);
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
