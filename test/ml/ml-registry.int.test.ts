/**
 * The ML model registry in a running platform (docs/ml-models.md): two models added through the
 * platform's registry (as training does), listed, compared, promoted and rolled back over HTTP and
 * with the `twinloop ml` CLI (which finds the server from the data folder), the change hook told of
 * every activation (what live inference reloads on), and the state kept across a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import type { MlModelChange, MlModelInput } from '../../src/analytics/ml/ml-model-registry.js';
import { cliFor } from '../cli/cli-runner.js';
import { httpCaller, type HttpCall } from '../support/http-call.js';
import { startTestPlatform, tempDataDir } from '../platform/platform-fixture.js';

const data = tempDataDir('twinloop-ml-');
let platform: Platform;
let call: HttpCall;
const changes: MlModelChange[] = [];

const spec = (window: number) => ({
  sensors: ['flow', 'pressure'],
  settings: [],
  window,
  cap: 125,
  regimes: 'auto' as const,
  validationFraction: 0.2,
  seed: 1,
});
const input = (target: string, window: number, rmse: number): MlModelInput => ({
  kind: 'rul',
  target,
  features: spec(window),
  metrics: {
    validationRmse: rmse,
    validationScore: rmse * 20,
    validationMethod: '5 random cut points per held-out asset',
    trainingAssets: 3,
    validationAssets: 1,
    trainingRows: 500,
    notes: [],
    trainingMs: 900,
  },
  trainingRange: { from: Date.now() - 86_400_000, to: Date.now(), assets: ['pump-1', 'pump-2'], rows: 500 },
  artefact: { format: 'twinloop-rul/1', spec: spec(window), model: { weights: [window, rmse] } },
});

let target: string;
const ids: string[] = [];

beforeAll(async () => {
  platform = await startTestPlatform(data.dir, { auth: 'on' });
  call = httpCaller(() => platform.runtime.httpUrl, platform.token!);
  target = platform.models.list()[0]!.id;
  platform.mlModels.onChange((c) => {
    changes.push(c);
  });
  ids.push((await platform.mlModels.add(input(target, 30, 15))).id);
  ids.push((await platform.mlModels.add(input(target, 40, 12))).id);
}, 60_000);

afterAll(async () => {
  await platform?.stop();
  data.cleanup();
});

describe('ML model registry in the platform', () => {
  it('stamps the running code version and lists over HTTP', async () => {
    const list = await call('GET', `/ml/models?target=${encodeURIComponent(target)}`);
    expect(list.status).toBe(200);
    expect(list.json.value!.map((m) => [m.id, m.version, m.status])).toEqual([
      [ids[1], 2, 'candidate'],
      [ids[0], 1, 'candidate'],
    ]);
    expect(list.json.value![0]!.codeVersion).toMatch(/^0\.1\.0(\+[0-9a-f]{12})?$/);
    expect(platform.httpRoutes).toContainEqual({ method: 'POST', url: '/ml/rollback' });
  });

  it('promotes and rolls back over HTTP, telling the change hook each time', async () => {
    expect((await call('POST', `/ml/models/${ids[0]}/promote`, { reason: 'baseline' })).status).toBe(200);
    const p2 = await call('POST', `/ml/models/${ids[1]}/promote`, {}, { 'twinloop-user': 'ana' });
    expect(p2.json).toMatchObject({
      model: { status: 'active' },
      previous: { id: ids[0], status: 'retired' },
    });
    expect((await platform.mlModels.active('rul', target))!.id).toBe(ids[1]);
    const back = await call('POST', '/ml/rollback', { target, reason: 'worse on live data' });
    expect(back.status).toBe(200);
    expect((await platform.mlModels.active('rul', target))!.id).toBe(ids[0]);
    expect(
      changes
        .filter((c) => c.type === 'activated')
        .map((c) => [c.action, c.version, c.previousVersion, c.by]),
    ).toEqual([
      ['promote', 1, undefined, 'anonymous'],
      ['promote', 2, 1, 'ana'],
      ['rollback', 1, 2, 'anonymous'],
    ]);
  });

  it('works from the CLI, which finds the server and token in the data folder', async () => {
    const cli = cliFor(data.dir);
    const list = await cli('ml', 'list', '--target', target, '--format', 'json');
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { status: string }[]).map((m) => m.status)).toEqual([
      'retired',
      'active',
    ]);
    const promote = await cli('ml', 'promote', ids[1]!, '--reason', 'retry', '--user', 'cli');
    expect(promote.stdout.trim()).toBe(`${ids[1]} (v2) is active; ${ids[0]} (v1) retired`);
    const back = await cli('ml', 'rollback', '--target', target);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain(`${ids[0]} (v1) is active again`);
    expect(changes.at(-1)).toMatchObject({ type: 'activated', action: 'rollback', modelId: ids[0] });
  }, 60_000);

  it('keeps models and the activation log across a restart', async () => {
    const before = (await call('GET', '/ml/activations')).json.value;
    await platform.stop();
    platform = await startTestPlatform(data.dir, { auth: 'on' });
    expect((await call('GET', '/ml/activations')).json.value).toEqual(before);
    expect((await platform.mlModels.active('rul', target))!.id).toBe(ids[0]);
    expect((await platform.mlModels.add(input(target, 50, 10))).version).toBe(3);
  }, 60_000);
});
