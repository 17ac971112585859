/**
 * Event-route delivery from several nodes of a cluster on one PostgreSQL schema (the machine's
 * server): each node composes event routing as `twinloop start` does, all over one outbox, to one
 * real webhook. Checked: every event is delivered exactly once and in order per twin while two
 * nodes run; when the delivering node stops, another delivers within seconds; when it dies (its
 * database gone, no release), another takes over once its lease expires.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collapseRepeats, RouteReceiver } from '../../test/routes/route-receiver.js';
import { openPgStorage, type PgStorage } from '../adapters/postgres/pg-storage.js';
import { dropSchema, freshSchemaName, pgTestUrl } from '../adapters/postgres/pg-test-fixture.js';
import type { OutboxRow } from '../core/ports/event-routing.js';
import { defaultConfig } from './config.js';
import { createEventRouting, type EventRouting } from './event-routing.js';

const schema = freshSchemaName();
const receiver = new RouteReceiver();
interface Node {
  storage: PgStorage;
  routing: EventRouting;
  metrics: Registry;
}
const open: Node[] = [];
const TWINS = 8;

async function startNode(): Promise<Node> {
  const storage = await openPgStorage({ url: pgTestUrl(), schema, poolSize: 4 });
  const metrics = new Registry();
  const routing = await createEventRouting({
    config: {
      ...defaultConfig().eventRoutes,
      endpoints: [{ name: 'hook', type: 'webhook', url: receiver.url }],
      routes: [{ id: 'all', endpointName: 'hook', filter: 'true' }],
      initialBackoffMs: 20,
      maxBackoffMs: 200,
    },
    storage,
    metrics,
    logger: pino({ level: 'silent' }),
    isComponent: () => false,
    lease: { ttlMs: 1500, everyMs: 200 },
  });
  routing.start();
  const node = { storage, routing, metrics };
  open.push(node);
  return node;
}

let next = 0;
/**
 * Commits `perTwin` events for each of `twins` through a node's outbox (one transaction per round,
 * one after the other: the numbers of one twin's events follow its commit order).
 */
async function write(storage: PgStorage, perTwin: number, twins: readonly number[]): Promise<void> {
  for (let k = 0; k < perTwin; k++) {
    const rows: OutboxRow[] = twins.map((t) => {
      const n = next++;
      const twinId = `twin-${t}`;
      return {
        endpoint: 'hook',
        orderKey: twinId,
        created: Date.now(),
        event: {
          id: `e${n}`,
          type: 'test.event',
          source: 'test',
          time: Date.now(),
          data: { n, twinId },
          twinId,
        },
      };
    });
    await storage.db.transaction((c) => storage.outbox.insertRows(c, rows));
  }
}
const ALL = [...Array(TWINS).keys()];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ok: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
  return Date.now() - t0;
}

const ids = () => receiver.events.map((e) => String(e.body.id));
/** The `n` of each twin's events in the order they arrived. */
function perTwin(): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const e of receiver.events) {
    const { n, twinId } = e.body.data as { n: number; twinId: string };
    m.set(twinId, [...(m.get(twinId) ?? []), n]);
  }
  return m;
}
const ascending = (xs: number[]) => xs.every((x, i) => i === 0 || xs[i - 1]! < x);

beforeAll(async () => {
  await receiver.up();
});

afterAll(async () => {
  for (const n of open.reverse()) {
    await n.routing.stop().catch(() => undefined);
    await n.storage.close().catch(() => undefined);
  }
  await receiver.down();
  await dropSchema(schema);
});

describe('event-route delivery with several nodes on one schema', () => {
  it('delivers every event once, in order per twin; another node takes over on stop and on death', async () => {
    const a = await startNode();
    const b = await startNode();
    // ---- both nodes write; one delivers
    // Both nodes write at once (each its own twins: one writer per twin keeps their numbers in commit order).
    await Promise.all([write(a.storage, 15, [0, 1, 2, 3]), write(b.storage, 15, [4, 5, 6, 7])]);
    let total = next;
    await until('every event delivered', () => new Set(ids()).size === total, 20_000);
    await sleep(1500); // a second delivery loop would deliver them again meanwhile
    expect(ids()).toHaveLength(total);
    expect([...perTwin().values()].every(ascending)).toBe(true);
    expect([a, b].filter((n) => n.routing.delivering())).toHaveLength(1);
    const gauge = async (n: { metrics: Registry }) =>
      (await n.metrics.getSingleMetric('twinloop_route_delivering')!.get()).values[0]?.value;
    expect((await Promise.all([a, b].map(gauge))).sort()).toEqual([0, 1]);

    // ---- the delivering node stops (releases its lease): the other one delivers at once
    const [first, second] = a.routing.delivering() ? [a, b] : [b, a];
    await first.routing.stop();
    await first.storage.close();
    open.splice(open.indexOf(first), 1);
    await write(second.storage, 5, ALL);
    total = next;
    const handover = await until('delivered after a stop', () => new Set(ids()).size === total, 10_000);
    expect(handover).toBeLessThan(3000);
    expect(second.routing.delivering()).toBe(true);
    await sleep(500);
    expect(ids()).toHaveLength(total);

    // ---- a third node joins; the delivering one dies (its database connection gone, no release)
    const third = await startNode();
    await sleep(500);
    expect(third.routing.delivering()).toBe(false);
    await second.storage.close();
    await write(third.storage, 5, ALL);
    total = next;
    const takeover = await until('delivered after a death', () => new Set(ids()).size === total, 15_000);
    expect(takeover).toBeLessThan(6000);
    expect(third.routing.delivering()).toBe(true);
    await until('the dead node stopped delivering', () => !second.routing.delivering(), 5000);
    // At least once across a death; each twin's events still in order.
    expect([...perTwin().values()].map(collapseRepeats).every(ascending)).toBe(true);
    expect(new Set(ids()).size).toBe(total);
  });
});
