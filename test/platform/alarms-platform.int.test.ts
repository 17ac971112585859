/**
 * Alarms in the running platform: a raise through the platform's alarm service (the rules engine's
 * sink) reaches a WebSocket subscriber that asked for alarms of the twin's model, is listed by
 * GET /alarms and acknowledged by POST /alarms/{id}/ack, and is still there after a restart.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir } from './platform-fixture.js';

const data = tempDataDir('twinloop-alarms-');
let p: Platform;

beforeAll(async () => {
  p = await startTestPlatform(data.dir);
}, 60_000);
afterAll(async () => {
  await p?.stop();
  data.cleanup();
});

describe('alarms in the platform', () => {
  it('raise → live stream (model subscription) → GET /alarms → ack, kept across a restart', async () => {
    const twin = p.graph.allTwins()[Symbol.iterator]().next().value!;
    const base = p.runtime.httpUrl;
    const ws = new WebSocket(`${p.runtime.liveUrl}`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const frames: { type?: string; events?: { type: string; twinId: string; transition?: string }[] }[] = [];
    ws.on('message', (d: Buffer) => frames.push(JSON.parse(d.toString()) as never));
    ws.send(JSON.stringify({ op: 'subscribe', id: 'a', model: twin.modelId, exact: true, types: ['alarm'] }));
    for (let i = 0; i < 100 && !frames.some((f) => f.type === 'subscribed'); i++)
      await new Promise((r) => setTimeout(r, 20));

    p.alarms.raise({
      workspace: 'default',
      twinId: twin.id,
      ruleId: 'test-rule',
      ruleVersion: 1,
      severity: 'warning',
      message: 'test alarm',
      time: Date.now(),
    });
    await p.alarms.flush();
    const alarmEvents = () => frames.flatMap((f) => f.events ?? []).filter((e) => e.type === 'alarm');
    for (let i = 0; i < 100 && alarmEvents().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    ws.close();
    expect(alarmEvents()).toMatchObject([{ twinId: twin.id, transition: 'raised' }]);

    const list = (await (await fetch(`${base}/alarms?twin=${encodeURIComponent(twin.id)}`)).json()) as {
      value: { id: string; state: string }[];
    };
    expect(list.value).toHaveLength(1);
    const id = list.value[0]!.id;
    const ack = await fetch(`${base}/alarms/${id}/ack`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'twinloop-user': 'ops' },
      body: JSON.stringify({ comment: 'checking' }),
    });
    expect(ack.status).toBe(200);

    await p.stop();
    p = await startTestPlatform(data.dir);
    const again = (await (await fetch(`${p.runtime.httpUrl}/alarms/${id}`)).json()) as Record<
      string,
      unknown
    >;
    expect(again).toMatchObject({ state: 'acknowledged', acknowledged: { by: 'ops', comment: 'checking' } });
  }, 60_000);
});
