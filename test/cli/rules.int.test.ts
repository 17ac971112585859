/**
 * `twinloop rules …` against a running platform started on the pump-line pilot: its rule files are
 * loaded at the first start; list, put, show, backtest, delete through the CLI.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir } from '../platform/platform-fixture.js';
import { cliFor } from './cli-runner.js';

const data = tempDataDir('twinloop-cli-rules-');
const cli = cliFor(data.dir);
let p: Platform;

beforeAll(async () => {
  p = await startTestPlatform(data.dir);
}, 60_000);

afterAll(async () => {
  await p?.stop();
  data.cleanup();
});

describe('twinloop rules', () => {
  it('lists the pilot rules, puts, shows, backtests and deletes a rule', async () => {
    const list = await cli('rules', 'list', '--format', 'json');
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { value: { id: string }[] }).value.map((r) => r.id)).toContain(
      'pump-vibration-high',
    );

    const file = path.join(data.dir, 'hot.yaml');
    writeFileSync(
      file,
      `id: hot\nappliesTo: { model: 'dtmi:twinloop:pumpline:Pump;1' }\nseverity: minor\ncondition: { threshold: { telemetry: temperature, above: 500 } }\nmessage: hot\n`,
    );
    expect(await cli('rules', 'put', file)).toMatchObject({
      code: 0,
      stdout: 'rule hot: version 1 (created)\n',
    });
    expect(await cli('rules', 'put', file)).toMatchObject({
      code: 0,
      stdout: 'rule hot: version 1 (unchanged)\n',
    });
    const show = await cli('rules', 'show', 'hot');
    expect(JSON.parse(show.stdout)).toMatchObject({ id: 'hot', version: 1 });

    const bt = await cli('rules', 'backtest', 'hot', '--twin', 'pump-1a', '--last', '1h', '--format', 'json');
    expect(bt.code, bt.stderr).toBe(0);
    expect(JSON.parse(bt.stdout)).toMatchObject({
      count: 0,
      summary: 'would not have fired in the last hour',
    });

    expect(await cli('rules', 'delete', 'hot')).toMatchObject({ code: 0, stdout: 'deleted rule hot\n' });
    const gone = await cli('rules', 'show', 'hot');
    expect(gone.code).not.toBe(0);
  }, 60_000);
});
