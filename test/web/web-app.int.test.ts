// The web app end to end: Debian's Chromium (playwright-core) against a real platform (pump-line,
// simulator and shadow mode on, analytics on), the app as built into dist/web. Screenshots of every
// page (light and dark, laptop and tablet) go to test-artifacts/web/ (ignored by git). Every page is
// checked for console errors (a CSP violation is one).
import mqtt from 'mqtt';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir } from '../platform/platform-fixture.js';
import { launchBrowser, open, shot, unnamedControls, VIEWS } from './browser-harness.js';

let platform: Platform;
let cleanup: () => void;
let browser: Browser;
let base: string;

beforeAll(async () => {
  const d = tempDataDir('twinloop-web-');
  cleanup = d.cleanup;
  [platform, browser] = await Promise.all([
    startTestPlatform(d.dir, { sim: 'on', shadow: 'on' }),
    launchBrowser(),
  ]);
  base = platform.runtime.httpUrl;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  cleanup?.();
});

describe('the web app on a running platform', () => {
  it('the accessible-name check finds a control without a name (it can fail)', async () => {
    const page = await browser.newPage();
    await page.setContent('<button></button><button>ok</button><input aria-label="x"><input>');
    expect(await unnamedControls(page)).toHaveLength(2);
    await page.close();
  });

  it('serves the app at / with a strict CSP, its facts in the shell, and JSON to clients that ask', async () => {
    const res = await fetch(`${base}/`);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await res.text();
    expect(html).toContain('<script type="module"');
    expect(html).toContain(`-p ${new URL(platform.runtime.mqttUrl).port}`); // what the home page told
    const json = await fetch(`${base}/`, { headers: { accept: 'application/json' } });
    expect(((await json.json()) as { pilot: string }).pilot).toBe('pump-line');
    // A client route gets the shell; an asset comes gzipped and cached for good; the API still answers.
    const client = await fetch(`${base}/app/twin?id=pump-1a`);
    expect(await client.text()).toContain('<div id="root">');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const a = await fetch(`${base}${asset}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(a.status).toBe(200);
    expect(a.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${base}/models`)).headers.get('content-type')).toMatch(/json/);
    expect((await fetch(`${base}/docs`)).status).toBe(200);
  });

  it('the overview shows the pilot at a glance, in every view, without console errors', async () => {
    for (const v of VIEWS) {
      const ctx = await browser.newContext({ viewport: v.viewport, colorScheme: v.colorScheme });
      const { page, errors } = await open(ctx);
      await page.goto(`${base}/`);
      await page.getByRole('heading', { name: /pump-line overview/ }).waitFor();
      await expect.poll(() => page.getByRole('link', { name: 'Twins: 12' }).count()).toBe(1);
      expect(await page.getByRole('link', { name: /^Models: 6$/ }).count()).toBe(1);
      expect(await page.getByRole('link', { name: /^Simulator: running$/ }).count()).toBe(1);
      expect(await page.getByRole('link', { name: /^Shadow mode: on$/ }).count()).toBe(1);
      expect(await page.getByLabel('Commands to try').textContent()).toContain(
        `-p ${new URL(platform.runtime.mqttUrl).port}`,
      );
      if (v === VIEWS[0]) {
        // A rejected reading shows among the latest dead letters, with its reason, at the next refresh.
        const device = await mqtt.connectAsync(platform.runtime.mqttUrl, { clientId: 'web-test-bad' });
        await device.publishAsync('twins/pump-1a/telemetry', JSON.stringify({ vibration: 'high' }), {
          qos: 1,
        });
        await device.endAsync();
        const deadLetters = page.getByRole('region', { name: 'Latest dead letters' });
        await deadLetters.getByText(/twins\/pump-1a\/telemetry/).waitFor({ timeout: 10_000 });
        expect(await page.getByRole('link', { name: /^Dead letters: [1-9]/ }).count()).toBe(1);
      }
      await shot(page, `overview-${v.name}`);
      expect(errors).toEqual([]);
      await ctx.close();
    }
  });

  it('a reading published over MQTT appears on the twin page within a second', async () => {
    const ctx = await browser.newContext({ viewport: VIEWS[0]!.viewport });
    const { page, errors } = await open(ctx);
    await page.goto(`${base}/app/twin?id=pump-3a`);
    await page.getByRole('heading', { name: /pump-3a/ }).waitFor();
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    const latest = page.getByLabel('Latest vibration', { exact: true });
    await latest.waitFor();
    const device = await mqtt.connectAsync(platform.runtime.mqttUrl, { clientId: 'web-test-device' });
    try {
      const t0 = Date.now();
      await device.publishAsync('twins/pump-3a/telemetry', JSON.stringify({ vibration: 42.4242 }), {
        qos: 1,
      });
      await expect.poll(() => latest.textContent(), { timeout: 5000, interval: 20 }).toBe('42.42');
      const ms = Date.now() - t0;
      expect(ms, `shown after ${ms} ms`).toBeLessThan(1000);
    } finally {
      await device.endAsync();
    }
    await shot(page, 'twin-live-laptop-light');
    // Zoom: dragging across a chart reads that range from history.
    const over = page.getByRole('img', { name: 'Chart of vibration', exact: true }).locator('.u-over');
    const bounds = (await over.boundingBox())!;
    await page.mouse.move(bounds.x + bounds.width * 0.5, bounds.y + bounds.height / 2);
    await page.mouse.down();
    await page.mouse.move(bounds.x + bounds.width * 0.95, bounds.y + bounds.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.getByText(/^History from/).waitFor();
    await page.getByRole('button', { name: 'Earlier' }).click(); // pan
    await page.getByRole('button', { name: 'Live' }).click();
    // A history range draws from the aggregate route; CSV of the shown range.
    await page.getByRole('button', { name: 'Last 30 days' }).click();
    await page.getByText(/^History from/).waitFor();
    // The chart drew the month (uPlot's draw hook stamps the span it drew on the element).
    const vibration = page.getByRole('img', { name: 'Chart of vibration', exact: true });
    await expect
      .poll(async () => Number(await vibration.getAttribute('data-drawn-span-s')))
      .toBeGreaterThan(29 * 86_400);
    expect(Number(await vibration.getAttribute('data-points'))).toBeGreaterThan(0);
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^pump-3a-.*\.csv$/);
    await shot(page, 'twin-history-laptop-light');
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('draws a forecast with its interval over a chart when asked, and not for a range in the past', async () => {
    // Six hours of a rising temperature of pump-3b, one point every 30 s, written into the history.
    const now = Date.now();
    const points = Array.from({ length: 720 }, (_, i) => ({
      workspace: 'default',
      twinId: 'pump-3b',
      path: 'temperature',
      kind: 'telemetry' as const,
      ts: now - 6 * 3_600_000 + i * 30_000,
      value: 40 + i * 0.01 + Math.sin(i / 10) * 0.2,
    }));
    await platform.storage.history.append(points);
    const ctx = await browser.newContext({ viewport: VIEWS[0]!.viewport });
    const { page, errors, urls } = await open(ctx);
    await page.goto(`${base}/app/twin?id=pump-3b`);
    await page.getByRole('button', { name: 'Last 24 h' }).click();
    await page.getByText(/^History from/).waitFor();
    // An on/off series is drawn from each bucket's last state (booleans have no average).
    await expect
      .poll(() => urls.some((u) => u.includes('/history?path=running&') && u.includes('fn=last')))
      .toBe(true);
    const running = (await (
      await fetch(
        `${base}/digitaltwins/pump-3b/history?path=running&from=${now - 3_600_000}&to=${Date.now()}&interval=1m&fn=last`,
      )
    ).json()) as { value: { count: number; last?: unknown }[] };
    expect(running.value.filter((b) => b.count > 0).every((b) => typeof b.last === 'boolean')).toBe(true);
    expect(running.value.some((b) => b.count > 0)).toBe(true);
    const chart = page.getByRole('img', { name: 'Chart of temperature', exact: true });
    await expect.poll(async () => Number(await chart.getAttribute('data-drawn-series'))).toBeGreaterThan(0);
    const before = Number(await chart.getAttribute('data-drawn-series')); // 2 with shadow mode's prediction
    const button = page.getByRole('button', { name: 'Forecast temperature' });
    await button.click();
    // The forecast and its two interval lines drawn over what was there.
    await expect
      .poll(async () => Number(await chart.getAttribute('data-drawn-series')), { timeout: 15_000 })
      .toBe(before + 3);
    expect(await button.getAttribute('aria-pressed')).toBe('true');
    await page.getByText(/dashed: forecast 6 h ahead, shaded: 95 % interval/).waitFor();
    await shot(page, 'twin-forecast-laptop-light');
    await button.click(); // off again
    await expect.poll(async () => Number(await chart.getAttribute('data-drawn-series'))).toBe(before);
    // A range that ends in the past: a forecast (which starts now) would not be on it.
    await page.getByRole('button', { name: 'Earlier' }).click();
    expect(await button.isDisabled()).toBe(true);
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it("sends a twin's command from its page and follows it to the device's answer; a wrong request is refused with the reason", async () => {
    // pump-1b's device is the simulator's (client id pump-1b, subscribed): it answers 200 / true.
    const before = platform.simulator?.stats().commands ?? 0;
    const ctx = await browser.newContext({ viewport: VIEWS[0]!.viewport });
    const { page, errors } = await open(ctx);
    try {
      await page.goto(`${base}/app/twin?id=pump-1b`);
      const commands = page.getByRole('region', { name: 'Commands' });
      const input = commands.getByLabel('setRunning: running (boolean)');
      await input.fill('false');
      await commands.getByRole('button', { name: 'Send setRunning' }).click();
      const table = page.getByRole('table', { name: 'Recent commands' });
      // Followed live to the simulated device's answer.
      await table.getByText('succeeded', { exact: true }).waitFor();
      await table.getByText(/queued .* → sent .* → succeeded/).waitFor();
      await table.getByText('true', { exact: true }).waitFor();
      expect(platform.simulator?.stats().commands).toBe(before + 1);
      // Not JSON: refused in the page; the wrong type: refused by the server with its reason.
      await input.fill('maybe');
      await commands.getByRole('button', { name: 'Send setRunning' }).click();
      await commands.getByText(/The request is not JSON: maybe/).waitFor();
      await input.fill('42');
      await commands.getByRole('button', { name: 'Send setRunning' }).click();
      await commands.getByText(/setRunning: .*does not match its schema/).waitFor();
      expect(platform.simulator?.stats().commands).toBe(before + 1); // neither refused request reached the device
      await shot(page, 'twin-commands-laptop-light');
      // The refused request's 400 is logged by Chromium as a failed load: the only error allowed.
      expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
      expect(errors.filter((e) => /status of 400/.test(e))).toHaveLength(1);
    } finally {
      await ctx.close();
    }
  });

  it('a query finds twins, the graph renders, and a wrong query shows where it is wrong', async () => {
    for (const v of VIEWS) {
      const ctx = await browser.newContext({ viewport: v.viewport, colorScheme: v.colorScheme });
      const { page, errors } = await open(ctx);
      await page.goto(`${base}/app/explorer`);
      const box = page.getByLabel('Query (ADT query language)');
      await box.fill("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:twinloop:pumpline:Pump;1')");
      await page.getByRole('button', { name: 'Run query' }).click();
      const table = page.getByRole('table', { name: 'Query results' });
      await table.getByRole('link', { name: 'pump-3c' }).waitFor();
      expect(await table.getByRole('row').count()).toBe(1 + 7); // header + the pilot's 7 pumps
      const graph = page.getByRole('img', { name: /Relationship graph: 7 twins/ });
      await graph.waitFor();
      // The pumps and what their relationships reach (lines, tanks): nodes and edges drawn on a canvas.
      await expect.poll(async () => Number(await graph.getAttribute('data-edges'))).toBeGreaterThan(7);
      expect(await graph.locator('canvas').count()).toBeGreaterThan(0);
      // Walking: from line-1 (reached by the pumps' relationships), its own (site, tank) join the graph.
      const edges = Number(await graph.getAttribute('data-edges'));
      await page.getByLabel('Walk from').selectOption('line-1');
      await expect.poll(async () => Number(await graph.getAttribute('data-edges'))).toBeGreaterThan(edges);
      await page.getByText(/Selected line-1/).waitFor();
      await shot(page, `explorer-${v.name}`);
      // The results scroll in their box: the page is never wider than the screen.
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(
        v.viewport.width,
      );

      await box.fill('SELECT * FROM DIGITALTWINS\nWHERE T.x = ');
      await page.getByRole('button', { name: 'Run query' }).click();
      await page.getByRole('alert').waitFor();
      expect(await page.getByRole('alert').textContent()).toMatch(/line 2, column \d+/);
      expect(await page.getByLabel('Where the query is wrong').textContent()).toContain('^');
      await shot(page, `explorer-error-${v.name}`);
      // A query error is the page's answer, not a console error; the failed request is the only one.
      expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
      await ctx.close();
    }
  });

  it('an alarm raised by a rule shows and can be acknowledged with a comment', async () => {
    const put = await fetch(`${base}/rules/web-test-vibration`, {
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
    const device = await mqtt.connectAsync(platform.runtime.mqttUrl, { clientId: 'web-test-alarm' });
    await device.publishAsync('twins/pump-1c/telemetry', JSON.stringify({ vibration: 99 }), { qos: 1 });
    await device.endAsync();

    const ctx = await browser.newContext({ viewport: VIEWS[0]!.viewport });
    const { page, errors } = await open(ctx);
    await page.goto(`${base}/app/alarms`);
    await page.getByLabel('Twin', { exact: true }).fill('pump-1c');
    await page.getByLabel('Your name').fill('e2e operator');
    const ack = page.getByRole('button', { name: /Acknowledge alarm on pump-1c: vibration 99/ });
    await ack.waitFor({ timeout: 10_000 });
    await shot(page, 'alarms-laptop-light');
    await ack.click();
    await page.getByLabel('Comment').fill('checked the bearing');
    await page.getByRole('button', { name: 'Acknowledge', exact: true }).click();
    await page.getByText('by e2e operator: “checked the bearing”').waitFor();
    const list = (await (await fetch(`${base}/alarms?twin=pump-1c&rule=web-test-vibration`)).json()) as {
      value: { state: string; acknowledged?: { by: string; comment?: string } }[];
    };
    expect(list.value[0]).toMatchObject({
      state: 'acknowledged',
      acknowledged: { by: 'e2e operator', comment: 'checked the bearing' },
    });
    await shot(page, 'alarms-acknowledged-laptop-light');
    // Clear it with a reason: it leaves the open alarms.
    await page.getByRole('button', { name: /Clear alarm on pump-1c: vibration 99/ }).click();
    await page.getByLabel('Reason').fill('bearing replaced');
    await page.getByRole('button', { name: 'Clear', exact: true }).click();
    await expect
      .poll(() => page.getByRole('button', { name: /alarm on pump-1c: vibration 99/ }).count())
      .toBe(0);
    const cleared = (await (await fetch(`${base}/alarms?twin=pump-1c&rule=web-test-vibration`)).json()) as {
      value: { state: string; cleared?: { by: string; reason?: string } }[];
    };
    expect(cleared.value[0]).toMatchObject({
      state: 'cleared',
      cleared: { by: 'e2e operator', reason: 'bearing replaced' },
    });
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('takes a hostile twin id as text: search finds it, its page shows it, nothing runs', async () => {
    const id = `<img src=x onerror=alert(1)>"'ü/..?#&q=%2e%2e`;
    const put = await fetch(`${base}/digitaltwins/${encodeURIComponent(id)}?api-version=2023-10-31`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ $metadata: { $model: 'dtmi:twinloop:pumpline:Tank;1' } }),
    });
    expect(put.status, await put.text()).toBe(200);
    const ctx = await browser.newContext({ viewport: VIEWS[0]!.viewport });
    const { page, errors } = await open(ctx);
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${base}/app/explorer`);
    await page.getByLabel('Twin id contains').fill('<img src=x');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('table', { name: 'Query results' }).getByRole('link', { name: id }).click();
    await page.getByRole('heading', { name: id }).waitFor();
    await page.getByRole('table', { name: 'Properties' }).or(page.getByText('No property set.')).waitFor();
    await shot(page, 'twin-hostile-id-laptop-light');
    expect(dialogs).toEqual([]);
    expect(await page.locator('img').count()).toBe(0);
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('the twin page and the alarms page on a tablet, dark, without console errors', async () => {
    const v = VIEWS[1]!;
    const ctx = await browser.newContext({ viewport: v.viewport, colorScheme: v.colorScheme });
    const { page, errors } = await open(ctx);
    await page.goto(`${base}/app/twin?id=tank-1`);
    await page.getByRole('heading', { name: /tank-1/ }).waitFor();
    await page.getByRole('table', { name: 'Properties' }).waitFor();
    await page.locator('.chart canvas').first().waitFor();
    await shot(page, `twin-${v.name}`);
    await page.getByRole('link', { name: 'Alarms', exact: true }).click();
    await page.getByRole('heading', { name: 'Alarms' }).waitFor();
    await page.getByRole('table', { name: 'Alarms' }).waitFor();
    await shot(page, `alarms-${v.name}`);
    // Nothing is wider than the screen.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(v.viewport.width);
    expect(errors).toEqual([]);
    await ctx.close();
  });
});

describe('the web app on a platform that needs a token', () => {
  let secured: Platform;
  let cleanupSecured: () => void;
  beforeAll(async () => {
    const d = tempDataDir('twinloop-web-auth-');
    cleanupSecured = d.cleanup;
    secured = await startTestPlatform(d.dir, { auth: 'on' });
  }, 60_000);
  afterAll(async () => {
    await secured?.stop();
    cleanupSecured?.();
  });

  it('asks for the token, keeps it in the tab, sends it as a header and never in a URL', async () => {
    const url = secured.runtime.httpUrl;
    const token = secured.token!;
    // The shell is public but holds no facts without the token; the JSON needs it.
    const shell = await (await fetch(`${url}/`)).text();
    expect(shell).not.toContain(secured.runtime.mqttUrl);
    expect((await fetch(`${url}/`, { headers: { accept: 'application/json' } })).status).toBe(401);

    const ctx = await browser.newContext({ viewport: VIEWS[0]!.viewport });
    const { page, errors, urls } = await open(ctx);
    await page.goto(`${url}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot(page, 'login-laptop-light');
    await page.getByLabel('Access token').fill('wrong-token-0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('The server refused that token.').waitFor();
    await page.getByLabel('Access token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: /overview/ }).waitFor();
    // The live stream connects with the token as a subprotocol.
    await page.goto(`${url}/app/twin?id=pump-1a`);
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    expect(await page.evaluate("sessionStorage.getItem('twinloop.token')")).toBe(token);
    expect(await page.evaluate("localStorage.getItem('twinloop.token')")).toBeNull();
    expect(urls.length).toBeGreaterThan(5);
    for (const u of urls) expect(u).not.toContain(token);
    // The refused token's 401s are the only console errors.
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    await ctx.close();
  });
});
