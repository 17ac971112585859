// The alarm service on PostgreSQL: a burst is one commit, and two nodes (two services, each on a
// connection pool of its own, one database) lose nothing between them: two raises of one alarm at
// once open one alarm and count both, interleaved raises all count, and a person's acknowledgement
// or clear on one node survives repeats written from a stale read on the other.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PG_ALARM_MIGRATIONS, PgAlarmStore } from '../../adapters/postgres/pg-alarm-store.js';
import { openPgDatabase, type PgDatabase } from '../../adapters/postgres/pg-database.js';
import { pgStoreFixture, type PgStoreFixture } from '../../adapters/postgres/pg-store-test-fixture.js';
import { pgTestUrl } from '../../adapters/postgres/pg-test-fixture.js';
import type { AlarmRaise } from '../analytics-types.js';
import { AlarmService, type AlarmServiceOptions } from './alarm-service.js';

const raise = (time: number, twinId = 'pump-1'): AlarmRaise => ({
  workspace: 'default',
  twinId,
  ruleId: 'vib',
  ruleVersion: 1,
  severity: 'major',
  message: 'high',
  time,
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('AlarmService on PostgreSQL', () => {
  let fx: PgStoreFixture<PgAlarmStore>;
  let otherDb: PgDatabase;
  let errors: string[];
  const services: AlarmService[] = [];
  /** A node: its own service on its own pool (node 1 on the fixture's, node 2 on another). */
  const node = (n: 1 | 2, over: Partial<AlarmServiceOptions> = {}) => {
    const svc = new AlarmService({
      store: new PgAlarmStore(n === 1 ? fx.db : otherDb),
      onError: (e, what) => errors.push(`${(e as { code?: string }).code}: ${what}`),
      ...over,
    });
    services.push(svc);
    return svc;
  };
  beforeEach(async () => {
    errors = [];
    fx = await pgStoreFixture([PG_ALARM_MIGRATIONS], (db) => new PgAlarmStore(db));
    otherDb = await openPgDatabase({ url: pgTestUrl(), schema: fx.db.schema, poolSize: 4 });
  });
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.close()));
    await otherDb.close();
    await fx.cleanup();
  });

  it('writes a burst of 1,000 repeats as one commit', async () => {
    const svc = new AlarmService({ store: fx.store });
    for (let i = 0; i < 1000; i++) svc.raise(raise(1000 + i));
    await svc.flush();
    expect(svc.stats.writes).toBe(1);
    const [a] = await svc.list({ workspace: 'default', limit: 5 });
    expect(a).toMatchObject({ count: 1000, lastTime: 1999, revision: 1000 });
    await svc.close();
  });

  it('two nodes raising one alarm at once open one; the other converges on it', async () => {
    const a = node(1);
    const b = node(2);
    a.raise(raise(1000));
    b.raise(raise(1001));
    await Promise.all([a.flush(), b.flush()]);
    const open = await fx.store.list({ workspace: 'default', limit: 10, states: ['active'] });
    expect(open).toHaveLength(1);
    expect(open[0]!.count).toBe(2); // the loser's raise became a repeat of the winner's alarm
    b.raise(raise(2000));
    a.raise(raise(2001));
    await Promise.all([a.flush(), b.flush()]);
    const after = await fx.store.list({ workspace: 'default', limit: 10 });
    expect(after).toHaveLength(1);
    expect(after[0]!.count).toBe(4);
    expect(errors).toEqual([]);
  });

  it('loses no raise of many interleaved from two nodes', async () => {
    const a = node(1, { batchDelayMs: 1, conflictRetryMs: 2 });
    const b = node(2, { batchDelayMs: 1, conflictRetryMs: 2 });
    const twins = ['pump-1', 'pump-2', 'pump-3'];
    const sent = new Map<string, number>();
    const run = async (svc: AlarmService, offset: number) => {
      for (let i = 0; i < 300; i++) {
        // Mostly one alarm; some batches hold several (two nodes lock several rows at once).
        const twin = twins[(i * 7 + offset) % 5 < 3 ? 0 : (i + offset) % 3]!;
        svc.raise(raise(1000 + i * 2 + offset, twin));
        sent.set(twin, (sent.get(twin) ?? 0) + 1);
        if (i % 3 === 0) await pause(Math.floor(Math.random() * 3));
      }
      await svc.flush();
    };
    await Promise.all([run(a, 0), run(b, 1)]);
    const all = await fx.store.list({ workspace: 'default', limit: 10 });
    expect(all.every((x) => x.state === 'active')).toBe(true);
    expect(Object.fromEntries(all.map((x) => [x.twinId, x.count]))).toEqual(Object.fromEntries(sent));
    expect(errors).toEqual([]);
    const conflicts = a.stats.conflicts + b.stats.conflicts;
    // The race did happen (drains of the two nodes overlapped), and each was re-applied.
    expect(conflicts).toBeGreaterThan(0);
    console.info(`interleaved raises: ${conflicts} batch(es) re-applied after a conflict`);
  });

  it("keeps a person's ack on one node and counts every repeat written on the other", async () => {
    const a = node(1, { batchDelayMs: 1, conflictRetryMs: 2 });
    const b = node(2, { batchDelayMs: 1 });
    a.raise(raise(1000));
    await a.flush();
    const [first] = await fx.store.list({ workspace: 'default', limit: 1 });
    let raising = true;
    const repeats = (async () => {
      for (let i = 1; i <= 400; i++) {
        a.raise(raise(1000 + i));
        if (i % 2 === 0) await pause(Math.floor(Math.random() * 2));
      }
      raising = false;
      await a.flush();
    })();
    // The person acknowledges while node 1 keeps writing repeats (from reads that go stale).
    await pause(40);
    const ack = await b.ack('default', first!.id, 'ana', 'on my way');
    expect(raising).toBe(true); // the ack landed in the middle of the stream of repeats
    expect(ack.state).toBe('acknowledged');
    await repeats;
    const end = await b.get('default', first!.id);
    expect(end).toMatchObject({
      state: 'acknowledged',
      acknowledged: { by: 'ana', comment: 'on my way' },
      count: 401,
      lastTime: 1400,
    });
    expect(end.revision).toBe(402); // 1 raise + 400 repeats + 1 ack, each a change
    expect(errors).toEqual([]);
  });

  it('keeps a clear on one node: later repeats of the other open a new alarm, none lost', async () => {
    const a = node(1, { batchDelayMs: 1, conflictRetryMs: 2 });
    const b = node(2, { batchDelayMs: 1 });
    a.raise(raise(1000));
    await a.flush();
    const [first] = await fx.store.list({ workspace: 'default', limit: 1 });
    let raising = true;
    const repeats = (async () => {
      for (let i = 1; i <= 300; i++) {
        a.raise(raise(1000 + i));
        if (i % 2 === 0) await pause(Math.floor(Math.random() * 2));
      }
      raising = false;
      await a.flush();
    })();
    await pause(30);
    await b.clear('default', first!.id, 'bo', 'replaced the bearing');
    expect(raising).toBe(true);
    await repeats;
    const all = await fx.store.list({ workspace: 'default', limit: 10 });
    const cleared = all.find((x) => x.id === first!.id)!;
    expect(cleared).toMatchObject({
      state: 'cleared',
      cleared: { by: 'bo', reason: 'replaced the bearing' },
    });
    const open = all.filter((x) => x.state !== 'cleared');
    expect(open.length).toBeLessThanOrEqual(1);
    // Every raise counted: on the cleared alarm before the clear, on its successor after.
    expect(all.reduce((n, x) => n + x.count, 0)).toBe(301);
    expect(errors).toEqual([]);
  });
});
