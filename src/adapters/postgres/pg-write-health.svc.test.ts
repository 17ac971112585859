import { afterEach, describe, expect, it } from 'vitest';
import { openPgDatabase } from './pg-database.js';
import { dropSchema, freshSchemaName, pgTestUrl } from './pg-test-fixture.js';
import { PgWriteHealth } from './pg-write-health.js';
import { hostPort, startTcpProxy, viaProxy } from '../../../test/support/tcp-proxy.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('PostgreSQL write health', () => {
  it('turns unready when the server is unreachable, with the reason and since when, and ready again by itself', async () => {
    const proxy = await startTcpProxy(hostPort(pgTestUrl(), 5432));
    const schema = freshSchemaName();
    const db = await openPgDatabase({
      url: viaProxy(pgTestUrl(), proxy),
      schema,
      connectTimeoutMs: 1000,
      onIdleError: () => undefined,
    });
    cleanups.push(async () => {
      await db.close().catch(() => undefined);
      await proxy.close();
      await dropSchema(schema);
    });
    const health = new PgWriteHealth(db, { probeIntervalMs: 0 });
    expect(await health.checkNow()).toEqual({ ready: true });
    proxy.cut();
    const down = await health.checkNow();
    expect(down.ready).toBe(false);
    expect(down.reason).toMatch(/unreachable/);
    expect(typeof down.since).toBe('number');
    const later = await health.checkNow();
    expect(later.since).toBe(down.since); // the outage's start, not the last probe
    proxy.restore();
    expect(await health.checkNow()).toEqual({ ready: true });
  });

  it('a failed group commit makes it unready until a commit succeeds; closed is unready', () => {
    const health = new PgWriteHealth({ query: () => new Promise(() => undefined) }, { probeIntervalMs: 1e9 });
    health.check(); // starts the (never answering) probe; readiness must not wait for it
    health.observe({ failed: true, error: new Error('disk full') });
    expect(health.check()).toMatchObject({ ready: false, reason: 'disk full' });
    health.observe({ failed: false });
    expect(health.check()).toEqual({ ready: true });
    let waiting: string | undefined = '12 points wait';
    const told = new PgWriteHealth(
      { query: () => new Promise(() => undefined) },
      { probeIntervalMs: 1e9, backlog: () => waiting },
    );
    told.observe({ failed: true, error: new Error('unreachable') });
    expect(told.check()).toMatchObject({ ready: false, reason: 'unreachable (12 points wait)' });
    waiting = undefined;
    expect(told.check()).toMatchObject({ ready: false, reason: 'unreachable' });
    health.close();
    expect(health.check().ready).toBe(false);
  });
});
