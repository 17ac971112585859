// The reproduction, end to end on a started platform (pump-line pilot): a JSON Patch through
// /__proto__ used to answer 204, put an unvalidated value in the desired state sent to the device and
// write a "__proto__" history series; telemetry {"__proto__": …} used to be acknowledged with zero
// readings. Now both are refused with their reasons, and the telemetry is dead-lettered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir } from '../platform/platform-fixture.js';

let platform: Platform;
let cleanup: () => void;
let base: string;

beforeAll(async () => {
  const d = tempDataDir('twinloop-edge-keys-');
  cleanup = d.cleanup;
  platform = await startTestPlatform(d.dir);
  base = platform.runtime.httpUrl;
}, 60_000);

afterAll(async () => {
  await platform.stop();
  cleanup();
});

const send = (method: string, path: string, body: string, type = 'application/json') =>
  fetch(`${base}${path}`, { method, headers: { 'content-type': type }, body });

describe('hostile keys on a started platform', () => {
  it('a patch through /__proto__ is refused; desired state and history are untouched', async () => {
    const before = (await (await fetch(`${base}/digitaltwins/pump-1a/desired`)).json()) as {
      desired: unknown;
    };
    const r = await send(
      'PATCH',
      '/digitaltwins/pump-1a',
      '[{"op":"add","path":"/__proto__","value":{"flowSetpoint":"full blast","vibrationLimit":-1}}]',
      'application/json-patch+json',
    );
    expect(r.status).toBe(400);
    const body = (await r.json()) as {
      error: { code: string; details: { code: string; pointer: string }[] };
    };
    expect(body.error.code).toBe('JsonPatchInvalid');
    expect(body.error.details[0]).toMatchObject({ code: 'patch.path.forbidden', pointer: '/0/path' });
    const after = (await (await fetch(`${base}/digitaltwins/pump-1a/desired`)).json()) as {
      desired: unknown;
    };
    expect(after.desired).toEqual(before.desired);
    expect(platform.control.desiredState('pump-1a').desired).not.toHaveProperty('flowSetpoint', 'full blast');
    const series = (await platform.storage.history.listSeries('default', 'pump-1a')).map((s) => s.path);
    expect(series).not.toContain('__proto__');
  });

  it('a PUT body with a nested __proto__ is refused with its pointer', async () => {
    const r = await send(
      'PUT',
      '/digitaltwins/pump-9',
      '{"$metadata":{"$model":"dtmi:twinloop:pumpline:Pump;1"},"motor":{"$metadata":{}},"maintenance":{"__proto__":{"operatingHours":"lots"}}}',
    );
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: { details: { code: string; pointer: string }[] } };
    expect(body.error.details[0]).toMatchObject({
      code: 'json.key.forbidden',
      pointer: '/maintenance/__proto__',
    });
    expect(platform.graph.getTwin('pump-9')).toBeUndefined();
  });

  it('telemetry with a __proto__ key is dead-lettered with its reason, not acknowledged', async () => {
    const r = await send('POST', '/digitaltwins/pump-1a/telemetry', '{"__proto__":{"temperature":99}}');
    expect(r.status).toBe(400);
    const letters = (await (await fetch(`${base}/deadletters?limit=1`)).json()) as {
      value: { code: string; reason: string; problems: { code: string; pointer: string }[] }[];
    };
    expect(letters.value[0]).toMatchObject({ code: 'InvalidTelemetry' });
    expect(letters.value[0]!.problems[0]).toMatchObject({
      code: 'json.key.forbidden',
      pointer: '/__proto__',
    });
  });
});
