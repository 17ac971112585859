/**
 * IS_OF_MODEL through the whole platform (issue 8): POST /query and the live stream (query and
 * model subscriptions) use the model registry's rule — later versions of the model, and models
 * extending one of those, match; `exact` matches the model id only.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { API, startTestPlatform, tempDataDir, waitFor } from './platform-fixture.js';

const W1 = 'dtmi:twinloop:test:Widget;1';
const W2 = 'dtmi:twinloop:test:Widget;2';
const G1 = 'dtmi:twinloop:test:Gadget;1';
const iface = (id: string, ext?: string) => ({
  '@context': 'dtmi:dtdl:context;3',
  '@id': id,
  '@type': 'Interface',
  ...(ext && { extends: ext }),
  contents: ext ? [] : [{ '@type': 'Property', name: 'label', schema: 'string', writable: true }],
});

let platform: Platform;
const data = tempDataDir('twinloop-is-of-model-');

async function call(method: string, route: string, body: unknown, type = 'application/json') {
  const res = await fetch(`${platform.runtime.httpUrl}${route}?${API}`, {
    method,
    headers: { 'content-type': type },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

const ids = async (q: string): Promise<string[]> => {
  const r = await call('POST', '/query', { query: q });
  expect(r.status).toBe(200);
  return (r.body['value'] as { $dtId: string }[]).map((t) => t.$dtId).sort();
};

beforeAll(async () => {
  platform = await startTestPlatform(data.dir);
  expect((await call('POST', '/models', [iface(W1), iface(W2), iface(G1, W2)])).status).toBe(201);
  for (const [id, model] of [
    ['w1', W1],
    ['w2', W2],
    ['g1', G1],
  ] as const) {
    expect((await call('PUT', `/digitaltwins/${id}`, { $metadata: { $model: model } })).status).toBe(200);
  }
});

afterAll(async () => {
  await platform?.stop();
  data.cleanup();
});

describe('IS_OF_MODEL across the platform', () => {
  it('POST /query: later versions and models extending them; exact: the id only', async () => {
    expect(await ids(`SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('${W1}')`)).toEqual(['g1', 'w1', 'w2']);
    expect(await ids(`SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('${W2}')`)).toEqual(['g1', 'w2']);
    expect(await ids(`SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('${W1}', exact)`)).toEqual(['w1']);
    // Not an anchor (an OR): the condition is evaluated twin by twin, with the same rule.
    expect(await ids(`SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('${W1}') OR $dtId = 'none'`)).toEqual([
      'g1',
      'w1',
      'w2',
    ]);
  });

  it('the live stream: a query subscription and a model subscription select the same twins', async () => {
    const ws = new WebSocket(platform.runtime.liveUrl);
    const frames: {
      type?: string;
      id?: string;
      sub?: string;
      memberCount?: number;
      events?: { twinId: string }[];
    }[] = [];
    ws.on('message', (m) => frames.push(JSON.parse(String(m)) as (typeof frames)[number]));
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    try {
      ws.send(
        JSON.stringify({
          op: 'subscribe',
          id: 'q',
          query: `SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL('${W1}')`,
        }),
      );
      ws.send(JSON.stringify({ op: 'subscribe', id: 'm', model: W1, types: ['propertyChange'] }));
      ws.send(
        JSON.stringify({ op: 'subscribe', id: 'e', model: W1, exact: true, types: ['propertyChange'] }),
      );
      await waitFor('three subscriptions', () => frames.filter((f) => f.type === 'subscribed').length === 3);
      expect(frames.find((f) => f.id === 'q')?.memberCount).toBe(3);

      for (const id of ['w1', 'w2']) {
        const r = await call(
          'PATCH',
          `/digitaltwins/${id}`,
          [{ op: 'add', path: '/label', value: id }],
          'application/json-patch+json',
        );
        expect(r.status).toBe(204);
      }
      const got = (sub: string) =>
        frames.filter((f) => f.sub === sub).flatMap((f) => (f.events ?? []).map((e) => e.twinId));
      await waitFor('both changes on m', () => got('m').length >= 2);
      expect(got('m').sort()).toEqual(['w1', 'w2']);
      await waitFor('the change of w1 on e', () => got('e').length >= 1);
      expect(got('e')).toEqual(['w1']);
    } finally {
      ws.close();
    }
  });
});
