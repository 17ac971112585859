/**
 * The official @azure/digital-twins-core SDK's event-route methods (upsertEventRoute,
 * getEventRoute, listEventRoutes, deleteEventRoute) against a whole Twinloop over HTTPS with a
 * bearer token; the route it creates delivers to a real local webhook.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliLayer, resolveConfig } from '../../src/app/config.js';
import { startPlatform, type Platform } from '../../src/app/platform.js';
import { tempDataDir, waitFor } from '../platform/platform-fixture.js';
import { makeSelfSignedCertificate } from '../support/tls-certificate.js';
import { RouteReceiver } from './route-receiver.js';

const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const data = tempDataDir('twinloop-routes-sdk-');
const receiver = new RouteReceiver();
let p: Platform;

beforeAll(async () => {
  await receiver.up();
  const { cert, key } = makeSelfSignedCertificate(data.dir);
  const config = resolveConfig([
    cliLayer({
      data: join(data.dir, 'data'),
      httpPort: '0',
      mqttPort: '0',
      logLevel: 'silent',
      sim: 'off',
      shadow: 'off',
      tlsCert: cert,
      tlsKey: key,
      auth: 'on',
    }),
    { eventRoutes: { endpoints: [{ name: 'hook', type: 'webhook', url: receiver.url }] } },
  ]);
  p = await startPlatform(config, { logger: pino({ level: 'silent' }), banner: false });
}, 60_000);

afterAll(async () => {
  await p?.stop();
  await receiver.down();
  data.cleanup();
});

describe('event routes with the official SDK over HTTPS', () => {
  it('upsertEventRoute, getEventRoute, listEventRoutes and deleteEventRoute work unchanged', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', join(here, 'routes-sdk-scenario.ts'), p.runtime.httpUrl, p.token!],
      {
        cwd: root,
        env: { ...process.env, NODE_EXTRA_CA_CERTS: join(data.dir, 'cert.pem') },
        timeout: 60_000,
      },
    );
    const o = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(o.upsert).toBe('ok');
    expect(o.upsert2).toBe('ok');
    expect(o.got).toEqual({
      id: 'sdk-route-1',
      endpointName: 'hook',
      filter: "type = 'Microsoft.DigitalTwins.Twin.Create'",
    });
    expect(o.listed).toEqual(['sdk-route-1', 'sdk-route-2']);
    expect(o.pages).toBe(2);
    expect(o.badFilter).toEqual([400, 'EventRouteFilterInvalid']);
    expect(o.badEndpoint).toEqual([400, 'EventRouteEndpointInvalid']);
    expect(o.delete).toBe('ok');
    expect(o.getDeleted).toEqual([404, 'EventRouteNotFound']);
    expect(o.deleteAgain).toEqual([404, 'EventRouteNotFound']);

    // The route the SDK made delivers.
    await p.twins.createOrReplace('sdk-made', {
      $metadata: { $model: p.graph.getTwin('pump-1a')!.modelId },
      motor: { $metadata: {} },
    });
    await waitFor('the create event', () => receiver.events.some((e) => e.body.subject === 'sdk-made'));
    expect(receiver.events.find((e) => e.body.subject === 'sdk-made')!.body).toMatchObject({
      type: 'Microsoft.DigitalTwins.Twin.Create',
      data: { $dtId: 'sdk-made' },
    });
  }, 90_000);
});
