// The twin page's device side end to end (issue 12): Debian's Chromium (playwright-core) against a
// real platform with the pump-line pilot, the app as built into dist/web. The device's presence and
// reported values (stored by the platform's DeviceStateService, as the control inbox stores them)
// show on pump-1a's page: the connection state, and per writable property the reported value beside
// the desired one with a pending mark until they agree; a presence change arrives live.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir } from '../platform/platform-fixture.js';
import { launchBrowser, open, shot, VIEWS } from './browser-harness.js';

let platform: Platform;
let cleanup: () => void;
let browser: Browser;
let base: string;

beforeAll(async () => {
  const d = tempDataDir('twinloop-web-device-');
  cleanup = d.cleanup;
  [platform, browser] = await Promise.all([startTestPlatform(d.dir), launchBrowser()]);
  base = platform.runtime.httpUrl;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  cleanup?.();
});

const report = (values: Record<string, unknown>) =>
  platform.deviceState.reported('pump-1a', {
    topic: 'twins/pump-1a/reported',
    payload: Buffer.from(JSON.stringify(values)),
    receivedAt: Date.now(),
  });

describe('the twin page shows the device side', () => {
  it('connection, reported vs desired with a pending mark, updated live', async () => {
    const twin = platform.graph.getTwin('pump-1a')!;
    const desired = twin.contents.flowSetpoint as number;
    const limit = twin.contents.vibrationLimit as number;
    await platform.deviceState.presence('pump-1a', 'connected', Date.now() - 60_000, 'broker');
    // flowSetpoint applied; vibrationLimit not (the device still has an older value)
    await report({ flowSetpoint: desired, vibrationLimit: limit + 1 });

    const ctx = await browser.newContext({
      viewport: VIEWS[0]!.viewport,
      colorScheme: VIEWS[0]!.colorScheme,
    });
    const { page, errors } = await open(ctx);
    await page.goto(`${base}/app/twin?id=pump-1a`);
    const conn = page.getByLabel('Device connection');
    await conn.waitFor();
    expect(await conn.textContent()).toMatch(/Device connected since .* last seen/);

    const table = page.getByRole('table', { name: 'Properties' });
    const row = (name: string) =>
      table.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });
    const cells = async (name: string) =>
      (await row(name).getByRole('cell').allTextContents()).map((s) => s.trim());
    const flow = await cells('flowSetpoint');
    expect(flow[0]).toContain(String(desired));
    expect(flow[1]).not.toMatch(/pending/i);
    const vib = await cells('vibrationLimit');
    expect(vib[0]).toContain(String(limit + 1)); // reported
    expect(vib[1]).toMatch(new RegExp(`${limit}.*pending`, 'i')); // desired, pending
    await shot(page, 'twin-device-state-laptop-light');

    // live: the device disconnects, then reports the desired value: the page follows without a reload
    await platform.deviceState.presence('pump-1a', 'disconnected', Date.now(), 'broker');
    await page.getByLabel('Device connection').filter({ hasText: 'disconnected' }).waitFor({ timeout: 5000 });
    await report({ vibrationLimit: limit });
    await row('vibrationLimit')
      .getByRole('cell')
      .nth(1)
      .filter({ hasNotText: /pending/i })
      .waitFor({ timeout: 5000 });
    expect((await cells('vibrationLimit'))[0]).toContain(String(limit));
    await shot(page, 'twin-device-state-converged-laptop-light');
    expect(errors).toEqual([]);
    await ctx.close();
  }, 60_000);
});
