/**
 * The history group commit while PostgreSQL is unreachable (a TCP proxy the test cuts, never the
 * machine's server): appends wait and are committed by themselves once it returns, exactly once;
 * retries back off; the buffer is capped (ServiceUnavailable beyond it); one outage event at each
 * end; a failure that is not "unreachable" still fails its waiters; close() never hangs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import type { OutboxRow } from '../../core/ports/event-routing.js';
import type { HistoryPoint } from '../../core/ports/storage-ports.js';
import { hostPort, startTcpProxy, viaProxy, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import { openPgDatabase, type PgDatabase } from './pg-database.js';
import { PG_DEAD_LETTER_MIGRATIONS, PgDeadLetterStore } from './pg-dead-letter-store.js';
import {
  PG_HISTORY_MIGRATIONS,
  PgHistoryStore,
  type PgHistoryCommitInfo,
  type PgHistoryOutageEvent,
  type PgHistoryStoreOptions,
} from './pg-history-store.js';
import { openPgStorage } from './pg-storage.js';
import { dropSchema, freshSchemaName, pgTestUrl } from './pg-test-fixture.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Fixture {
  proxy: TcpProxy;
  db: PgDatabase;
  store: PgHistoryStore;
  commits: PgHistoryCommitInfo[];
  outages: PgHistoryOutageEvent[];
  /** Rows of a twin's series, read directly (not through the proxy). */
  count(twinId: string): Promise<number>;
}

async function open(options: PgHistoryStoreOptions = {}): Promise<Fixture> {
  const proxy = await startTcpProxy(hostPort(pgTestUrl(), 5432));
  const schema = freshSchemaName();
  const db = await openPgDatabase({
    url: viaProxy(pgTestUrl(), proxy),
    schema,
    migrations: [PG_HISTORY_MIGRATIONS],
    connectTimeoutMs: 1000,
    poolSize: 4,
    onIdleError: () => undefined,
  });
  const direct = await openPgDatabase({ url: pgTestUrl(), schema, poolSize: 1 });
  const commits: PgHistoryCommitInfo[] = [];
  const outages: PgHistoryOutageEvent[] = [];
  const store = await PgHistoryStore.open(db, {
    retryMinMs: 50,
    retryMaxMs: 200,
    ...options,
    onCommit: (i) => commits.push(i),
    onOutage: (e) => outages.push(e),
  });
  cleanups.push(async () => {
    proxy.restore();
    await store.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    await direct.close();
    await proxy.close();
    await dropSchema(schema);
  });
  return {
    proxy,
    db,
    store,
    commits,
    outages,
    async count(twinId) {
      const r = await direct.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM history_points p JOIN history_series s ON s.id = p.series_id
          WHERE s.twin_id = $1`,
        [twinId],
      );
      return r.rows[0]!.n;
    },
  };
}

function points(twinId: string, from: number, n: number, once = false): HistoryPoint[] {
  return Array.from({ length: n }, (_, i) => ({
    workspace: 'default',
    twinId,
    path: 'temperature',
    kind: 'telemetry' as const,
    ts: 1_700_000_000_000 + (from + i) * 1000,
    value: from + i,
    ...(once ? { once: true } : {}),
  }));
}

/** Settles within `ms`? ('pending' when not). */
async function state(p: Promise<unknown>, ms = 0): Promise<'resolved' | 'rejected' | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    p.then(
      () => 'resolved' as const,
      () => 'rejected' as const,
    ),
    new Promise<'pending'>((res) => (timer = setTimeout(() => res('pending'), ms))),
  ]);
  clearTimeout(timer);
  return r;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PostgreSQL history while the server is unreachable', () => {
  it('keeps appends waiting through a cut, retries with backoff, and commits them exactly once after it', async () => {
    const f = await open();
    await f.store.append(points('pump-1', 0, 5, true)); // series known, pool warm
    f.proxy.cut();
    const a = f.store.append(points('pump-1', 5, 10, true));
    const b = f.store.append(points('pump-1', 15, 10)); // no source time
    await sleep(1500);
    expect(await state(a)).toBe('pending'); // not failed: waiting until durable
    expect(await state(b)).toBe('pending');
    expect(f.store.bufferedPoints).toBe(20);
    expect(f.store.unreachableSince?.reason).toMatch(/unreachable/);
    const failed = f.commits.filter((c) => c.failed).length;
    // 50, 100, 200, 200, ... ms apart: ~8 attempts in 1.5 s (a busy loop would make hundreds).
    expect(failed).toBeGreaterThanOrEqual(3);
    expect(failed).toBeLessThanOrEqual(15);
    expect(f.outages).toHaveLength(1);
    expect(f.outages[0]).toMatchObject({ state: 'started', reason: expect.stringMatching(/unreachable/) });

    const restored = Date.now();
    f.proxy.restore();
    await Promise.all([a, b]);
    const resumeMs = Date.now() - restored;
    expect(resumeMs).toBeLessThan(2000); // at most one backoff (200 ms) plus the commit
    expect(await f.count('pump-1')).toBe(25);
    expect(f.outages).toHaveLength(2);
    expect(f.outages[1]).toMatchObject({ state: 'ended', points: 20, attempts: failed });
    expect((f.outages[1] as { ms: number }).ms).toBeGreaterThanOrEqual(1400);
    expect(f.store.bufferedPoints).toBe(0);
    expect(f.store.unreachableSince).toBeUndefined();
    // A resend of the once points (the device did not get its PUBACK) stores nothing twice.
    await f.store.append(points('pump-1', 5, 10, true));
    expect(await f.count('pump-1')).toBe(25);
  });

  it('refuses appends beyond the buffer cap with ServiceUnavailable, keeping those it took', async () => {
    const f = await open({ maxBufferedPoints: 10 });
    await f.store.append(points('pump-2', 0, 1));
    f.proxy.cut();
    const kept = f.store.append(points('pump-2', 1, 8));
    await sleep(200);
    const refused = f.store.append(points('pump-2', 9, 5));
    await expect(refused).rejects.toMatchObject({
      code: 'ServiceUnavailable',
      message: expect.stringMatching(
        /paused: PostgreSQL is unreachable since .* 8 points already wait \(limit 10\)/,
      ),
      details: { retryAfterSeconds: 5 },
    });
    const fits = f.store.append(points('pump-2', 14, 2)); // 8 + 2 = the cap: taken
    expect(await state(kept, 300)).toBe('pending');
    f.proxy.restore();
    await Promise.all([kept, fits]);
    expect(await f.count('pump-2')).toBe(11);
  });

  it('a failure that is not "unreachable" still fails its waiters at once, with no outage', async () => {
    let fail = true;
    const f = await open({
      inCommit: async (c) => {
        if (fail) await c.query('SELECT 1 / 0'); // division_by_zero: a real server-side error
      },
    });
    const e = await f.store.append(points('pump-3', 0, 3)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TwinloopError);
    expect(e).toMatchObject({ code: 'StorageError', message: expect.stringMatching(/22012/) });
    expect(f.outages).toHaveLength(0);
    expect(f.store.bufferedPoints).toBe(0);
    fail = false;
    await f.store.append(points('pump-3', 0, 3));
    expect(await f.count('pump-3')).toBe(3);
  });

  it('close() during an outage fails what still waits (StorageError) instead of hanging', async () => {
    const f = await open({ retryMinMs: 5000, retryMaxMs: 5000 });
    await f.store.append(points('pump-4', 0, 1));
    f.proxy.cut();
    const waiting = f.store.append(points('pump-4', 1, 3));
    await sleep(200);
    const t0 = Date.now();
    await f.store.close();
    await expect(waiting).rejects.toMatchObject({ code: 'StorageError' });
    expect(Date.now() - t0).toBeLessThan(3000); // woke from the 5 s backoff
  });
});

describe('PostgreSQL dead letters while the server is unreachable', () => {
  it('keep add() waiting through a cut and commit the letters once after it; beyond maxQueued add() is refused', async () => {
    const proxy = await startTcpProxy(hostPort(pgTestUrl(), 5432));
    const schema = freshSchemaName();
    const db = await openPgDatabase({
      url: viaProxy(pgTestUrl(), proxy),
      schema,
      migrations: [PG_DEAD_LETTER_MIGRATIONS],
      connectTimeoutMs: 1000,
      poolSize: 2,
      onIdleError: () => undefined,
    });
    const letters = new PgDeadLetterStore(db, { maxQueued: 2, retryMinMs: 50, retryMaxMs: 200 });
    cleanups.push(async () => {
      proxy.restore();
      await letters.flush().catch(() => undefined);
      await db.close().catch(() => undefined);
      await proxy.close();
      await dropSchema(schema);
    });
    const letter = (n: number) => ({
      workspace: 'default',
      time: Date.now(),
      source: 'mqtt',
      payload: Buffer.from(`{"bad": ${n}`),
      code: 'InvalidTelemetry',
      reason: `letter ${n}`,
    });
    await letters.add([letter(0)]);
    proxy.cut();
    const waiting = letters.add([letter(1), letter(2)]);
    await expect(letters.add([letter(3)])).rejects.toMatchObject({ code: 'ServiceUnavailable' });
    expect(await state(waiting, 800)).toBe('pending');
    proxy.restore();
    await waiting;
    const listed = await letters.list({ workspace: 'default', limit: 10 });
    expect(listed.map((l) => l.reason).sort()).toEqual(['letter 0', 'letter 1', 'letter 2']);
  });
});

describe('PostgreSQL storage while the server is unreachable', () => {
  it('keeps the events for routes with the points they belong to, and commits both after the cut', async () => {
    const proxy = await startTcpProxy(hostPort(pgTestUrl(), 5432));
    const schema = freshSchemaName();
    const storage = await openPgStorage({
      url: viaProxy(pgTestUrl(), proxy),
      schema,
      connectTimeoutMs: 1000,
      poolSize: 4,
      history: { retryMinMs: 50, retryMaxMs: 200 },
      onIdleError: () => undefined,
    });
    cleanups.push(async () => {
      proxy.restore();
      await storage.close().catch(() => undefined);
      await proxy.close();
      await dropSchema(schema);
    });
    const event = (n: number): OutboxRow => ({
      endpoint: 'hook',
      orderKey: 'pump-9',
      created: Date.now(),
      event: {
        id: `00000000-0000-4000-8000-00000000000${n}`,
        type: 'Microsoft.DigitalTwins.Telemetry',
        source: 'twinloop',
        time: Date.now(),
        data: { temperature: n },
        twinId: 'pump-9',
      },
    });
    await storage.history.append(points('pump-9', 0, 1)); // series known, pool warm
    // The connection drops inside the commit, after the outbox rows were inserted, before COMMIT.
    let cuts = 0;
    storage.outbox.onHistoryRows = () => {
      if (cuts++ === 0) proxy.cut();
    };
    const waiting = storage.history.append(points('pump-9', 1, 1), { outbox: [event(1)] });
    await sleep(500);
    expect(cuts).toBe(1);
    expect(await state(waiting)).toBe('pending');
    // Appended during the outage: goes with the retry too, after the first.
    const later = storage.history.append(points('pump-9', 2, 1), { outbox: [event(2)] });
    proxy.restore();
    await Promise.all([waiting, later]);
    const rows = await storage.db.query<{ id: string }>(
      "SELECT event->>'id' AS id FROM event_outbox ORDER BY seq",
    );
    expect(rows.rows.map((r) => r.id)).toEqual([event(1).event.id, event(2).event.id]);
    // Committed rows are forgotten: the next commit does not insert them again.
    await storage.history.append(points('pump-9', 3, 1));
    const again = await storage.db.query<{ n: number }>('SELECT count(*)::int AS n FROM event_outbox');
    expect(again.rows[0]!.n).toBe(2);
  });
});
