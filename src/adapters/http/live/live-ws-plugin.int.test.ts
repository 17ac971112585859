import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import fc from 'fast-check';
import { LiveEventBus } from '../../../core/live/live-events.js';
import type { LiveEvent } from '../../../core/live/live-events.js';
import { LiveHub } from '../../../core/live/live-hub.js';
import { TwinloopError } from '../../../core/errors/errors.js';
import { liveWsPlugin } from './live-ws-plugin.js';

const PUMP = 'dtmi:ex:Pump;1';
const BIG = 'dtmi:ex:BigPump;1';

type Msg = Record<string, unknown>;

/** A real ws client that keeps every frame and waits for the ones a test expects. */
class Client {
  readonly frames: Msg[] = [];
  private waiters: (() => void)[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      this.frames.push(JSON.parse(d.toString()) as Msg);
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static open(url: string, headers?: Record<string, string>): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      const c = new Client(ws);
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }
  send(m: unknown): void {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }
  async waitFor(pred: (m: Msg) => boolean, ms = 3000): Promise<Msg> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.frames.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`timed out; frames: ${JSON.stringify(this.frames)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  events(sub: string): Msg[] {
    return this.frames
      .filter((f) => f['sub'] === sub && Array.isArray(f['events']))
      .flatMap((f) => f['events'] as Msg[]);
  }
}

const tel = (twinId: string, values: Msg, modelId = PUMP): LiveEvent => ({
  type: 'telemetry',
  workspace: 'default',
  twinId,
  modelId,
  time: 1,
  values,
});

describe('live WebSocket plugin', () => {
  let app: FastifyInstance;
  let base: string;
  const bus = new LiveEventBus();
  const temps = new Map<string, number>([
    ['p1', 80],
    ['p2', 20],
  ]);
  const hub = new LiveHub({
    bus,
    isOfModel: (_w, m, b) => m === b || (m === BIG && b === PUMP),
    // Stands in for the query engine here: "temperature > 50"; the real engine has its own test.
    compileQuery: (_w, q) => {
      const at = q.indexOf('WHERE');
      if (at < 0)
        throw new TwinloopError('SqlQueryError', 'Expected WHERE', {
          problems: [{ code: 'query.syntax', message: 'Expected WHERE', line: 1, column: q.length + 1 }],
        });
      return {
        members: () => [...temps].filter(([, t]) => t > 50).map(([id]) => id),
        matches: (id) => (temps.get(id) ?? 0) > 50,
      };
    },
  });

  beforeAll(async () => {
    app = Fastify();
    await app.register(liveWsPlugin({ hub, maxMessageBytes: 2048 }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    base = url.replace('http', 'ws');
  });
  afterAll(async () => {
    hub.close();
    await app.close();
  });

  it('subscribes by ids and by model and receives the events, batched per publish', async () => {
    const c = await Client.open(`${base}/live`);
    c.send({ op: 'subscribe', id: 'ids', twinIds: ['p1'] });
    c.send({ op: 'subscribe', id: 'model', model: PUMP, types: ['telemetry'] });
    await c.waitFor((m) => m['type'] === 'subscribed' && m['id'] === 'model');
    bus.publish([tel('p1', { x: 1 }), tel('b1', { x: 2 }, BIG), tel('v1', { x: 3 }, 'dtmi:ex:Valve;1')]);
    await c.waitFor((m) => m['sub'] === 'model');
    await c.waitFor((m) => m['sub'] === 'ids');
    expect(c.events('ids').map((e) => e['twinId'])).toEqual(['p1']);
    expect(c.events('model').map((e) => e['twinId'])).toEqual(['p1', 'b1']);
    expect(c.frames.filter((f) => f['sub'] === 'model')).toHaveLength(1);
    c.send({ op: 'unsubscribe', id: 'ids' });
    await c.waitFor((m) => m['type'] === 'unsubscribed');
    c.ws.close();
  });

  it('subscribes by query: member count, then membership changes', async () => {
    const c = await Client.open(`${base}/live`);
    c.send({ op: 'subscribe', id: 'q', query: 'SELECT T FROM DIGITALTWINS T WHERE T.temperature > 50' });
    expect(await c.waitFor((m) => m['type'] === 'subscribed')).toEqual({
      type: 'subscribed',
      id: 'q',
      memberCount: 1,
    });
    temps.set('p2', 90);
    bus.publish([
      tel('p2', { x: 0 }), // not yet a member when published? membership is evaluated on the current graph
      {
        type: 'propertyChange',
        workspace: 'default',
        twinId: 'p2',
        modelId: PUMP,
        time: 2,
        patch: [{ op: 'replace', path: '/temperature', value: 90 }],
      },
    ]);
    await c.waitFor((m) => m['sub'] === 'q');
    const evs = c.events('q').map((e) => [e['type'], e['twinId']]);
    expect(evs).toContainEqual(['membership', 'p2']);
    expect(evs).toContainEqual(['propertyChange', 'p2']);
    c.ws.close();
  });

  it('answers bad messages with error frames and keeps the socket open', async () => {
    const c = await Client.open(`${base}/live`);
    c.send('{not json');
    c.send({ op: 'dance' });
    c.send({ op: 'subscribe', id: 'bad', query: 'SELECT T FROM DIGITALTWINS T' });
    c.send({ op: 'subscribe', id: 'x', model: 'not-a-dtmi', types: ['nope'] });
    c.send({ op: 'unsubscribe', id: 'never' });
    c.send({ op: 'subscribe', id: 'big', twinIds: ['a'.repeat(3000)] });
    c.send({ op: 'ping', id: 'still-there' });
    await c.waitFor((m) => m['type'] === 'pong');
    const errs = c.frames.filter((f) => f['type'] === 'error');
    expect(errs.map((e) => e['code'])).toEqual([
      'BadRequest',
      'BadRequest',
      'SqlQueryError',
      'BadRequest',
      'NotFound',
      'PayloadTooLarge',
    ]);
    expect(errs[0]!['message']).toMatch(/not valid JSON/);
    expect(errs[2]!['problems']).toEqual([expect.objectContaining({ line: 1, column: 29 })]);
    expect((errs[3]!['problems'] as Msg[]).map((p) => p['pointer'])).toEqual(['/model', '/types/0']);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.ws.close();
  });

  it('parses messages as untrusted JSON: hostile keys, deep nesting and 1e999 get error frames with pointers', async () => {
    const c = await Client.open(`${base}/live`);
    const sent: string[] = [];
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z]{1,5}$/), { maxLength: 4 }),
        fc.constantFrom('__proto__', 'constructor', 'prototype'),
        (path, key) => {
          let inner = `{"${key}":{"op":"ping"}}`;
          for (let i = path.length - 1; i >= 0; i--) inner = `{"${path[i]}":${inner}}`;
          sent.push(`{"op":"subscribe","id":"h${sent.length}",${inner.slice(1)}`);
        },
      ),
      { numRuns: 20 },
    );
    for (const m of sent) c.send(m);
    c.send('['.repeat(600) + ']'.repeat(600));
    c.send('{"op":"ping","id":1e999}');
    // (a text frame that is not UTF-8 never reaches the plugin: ws closes the socket with 1007, as RFC 6455 says)
    c.send({ op: 'ping', id: 'after' });
    await c.waitFor((m) => m['type'] === 'pong' && m['id'] === 'after');
    const errs = c.frames.filter((f) => f['type'] === 'error');
    expect(errs).toHaveLength(sent.length + 2);
    expect(errs.every((e) => e['code'] === 'BadRequest')).toBe(true);
    const codes = errs.map((e) => ((e['problems'] as Msg[])[0] as Msg)['code']);
    expect(codes.slice(0, sent.length).every((x) => x === 'json.key.forbidden')).toBe(true);
    expect(codes.slice(sent.length)).toEqual(['json.depth', 'json.number.range']);
    expect(c.frames.filter((f) => f['type'] === 'subscribed')).toEqual([]);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.ws.close();
  });
  it('property: any text message gets exactly one answer, never InternalError, and the socket stays open', async () => {
    const c = await Client.open(`${base}/live`);
    const hostile = fc
      .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.jsonValue({ maxDepth: 2 }))
      .map(([k, v]) => `{"op":"subscribe","id":"x","${k}":${JSON.stringify(v)}}`);
    const message = fc.oneof(
      fc.json({ maxDepth: 3 }),
      fc.string({ maxLength: 40 }),
      hostile,
      fc.integer({ min: 33, max: 900 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
      fc.constantFrom(
        '{"op":"ping","id":1e999}',
        '{"op":"subscribe","id":"t","twinIds":[1e999]}',
        '{"op":"unsubscribe"}',
      ),
    );
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 6 }), async (msgs) => {
        const start = c.frames.length;
        const marker = `end-${round++}`;
        for (const m of msgs) c.send(m);
        c.send({ op: 'ping', id: marker });
        await c.waitFor((f) => f['type'] === 'pong' && f['id'] === marker);
        const answers = c.frames.slice(start).filter((f) => f['type'] !== 'events');
        expect(answers).toHaveLength(msgs.length + 1);
        expect(answers.some((f) => f['code'] === 'InternalError')).toBe(false);
        expect(c.ws.readyState).toBe(WebSocket.OPEN);
        // leave no subscription behind, and let its answer arrive before the next round counts
        for (const f of answers.filter((a) => a['type'] === 'subscribed')) {
          const id = f['id'];
          c.send({ op: 'unsubscribe', id });
          await c.waitFor((g) => g['type'] === 'unsubscribed' && g['id'] === id);
        }
      }),
      { numRuns: 40 },
    );
    c.ws.close();
  });
});

describe('live WebSocket plugin with a subscriber that stops reading', () => {
  it('keeps publish fast, coalesces per twin, then delivers a dropped notice and the latest values', async () => {
    const bus = new LiveEventBus();
    const hub = new LiveHub({ bus, isOfModel: (_w, m, b) => m === b, limits: { highWaterBytes: 64 * 1024 } });
    const app = Fastify();
    await app.register(liveWsPlugin({ hub }));
    const base = (await app.listen({ port: 0, host: '127.0.0.1' })).replace('http', 'ws');
    try {
      const c = await Client.open(`${base}/live`);
      c.send({ op: 'subscribe', id: 'all', model: PUMP });
      await c.waitFor((m) => m['type'] === 'subscribed');
      // Stop reading: the kernel buffers fill, then the server's ws bufferedAmount grows.
      const raw = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      raw.pause();
      const pad = 'x'.repeat(200);
      let publishMs = 0;
      let seq = 0;
      for (let round = 0; round < 60 && hub.stats().coalesced === 0; round++) {
        const t0 = performance.now();
        for (let i = 0; i < 500; i++) bus.publish([tel(`p${seq % 5}`, { seq: seq++, pad })]);
        publishMs = Math.max(publishMs, performance.now() - t0);
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(hub.stats().coalesced).toBeGreaterThan(0);
      expect(hub.stats().behindSessions).toBe(1);
      expect(publishMs).toBeLessThan(250); // 500 publishes only append to the hub's inbox
      const lastSeq = seq - 1;
      raw.resume();
      const notice = await c.waitFor((m) => m['type'] === 'dropped', 10_000);
      expect(notice['coalesced']).toBeGreaterThan(0);
      // Eventually the newest reading of each twin arrives, the very last one included.
      await c.waitFor(
        () =>
          c.frames.some((f) =>
            (f['events'] as Msg[] | undefined)?.some((e) => (e['values'] as Msg)['seq'] === lastSeq),
          ),
        10_000,
      );
      const received = c.frames.flatMap((f) => (f['events'] as Msg[] | undefined) ?? []).length;
      expect(received).toBeLessThan(seq); // fewer frames than events: coalescing happened
      c.ws.close();
    } finally {
      hub.close();
      await app.close();
    }
  });
});

describe('live WebSocket plugin with a token', () => {
  let app: FastifyInstance;
  let base: string;
  const bus = new LiveEventBus();
  const hub = new LiveHub({ bus, isOfModel: (_w, m, b) => m === b });

  beforeAll(async () => {
    app = Fastify();
    await app.register(liveWsPlugin({ hub, token: 's3cret' }));
    base = (await app.listen({ port: 0, host: '127.0.0.1' })).replace('http', 'ws');
  });
  afterAll(async () => {
    hub.close();
    await app.close();
  });

  it('refuses a connection without the token or with a wrong one', async () => {
    await expect(Client.open(`${base}/live`)).rejects.toThrow('HTTP 401');
    await expect(Client.open(`${base}/live?token=nope`)).rejects.toThrow('HTTP 401');
    await expect(Client.open(`${base}/live`, { authorization: 'Bearer s3cretX' })).rejects.toThrow(
      'HTTP 401',
    );
  });

  it('accepts the token as a bearer header or a query parameter', async () => {
    for (const c of [
      await Client.open(`${base}/live`, { authorization: 'Bearer s3cret' }),
      await Client.open(`${base}/live?token=s3cret`),
    ]) {
      c.send({ op: 'subscribe', id: 's', twinIds: ['t1'] });
      await c.waitFor((m) => m['type'] === 'subscribed');
      bus.publish([{ type: 'twinCreated', workspace: 'default', twinId: 't1', modelId: PUMP, time: 1 }]);
      expect((await c.waitFor((m) => m['sub'] === 's'))['events']).toEqual([
        expect.objectContaining({ type: 'twinCreated', twinId: 't1' }),
      ]);
      c.ws.close();
    }
  });
});

describe('live WebSocket plugin with many subscribers, some paused', () => {
  it('shares one bounded channel: readers get every event in order, paused ones cost at most the bound, then catch up', async () => {
    const bus = new LiveEventBus();
    const maxChannelBytes = 32 * 1024;
    const hub = new LiveHub({
      bus,
      isOfModel: (_w, m, b) => m === b,
      limits: { highWaterBytes: 16 * 1024, maxChannelBytes },
    });
    const app = Fastify();
    await app.register(liveWsPlugin({ hub }));
    const base = (await app.listen({ port: 0, host: '127.0.0.1' })).replace('http', 'ws');
    try {
      const clients = await Promise.all(Array.from({ length: 6 }, () => Client.open(`${base}/live`)));
      clients.forEach((c, i) => c.send({ op: 'subscribe', id: `all-${i}`, model: PUMP }));
      for (const c of clients) await c.waitFor((m) => m['type'] === 'subscribed');
      expect(hub.stats()).toMatchObject({ subscriptions: 6, channels: 1 });
      const [reader, ...paused] = clients as [Client, ...Client[]];
      const sockets = paused.map(
        (c) => (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket,
      );
      for (const s of sockets) s.pause();
      const pad = 'y'.repeat(300);
      let seq = 0;
      let maxHeld = 0;
      for (let round = 0; round < 100 && hub.stats().coalesced === 0; round++) {
        for (let i = 0; i < 200; i++) bus.publish([tel(`p${seq % 7}`, { seq: seq++, pad })]);
        await new Promise((r) => setTimeout(r, 15));
        maxHeld = Math.max(maxHeld, hub.stats().channelBytes);
      }
      expect(hub.stats().coalesced).toBeGreaterThan(0); // the paused ones lagged
      // What the server holds for them is bounded by the channel's bound (plus one drain's chunk).
      expect(maxHeld).toBeLessThan(maxChannelBytes + 200 * 400);
      const last = seq - 1;
      await reader.waitFor(
        () => reader.events('all-0').some((e) => (e['values'] as Msg)['seq'] === last),
        10_000,
      );
      // The reader that kept up got every event, in order, without a notice.
      expect(reader.events('all-0').map((e) => (e['values'] as Msg)['seq'])).toEqual(
        Array.from({ length: seq }, (_, i) => i),
      );
      expect(reader.frames.some((f) => f['type'] === 'dropped')).toBe(false);
      for (const s of sockets) s.resume();
      for (const [k, c] of paused.entries()) {
        const notice = await c.waitFor((m) => m['type'] === 'dropped', 10_000);
        expect(notice).toMatchObject({ sub: `all-${k + 1}`, overflowed: 0 });
        await c.waitFor(
          () => c.events(`all-${k + 1}`).some((e) => (e['values'] as Msg)['seq'] === last),
          10_000,
        );
      }
      for (const c of clients) c.ws.close();
    } finally {
      hub.close();
      await app.close();
    }
  });
});
