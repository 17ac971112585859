/**
 * End to end against the machine's NATS (NATS_URL): an endpoint and routes declared in the config,
 * telemetry sent over ADT's route arrives on the subject as microsoft.iot.telemetry CloudEvents
 * (journaled with the history commit because a route wants telemetry), twin changes too.
 */
import { connect, StringCodec, type NatsConnection, type Subscription } from 'nats';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliLayer, resolveConfig } from '../../src/app/config.js';
import { startPlatform, type Platform } from '../../src/app/platform.js';
import { API, tempDataDir } from '../platform/platform-fixture.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const subject = `twinloop.e2e.${Date.now().toString(36)}`;
const data = tempDataDir('twinloop-routes-nats-');
let p: Platform;
let nc: NatsConnection;
let sub: Subscription;
const got: Record<string, unknown>[] = [];

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL });
  sub = nc.subscribe(subject);
  const sc = StringCodec();
  void (async () => {
    for await (const m of sub) got.push(JSON.parse(sc.decode(m.data)) as Record<string, unknown>);
  })();
  await nc.flush();
  const config = resolveConfig([
    cliLayer({ data: data.dir, httpPort: '0', mqttPort: '0', logLevel: 'silent', sim: 'off', shadow: 'off' }),
    {
      eventRoutes: {
        natsUrl: NATS_URL,
        source: 'twins.nats.test',
        endpoints: [{ name: 'bus', type: 'nats', subject }],
        routes: [
          {
            id: 'telemetry',
            endpointName: 'bus',
            filter: "type = 'microsoft.iot.telemetry' AND $body.flow >= 10",
          },
          { id: 'updates', endpointName: 'bus', filter: "type = 'Microsoft.DigitalTwins.Twin.Update'" },
        ],
      },
    },
  ]);
  p = await startPlatform(config, { logger: pino({ level: 'silent' }), banner: false });
}, 60_000);

afterAll(async () => {
  await p?.stop();
  await nc?.drain();
  data.cleanup();
});

async function until(ok: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

describe('event routes to NATS (machine NATS)', () => {
  it('routes telemetry (by $body) and twin changes to a subject', async () => {
    expect(p.eventRoutes.service.wantsTelemetry()).toBe(true);
    for (const flow of [5, 12, 20]) {
      const res = await fetch(`${p.runtime.httpUrl}/digitaltwins/pump-1a/telemetry?${API}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'message-id': `m-${flow}` },
        body: JSON.stringify({ flow }),
      });
      expect(res.status).toBe(204);
    }
    await p.twins.update('pump-1a', [{ op: 'add', path: '/serialNumber', value: 'N-1' }]);
    await until(() => got.length >= 3);
    const telemetry = got.filter((e) => e.type === 'microsoft.iot.telemetry');
    expect(telemetry.map((e) => (e.data as { flow: number }).flow)).toEqual([12, 20]);
    expect(telemetry[0]).toMatchObject({
      specversion: '1.0',
      source: 'twins.nats.test/digitaltwins/pump-1a',
      dataschema: expect.stringMatching(/^dtmi:/) as unknown,
    });
    expect(got.find((e) => e.type === 'Microsoft.DigitalTwins.Twin.Update')).toMatchObject({
      subject: 'pump-1a',
      data: { patch: [{ op: 'add', path: '/serialNumber', value: 'N-1' }] },
    });
  });
});
