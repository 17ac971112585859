/**
 * Starts a whole Twinloop platform for a test: a temp data folder, OS-chosen ports, the pump-line
 * pilot, logs silenced. Used by the end-to-end and crash tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { cliLayer, resolveConfig, type CliConfigOptions, type ConfigLayer } from '../../src/app/config.js';
import { startPlatform, type Platform } from '../../src/app/platform.js';

export function tempDataDir(prefix = 'twinloop-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A test's config: a data folder, OS-chosen ports, logs silenced, sim and shadow off; `more` on top. */
export function testConfig(dataDir: string, cli: CliConfigOptions = {}, more: ConfigLayer = {}) {
  return resolveConfig([
    // sim and shadow off: these tests assert exact telemetry values and counters; simulated pumps and
    // shadow residuals would add to them.
    cliLayer({
      data: dataDir,
      httpPort: '0',
      mqttPort: '0',
      logLevel: 'silent',
      sim: 'off',
      shadow: 'off',
      ...cli,
    }),
    more,
  ]);
}

export async function startTestPlatform(
  dataDir: string,
  cli: CliConfigOptions = {},
  more: ConfigLayer = {},
): Promise<Platform> {
  return startPlatform(testConfig(dataDir, cli, more), {
    logger: pino({ level: process.env.TL_TEST_LOG ?? 'silent' }),
    banner: false,
  });
}

export const API = 'api-version=2023-10-31';

/** Polls `ok` every 50 ms until it holds; throws naming `what` after `ms` (default 15 s). */
export async function waitFor(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
