// The alarm service on PostgreSQL: a burst is one commit, and two nodes raising the same alarm at
// once never open two (the loser's write is refused and its next raise repeats the winner's alarm).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PG_ALARM_MIGRATIONS, PgAlarmStore } from '../../adapters/postgres/pg-alarm-store.js';
import { pgStoreFixture, type PgStoreFixture } from '../../adapters/postgres/pg-store-test-fixture.js';
import type { AlarmRaise } from '../analytics-types.js';
import { AlarmService } from './alarm-service.js';

const raise = (time: number): AlarmRaise => ({
  workspace: 'default',
  twinId: 'pump-1',
  ruleId: 'vib',
  ruleVersion: 1,
  severity: 'major',
  message: 'high',
  time,
});

describe('AlarmService on PostgreSQL', () => {
  let fx: PgStoreFixture<PgAlarmStore>;
  beforeEach(async () => {
    fx = await pgStoreFixture([PG_ALARM_MIGRATIONS], (db) => new PgAlarmStore(db));
  });
  afterEach(async () => fx.cleanup());

  it('writes a burst of 1,000 repeats as one commit', async () => {
    const svc = new AlarmService({ store: fx.store });
    for (let i = 0; i < 1000; i++) svc.raise(raise(1000 + i));
    await svc.flush();
    expect(svc.stats.writes).toBe(1);
    const [a] = await svc.list({ workspace: 'default', limit: 5 });
    expect(a).toMatchObject({ count: 1000, lastTime: 1999 });
    await svc.close();
  });

  it('two nodes raising one alarm at once open one; the other converges on it', async () => {
    const errors: string[] = [];
    const node = () =>
      new AlarmService({
        store: new PgAlarmStore(fx.db),
        onError: (e) => errors.push((e as { code: string }).code),
      });
    const a = node();
    const b = node();
    a.raise(raise(1000));
    b.raise(raise(1001));
    await Promise.all([a.flush(), b.flush()]);
    const open = await fx.store.list({ workspace: 'default', limit: 10, states: ['active'] });
    expect(open).toHaveLength(1);
    expect(errors.length === 0 || errors.every((c) => c === 'Conflict')).toBe(true);
    b.raise(raise(2000));
    a.raise(raise(2001));
    await b.flush();
    await a.flush();
    const after = await fx.store.list({ workspace: 'default', limit: 10 });
    expect(after).toHaveLength(1);
    expect(after[0]!.count).toBeGreaterThanOrEqual(3);
    await Promise.all([a.close(), b.close()]);
  });
});
