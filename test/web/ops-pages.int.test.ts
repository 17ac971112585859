// The dead letters, models and what-if pages end to end: Debian's Chromium (playwright-core) against
// a real platform with the pump-line pilot (simulator on), the app as built into dist/web. A reading
// for a twin that does not exist yet is rejected over MQTT, shown with its reason and payload, and
// re-ingested from the page once the twin exists; a model upload with an error shows it at its line;
// a what-if run started from pump-3a's page answers in words. Screenshots in both views.
import mqtt from 'mqtt';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir } from '../platform/platform-fixture.js';
import { launchBrowser, open, shot, VIEWS } from './browser-harness.js';

let platform: Platform;
let cleanup: () => void;
let browser: Browser;
let base: string;
/** The what-if run started by the test (screenshots in the other view open it). */
let runId: string | undefined;

beforeAll(async () => {
  const d = tempDataDir('twinloop-web-ops-');
  cleanup = d.cleanup;
  [platform, browser] = await Promise.all([startTestPlatform(d.dir, { sim: 'on' }), launchBrowser()]);
  base = platform.runtime.httpUrl;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  cleanup?.();
});

async function publish(topic: string, payload: string | Buffer): Promise<void> {
  const device = await mqtt.connectAsync(platform.runtime.mqttUrl, { clientId: 'web-ops-device' });
  await device.publishAsync(topic, payload, { qos: 1 });
  await device.endAsync();
}

/** A console error from a request the page expected to fail (the page shows the answer). */
const expectedFailure = (e: string) => /status of (400|404|409)/.test(e);

const BAD_MODEL = `{
  "@id": "dtmi:webtest:Valve;1",
  "@type": "Interface",
  "@context": "dtmi:dtdl:context;3",
  "contents": [
    { "@type": "Telemetry", "name": "position", "schema": "double" },
    { "@type": "Property", "name": "bad name!", "schema": "double" }
  ]
}`;

describe('the operations pages on a running platform', () => {
  it('shows a rejected MQTT reading with its reason and payload, and re-ingests it once the twin exists', async () => {
    await publish('twins/pump-9z/telemetry', '{"vibration": 2.5}');
    // Bad UTF-8 holding markup: shown as text, never as HTML.
    await publish(
      'twins/pump-1a/telemetry',
      Buffer.concat([
        Buffer.from('{"vibration": "<b id=injected>x</b>'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}'),
      ]),
    );
    const ctx = await browser.newContext({
      viewport: VIEWS[0]!.viewport,
      colorScheme: VIEWS[0]!.colorScheme,
    });
    const { page, errors } = await open(ctx);
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: /^Dead letters: [1-9]/ }).click();
    await page.getByRole('heading', { name: 'Dead letters', exact: true }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/app/deadletters');

    const letter = page.locator('li.letter').filter({ hasText: 'twins/pump-9z/telemetry' });
    await letter.waitFor({ timeout: 10_000 });
    expect(await letter.textContent()).toMatch(/DigitalTwinNotFound/);
    expect(await letter.textContent()).toMatch(/pump-9z/);
    const label = await letter.getAttribute('aria-label');
    const id = /^Dead letter (\d+)$/.exec(label ?? '')?.[1];
    expect(id).toBeDefined();
    expect(await page.getByLabel(`Payload of dead letter ${id}`).textContent()).toBe('{"vibration": 2.5}');

    const bad = page.locator('li.letter').filter({ hasText: 'not valid UTF-8' });
    await bad.waitFor();
    expect(await bad.textContent()).toContain('<b id=injected>x</b>');
    expect(await bad.textContent()).toMatch(/ff fe/);
    expect(await page.locator('#injected').count()).toBe(0);

    // Filter by twin: only pump-9z's letter; the filter is in the URL.
    await page.getByLabel('Twin', { exact: true }).fill('pump-9z');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('li.letter').filter({ hasText: 'not valid UTF-8' }).count()).toBe(0);
    expect(new URL(page.url()).searchParams.get('twin')).toBe('pump-9z');
    await shot(page, `deadletters-${VIEWS[0]!.name}`);

    // Still no twin: refused again, kept as a new letter with the reason.
    await page.getByRole('button', { name: `Re-ingest dead letter ${id}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /refused again/ })
      .waitFor();
    expect(
      await page
        .getByRole('status')
        .filter({ hasText: /refused again/ })
        .textContent(),
    ).toMatch(/DigitalTwinNotFound/);

    // Fix the cause: the twin exists now. The kept letter is re-ingested and its reading is in history.
    const put = await fetch(`${base}/digitaltwins/pump-9z`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        $metadata: { $model: 'dtmi:twinloop:pumpline:Pump;1' },
        motor: { $metadata: {} },
      }),
    });
    expect(put.status, await put.text()).toBeLessThan(300);
    const again = page.locator('li.letter').filter({ hasText: 'twins/pump-9z/telemetry' });
    await again.waitFor();
    const id2 = /^Dead letter (\d+)$/.exec((await again.getAttribute('aria-label')) ?? '')?.[1];
    expect(Number(id2)).toBeGreaterThan(Number(id));
    await page.getByRole('button', { name: `Re-ingest dead letter ${id2}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Dead letter ${id2} re-ingested: 1 reading stored` })
      .waitFor();
    await expect
      .poll(() => page.locator('li.letter').filter({ hasText: 'twins/pump-9z/telemetry' }).count())
      .toBe(0);
    const history = (await (
      await fetch(`${base}/digitaltwins/pump-9z/history?path=vibration&from=${Date.now() - 3600_000}`)
    ).json()) as { value: { value: number }[] };
    expect(history.value.map((p) => p.value)).toEqual([2.5]);
    // The same letter again (a second tab): it is gone, nothing is stored twice.
    const twice = await fetch(`${base}/deadletters/${id2}/reingest`, { method: 'POST' });
    expect(twice.status).toBe(404);
    await shot(page, `deadletters-reingested-${VIEWS[0]!.name}`);
    expect(errors.filter((e) => !expectedFailure(e))).toEqual([]);
    await ctx.close();
  });

  it('shows a model upload error at its line and column, then uploads the fixed model', async () => {
    const ctx = await browser.newContext({
      viewport: VIEWS[0]!.viewport,
      colorScheme: VIEWS[0]!.colorScheme,
    });
    const { page, errors } = await open(ctx);
    await page.goto(`${base}/`);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Models' }).click();
    await page
      .getByRole('table', { name: 'Models' })
      .getByRole('link', { name: 'dtmi:twinloop:pumpline:Pump;1' })
      .click();
    await page.getByLabel('DTDL of dtmi:twinloop:pumpline:Pump;1').waitFor();
    expect(await page.getByLabel('DTDL of dtmi:twinloop:pumpline:Pump;1').textContent()).toContain(
      '"vibration"',
    );
    await page.getByText(/\d+ twins? of exactly this model/).waitFor();

    await page.getByLabel(/DTDL text/).fill(BAD_MODEL);
    await page.getByRole('button', { name: 'Upload' }).click();
    const alert = page.getByRole('alert', { name: 'Upload problems' });
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/line 7, column \d+: .*name/);
    await shot(page, `models-error-${VIEWS[0]!.name}`);

    // A JSON syntax error is found before anything is sent, at its place.
    await page.getByLabel(/DTDL text/).fill('{\n  "@id": "dtmi:webtest:Valve;1",\n  "contents": [,]\n}');
    await page.getByRole('button', { name: 'Upload' }).click();
    await expect.poll(async () => alert.textContent()).toMatch(/line 3, column 16: JSON syntax error/);

    await page.getByLabel(/DTDL text/).fill(BAD_MODEL.replace('bad name!', 'opening'));
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.getByRole('status').filter({ hasText: 'Uploaded dtmi:webtest:Valve;1' }).waitFor();
    await page.getByLabel('DTDL of dtmi:webtest:Valve;1').waitFor();
    expect(new URL(page.url()).searchParams.get('id')).toBe('dtmi:webtest:Valve;1');

    // Delete asks first; keeping it changes nothing.
    await page.getByRole('button', { name: 'Delete dtmi:webtest:Valve;1' }).click();
    await page.getByRole('button', { name: 'Keep it' }).click();
    expect((await fetch(`${base}/models/${encodeURIComponent('dtmi:webtest:Valve;1')}`)).status).toBe(200);
    await page.getByRole('button', { name: 'Delete dtmi:webtest:Valve;1' }).click();
    await page.getByRole('button', { name: 'Yes, delete' }).click();
    await expect
      .poll(async () => (await fetch(`${base}/models/${encodeURIComponent('dtmi:webtest:Valve;1')}`)).status)
      .toBe(404);
    expect(errors.filter((e) => !expectedFailure(e))).toEqual([]);
    await ctx.close();
  });

  it('starts a what-if run from pump-3a and shows its answer in words, its trajectories and the run', async () => {
    const ctx = await browser.newContext({
      viewport: VIEWS[0]!.viewport,
      colorScheme: VIEWS[0]!.colorScheme,
    });
    const { page, errors } = await open(ctx);
    await page.goto(`${base}/app/twin?id=pump-3a`);
    await page.getByRole('link', { name: 'What if… (simulate pump-3a ahead)' }).click();
    await page.getByRole('form', { name: 'Start a what-if run' }).waitFor();
    expect(await page.getByLabel('Twin', { exact: true }).inputValue()).toBe('pump-3a');
    await page.getByLabel('Simulate').selectOption('twin');
    await page.getByLabel('Horizon').fill('24h');
    await page.getByLabel('Fault', { exact: true }).fill('bearingDamage');
    await page.getByLabel('Fault at').fill('0');
    await page.getByRole('button', { name: 'Run what-if' }).click();

    const answer = page.getByRole('status', { name: 'Answer' });
    await answer.waitFor({ timeout: 60_000 }).catch(async (e: unknown) => {
      throw new Error(`no answer: ${await page.locator('main').textContent()}`, { cause: e });
    });
    const sentence = (await answer.textContent()) ?? '';
    expect(sentence).toMatch(
      /^pump-3a crosses its vibrationLimit \(> 7\.1( mm\/s)?\) in \d+(\.\d+)? (s|min|h|d)/,
    );
    runId = new URL(page.url()).searchParams.get('run') ?? undefined;
    expect(runId).toBeTruthy();
    // The same answer as the server's (the CLI's words, computed once).
    const server = (await (await fetch(`${base}/simulations/${runId}/answer`)).json()) as {
      sentence: string;
    };
    expect(sentence).toBe(server.sentence);
    await page.getByRole('table', { name: 'Limits checked' }).waitFor();
    const chart = page.getByRole('img', { name: 'Chart of pump-3a vibration' });
    await chart.waitFor();
    await expect.poll(async () => Number(await chart.getAttribute('data-points'))).toBeGreaterThan(100);
    const runs = page.getByRole('table', { name: 'Recent runs' });
    await runs.getByText('succeeded').first().waitFor();

    // A long run shows its progress and can be cancelled.
    await page.getByLabel('Horizon').fill('300d');
    await page.getByLabel('Fault', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Run what-if' }).click();
    const cancel = page.getByRole('region', { name: /Run / }).getByRole('button', { name: /^Cancel run/ });
    await cancel.waitFor();
    await cancel.click();
    await page.getByRole('region', { name: /cancelled/ }).waitFor();
    await shot(page, `simulation-cancelled-${VIEWS[0]!.name}`);
    await page.goto(`${base}/app/simulation?twin=pump-3a&run=${encodeURIComponent(runId!)}`);
    await answer.waitFor();
    await chart.waitFor();
    await shot(page, `simulation-${VIEWS[0]!.name}`);
    expect(errors.filter((e) => !expectedFailure(e))).toEqual([]);
    await ctx.close();
  }, 120_000);

  it('draws the three pages in the other view without console errors', async () => {
    const v = VIEWS[1]!;
    const ctx = await browser.newContext({ viewport: v.viewport, colorScheme: v.colorScheme });
    const { page, errors } = await open(ctx);
    await page.goto(`${base}/app/deadletters`);
    await page.getByRole('list', { name: 'Dead letters' }).getByRole('listitem').first().waitFor();
    await shot(page, `deadletters-${v.name}`);
    await page.goto(`${base}/app/models?id=${encodeURIComponent('dtmi:twinloop:pumpline:Pump;1')}`);
    await page.getByLabel('DTDL of dtmi:twinloop:pumpline:Pump;1').waitFor();
    await shot(page, `models-${v.name}`);
    await page.goto(`${base}/app/simulation?twin=pump-3a${runId ? `&run=${encodeURIComponent(runId)}` : ''}`);
    if (runId) await page.getByRole('status', { name: 'Answer' }).waitFor();
    await page.getByRole('table', { name: 'Recent runs' }).waitFor();
    await shot(page, `simulation-${v.name}`);
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
