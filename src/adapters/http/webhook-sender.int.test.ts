/**
 * The webhook sender against a real HTTP receiver (node:http on a port from the OS): one event per
 * request in structured and binary mode, CloudEvents batches when maxEventsPerBatch is above 1,
 * and the statuses that make a failure permanent.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEndpoint } from '../../core/events/endpoint-spec.js';
import { DeliveryFailure, type CloudEvent } from '../../core/ports/event-routing.js';
import { WebhookSender } from './webhook-sender.js';

interface Got {
  headers: IncomingMessage['headers'];
  body: string;
}

const event = (n: number): CloudEvent => ({
  specversion: '1.0',
  id: `e${n}`,
  source: 'twinloop.test',
  type: 'Microsoft.DigitalTwins.Twin.Update',
  subject: `twin-${n}`,
  time: new Date(0).toISOString(),
  datacontenttype: 'application/json',
  data: { n },
});

describe('WebhookSender', () => {
  let server: Server;
  let url: string;
  const got: Got[] = [];
  let status = 200;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        got.push({ headers: req.headers, body });
        res.statusCode = status;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('posts a batch as application/cloudevents-batch+json, a JSON array in order', async () => {
    got.length = 0;
    const s = new WebhookSender({ url, mode: 'structured', maxEventsPerBatch: 3 });
    expect(s.maxBatch).toBe(3);
    await s.sendBatch([event(1), event(2), event(3)]);
    await s.close();
    expect(got).toHaveLength(1);
    expect(got[0]!.headers['content-type']).toBe('application/cloudevents-batch+json; charset=utf-8');
    expect((JSON.parse(got[0]!.body) as CloudEvent[]).map((e) => e.id)).toEqual(['e1', 'e2', 'e3']);
  });

  it('one event per request by default (structured) and in binary mode, which never batches', async () => {
    got.length = 0;
    const structured = new WebhookSender({ url, mode: 'structured' });
    expect(structured.maxBatch).toBe(1);
    await structured.send(event(1));
    const binary = new WebhookSender({ url, mode: 'binary', maxEventsPerBatch: 50 });
    expect(binary.maxBatch).toBe(1);
    await binary.send(event(2));
    await Promise.all([structured.close(), binary.close()]);
    expect(got[0]!.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    expect((JSON.parse(got[0]!.body) as CloudEvent).id).toBe('e1');
    expect(got[1]!.headers['ce-id']).toBe('e2');
    expect(JSON.parse(got[1]!.body)).toEqual({ n: 2 });
  });

  it('a refused batch is a permanent failure on 400/413, a retryable one on 503', async () => {
    const s = new WebhookSender({ url, mode: 'structured', maxEventsPerBatch: 10 });
    try {
      status = 400;
      const refused = await s.sendBatch([event(1)]).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(DeliveryFailure);
      expect((refused as DeliveryFailure).permanent).toBe(true);
      status = 503;
      const busy = await s.sendBatch([event(1)]).catch((e: unknown) => e);
      expect((busy as DeliveryFailure).permanent).toBe(false);
    } finally {
      status = 200;
      await s.close();
    }
  });

  it('maxEventsPerBatch is checked: whole number 1..1000, structured mode only, hostile values refused', () => {
    const ok = checkEndpoint({ type: 'webhook', url, maxEventsPerBatch: 100 });
    expect('spec' in ok && ok.spec).toMatchObject({ maxEventsPerBatch: 100 });
    for (const bad of [0, -1, 1.5, 1001, '10', null, { __proto__: 1 }, Number.NaN, 1e300]) {
      const r = checkEndpoint({ type: 'webhook', url, maxEventsPerBatch: bad });
      expect('problems' in r && r.problems.map((p) => p.pointer)).toEqual(['/maxEventsPerBatch']);
    }
    const binary = checkEndpoint({ type: 'webhook', url, mode: 'binary', maxEventsPerBatch: 5 });
    expect('problems' in binary && binary.problems[0]?.message).toMatch(/structured mode only/);
  });
});
