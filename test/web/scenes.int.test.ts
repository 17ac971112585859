// The 3D scene page end to end: Debian's Chromium (WebGL by SwiftShader) against a real platform
// with the pump-line pilot and its shipped scene (simulator off, so only this test's readings move
// the colours). Screenshots (laptop light, tablet dark) go to test-artifacts/web/.
import mqtt from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir } from '../platform/platform-fixture.js';
import { VIEWS, launchBrowser, open, shot } from './browser-harness.js';

let platform: Platform;
let cleanup: () => void;
let browser: Browser;
let base: string;

/** The grey of a bound part without a value (web/src/lib/scene-state.ts NO_VALUE_COLOUR). */
const NO_VALUE = '#8a8f98';

beforeAll(async () => {
  const d = tempDataDir('twinloop-scenes-');
  cleanup = d.cleanup;
  [platform, browser] = await Promise.all([startTestPlatform(d.dir), launchBrowser({ webgl: true })]);
  base = platform.runtime.httpUrl;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  cleanup?.();
});

async function publish(twin: string, values: Record<string, unknown>): Promise<void> {
  const device = await mqtt.connectAsync(platform.runtime.mqttUrl, { clientId: `scene-test-${twin}` });
  await device.publishAsync(`twins/${twin}/telemetry`, JSON.stringify(values), { qos: 1 });
  await device.endAsync();
}

const row = (page: Page, part: string) => page.locator(`tr[data-part="${part}"]`);
const colours = async (page: Page, part: string) => ({
  wanted: await row(page, part).getAttribute('data-colour'),
  drawn: await row(page, part).getAttribute('data-rendered-colour'),
});

async function openScene(page: Page): Promise<void> {
  await page.goto(`${base}/app/scene?id=pump-line`);
  await page.getByRole('table', { name: 'Parts of the scene' }).waitFor();
  await page
    .locator(
      '.scene-box[data-state="ready"], .scene-box[data-state="nowebgl"], .scene-box[data-state="error"]',
    )
    .waitFor();
  expect(await page.locator('.scene-box').getAttribute('data-state'), 'the 3D view drew (WebGL)').toBe(
    'ready',
  );
}

describe('the 3D scene page', () => {
  it('loads the scene without console errors; a reading changes the colour of its part, listed and drawn', async () => {
    const ctx = await browser.newContext({
      viewport: VIEWS[0]!.viewport,
      colorScheme: VIEWS[0]!.colorScheme,
    });
    const { page, errors, urls } = await open(ctx);
    await openScene(page);
    expect(await page.getByRole('img', { name: /The scene in 3D/ }).count()).toBe(1);
    // Every part of the pilot's scene is listed, bound to its twin; without readings, grey.
    expect(await page.locator('tr[data-part]').count()).toBe(9);
    await expect.poll(() => colours(page, 'pump-3a')).toEqual({ wanted: NO_VALUE, drawn: NO_VALUE });

    await publish('pump-3a', { vibration: 9.5 });
    // 9.5 on [0, 10], palette green → amber → red: 90 % of the way from amber (#f9a825) to red (#c62828).
    await expect
      .poll(() => colours(page, 'pump-3a'), { timeout: 5000 })
      .toEqual({ wanted: '#cb3528', drawn: '#cb3528' });
    expect(await row(page, 'pump-3a').textContent()).toContain('vibration 9.50 mm/s');
    // The label over the part says it too.
    await expect
      .poll(() => page.locator('.scene-label', { hasText: 'pump-3a' }).textContent())
      .toContain('vibration 9.50 mm/s');
    // Another part is not touched.
    expect(await colours(page, 'pump-3b')).toEqual({ wanted: NO_VALUE, drawn: NO_VALUE });

    await publish('pump-3a', { vibration: 1 });
    // 1 on [0, 10]: 20 % of the way from green (#2e7d32) to amber.
    await expect
      .poll(() => colours(page, 'pump-3a'), { timeout: 5000 })
      .toEqual({ wanted: '#57862f', drawn: '#57862f' });
    await shot(page, 'scene-laptop-light');
    // three.js came with the scene page, not before.
    expect(urls.some((u) => /\/assets\/scene-viewer-[\w-]+\.js$/.test(u))).toBe(true);
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it("the overview's JavaScript carries no 3D code; its card and the nav lead to the scene", async () => {
    const ctx = await browser.newContext({ viewport: VIEWS[0]!.viewport });
    const { page, errors, urls } = await open(ctx);
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: '3D scenes: 1' }).waitFor();
    expect(urls.filter((u) => /\/assets\/.*\.js$/.test(u)).length).toBeGreaterThan(0);
    expect(urls.filter((u) => /scene-viewer|scene-page/.test(u))).toEqual([]);
    await page.getByRole('link', { name: '3D scenes: 1' }).click();
    await page.getByRole('table', { name: 'Parts of the scene' }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: '3D' }).click();
    await page.getByRole('link', { name: 'pump-line' }).click();
    await page.getByRole('table', { name: 'Parts of the scene' }).waitFor();
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('a click on a part in 3D opens its twin; so does its list entry; the twin page links back', async () => {
    const ctx = await browser.newContext({ viewport: VIEWS[0]!.viewport });
    const { page, errors } = await open(ctx);
    await openScene(page);
    // The label stands just above its part: click under the label, on the part itself.
    const label = page.locator('.scene-label', {
      has: page.locator('.scene-label-name', { hasText: /^tank-3$/ }),
    });
    const box = (await label.boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height + 12);
    await page.getByRole('heading', { name: /^tank-3/ }).waitFor();
    expect(new URL(page.url()).search).toBe('?id=tank-3');
    await page.getByRole('link', { name: 'Show in 3D' }).click();
    await page
      .getByRole('table', { name: 'Parts of the scene' })
      .getByRole('link', { name: 'Open twin pump-1b' })
      .click();
    await page.getByRole('heading', { name: /^pump-1b/ }).waitFor();
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('edits the binding: problems at their fields, a good edit stored, kept after a reload', async () => {
    const ctx = await browser.newContext({ viewport: VIEWS[0]!.viewport });
    const { page, errors } = await open(ctx);
    await openScene(page);
    await page.getByText(/Edit the binding/).click();
    // A scale upside down and a twin that does not exist: each problem beside its field.
    await page.getByLabel('Minimum of pump-3a').fill('12');
    await page.getByLabel('Twin of pump-3b').fill('<b>no such twin</b>');
    await page.getByRole('button', { name: 'Save the binding' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByLabel('Maximum of pump-3a').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#err-pump-3a\\/max').textContent()).toMatch(/must be above color\.min/);
    expect(await page.getByLabel('Twin of pump-3b').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#err-pump-3b\\/twin').textContent()).toContain(
      'There is no twin "<b>no such twin</b>"',
    );
    expect(await page.locator('b', { hasText: 'no such twin' }).count()).toBe(0); // text, not markup
    await shot(page, 'scene-editor-errors-laptop-light');
    expect(((await (await fetch(`${base}/scenes/pump-line`)).json()) as { version: number }).version).toBe(1);

    // A good edit: pump-3a's scale to [0, 20] (its reading of 1 stays green, a little greener).
    await page.getByLabel('Minimum of pump-3a').fill('0');
    await page.getByLabel('Maximum of pump-3a').fill('20');
    await page.getByLabel('Twin of pump-3b').fill('pump-3b');
    await page.getByRole('button', { name: 'Save the binding' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Saved as version 2.' })
      .or(page.getByText(/Edit the binding \(version 2\)/))
      .first()
      .waitFor();
    // 1 on [0, 20]: 10 % of the way from green to amber.
    await expect
      .poll(() => colours(page, 'pump-3a'), { timeout: 5000 })
      .toEqual({ wanted: '#428131', drawn: '#428131' });
    await shot(page, 'scene-editor-laptop-light');
    await page.reload();
    await page.getByRole('table', { name: 'Parts of the scene' }).waitFor();
    await page.getByText(/Edit the binding \(version 2\)/).click();
    expect(await page.getByLabel('Maximum of pump-3a').inputValue()).toBe('20');
    const stored = (await (await fetch(`${base}/scenes/pump-line`)).json()) as {
      version: number;
      binding: { parts: Record<string, { color?: { max: number } }> };
    };
    expect(stored.version).toBe(2);
    expect(stored.binding.parts['pump-3a']?.color?.max).toBe(20);
    expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
    await ctx.close();
  });

  it('highlights the part of a twin with an active alarm, in the list and in 3D (tablet, dark)', async () => {
    const put = await fetch(`${base}/rules/scene-test-vibration`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        appliesTo: { twins: ['pump-1c'] },
        severity: 'major',
        condition: { threshold: { telemetry: 'vibration', above: 50 } },
        message: 'vibration {value} above {limit} on {twinId}',
      }),
    });
    expect(put.status, await put.text()).toBeLessThan(300);
    const v = VIEWS[1]!;
    const ctx = await browser.newContext({ viewport: v.viewport, colorScheme: v.colorScheme });
    const { page, errors } = await open(ctx);
    await openScene(page);
    expect(await row(page, 'pump-1c').textContent()).toContain('none');
    await publish('pump-1c', { vibration: 99 });
    const alarmed = async () =>
      ((await (await fetch(`${base}/alarms?state=active&twin=pump-1c`)).json()) as { value: unknown[] }).value
        .length;
    await expect.poll(alarmed, { timeout: 10_000 }).toBeGreaterThan(0);
    await expect
      .poll(() => row(page, 'pump-1c').textContent(), { timeout: 10_000 })
      .toContain('active alarm');
    await expect
      .poll(() => page.locator('.scene-label.alarm .scene-label-name').allTextContents())
      .toContain('pump-1c');
    // Red: the top of the scale (99 is beyond 10).
    await expect.poll(() => colours(page, 'pump-1c')).toEqual({ wanted: '#c62828', drawn: '#c62828' });
    await shot(page, `scene-${v.name}`);
    // The page is never wider than the screen.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(v.viewport.width);
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('says clearly when WebGL is not available, and the parts list keeps working', async () => {
    const ctx = await browser.newContext({ viewport: VIEWS[0]!.viewport });
    // A browser without WebGL: no context of either kind.
    await ctx.addInitScript(`{
      const real = HTMLCanvasElement.prototype.getContext;
      HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
        return /webgl/i.test(kind) ? null : real.call(this, kind, ...rest);
      };
    }`);
    const { page } = await open(ctx);
    await page.goto(`${base}/app/scene?id=pump-line`);
    await page.getByText(/3D view unavailable: this browser cannot draw WebGL/).waitFor();
    await publish('pump-3b', { vibration: 5 });
    await expect
      .poll(() => row(page, 'pump-3b').getAttribute('data-colour'), { timeout: 5000 })
      .toBe('#f9a825');
    expect(await row(page, 'pump-3b').getAttribute('data-rendered-colour')).toBe('');
    await shot(page, 'scene-nowebgl-laptop-light');
    await ctx.close();
  });
});
