// What every browser test of the web app shares: pages that record console errors, the views
// (laptop light, tablet dark), the accessible-name check, and screenshots to test-artifacts/web/.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHOTS = path.join(root, 'test-artifacts', 'web');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Debian's Chromium, after checking the app is built and the browser is there (clear errors if not).
 * `webgl`: keep WebGL on software rendering (SwiftShader; headless Chromium has no GPU), for the 3D
 * scene page. Only the tests that draw 3D ask for it: the other pages' timings stay as they were.
 */
export async function launchBrowser(options: { webgl?: boolean } = {}): Promise<Browser> {
  if (!existsSync(path.join(root, 'dist/web/index.html')))
    throw new Error('The web app is not built: run `npm run build` (npm install does it).');
  if (!existsSync(CHROMIUM))
    throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH).`);
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      ...(options.webgl ? ['--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'] : []),
    ],
  });
}

/** A page that records console errors and failed requests; `errors` must stay empty. */
export async function open(ctx: BrowserContext): Promise<{ page: Page; errors: string[]; urls: string[] }> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  const urls: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => urls.push(r.url()));
  page.on('websocket', (ws) => urls.push(ws.url()));
  return { page, errors, urls };
}

export const VIEWS = [
  { name: 'laptop-light', viewport: { width: 1366, height: 850 }, colorScheme: 'light' as const },
  { name: 'tablet-dark', viewport: { width: 820, height: 1180 }, colorScheme: 'dark' as const },
];

const CONTROL_ROLES = new Set([
  'button',
  'link',
  'textbox',
  'combobox',
  'checkbox',
  'radio',
  'slider',
  'spinbutton',
  'searchbox',
  'switch',
  'tab',
  'menuitem',
]);

/** Controls without an accessible name, as Chromium's accessibility tree computes names. */
export async function unnamedControls(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as {
    nodes: {
      ignored?: boolean;
      role?: { value?: string };
      name?: { value?: string };
      backendDOMNodeId?: number;
    }[];
  };
  await cdp.detach();
  return nodes
    .filter(
      (n) => !n.ignored && CONTROL_ROLES.has(String(n.role?.value)) && !String(n.name?.value ?? '').trim(),
    )
    .map((n) => `${n.role?.value} #${n.backendDOMNodeId}`);
}

/** A screenshot of the whole page, after checking that every control on it has a name. */
export async function shot(page: Page, name: string): Promise<void> {
  expect(await unnamedControls(page), `controls without a name on ${name}`).toEqual([]);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}
