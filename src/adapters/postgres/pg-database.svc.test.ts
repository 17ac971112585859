import { afterEach, describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { caught } from '../../../test/support/caught.js';
import { isUnreachable, openPgDatabase, parsePgUrl } from './pg-database.js';
import { freshSchemaName, pgTestDatabase, pgTestUrl } from './pg-test-fixture.js';
import { hostPort, startTcpProxy, viaProxy } from '../../../test/support/tcp-proxy.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('PostgreSQL database', () => {
  it('applies each migration once, in version order, and records it', async () => {
    const migrations = [
      {
        component: 'demo',
        migrations: [
          { version: 2, name: 'add b', sql: 'ALTER TABLE demo ADD COLUMN b integer' },
          { version: 1, name: 'create', sql: 'CREATE TABLE demo (a integer)' },
        ],
      },
    ];
    const db = await pgTestDatabase(migrations);
    cleanups.push(() => db.drop());
    await db.migrate(migrations); // again: nothing to do
    const cols = await db.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'demo' ORDER BY 1`,
      [db.schema],
    );
    expect(cols.rows.map((r) => r.column_name)).toEqual(['a', 'b']);
    const applied = await db.query<{ version: number }>(
      `SELECT version FROM twinloop_migrations WHERE component = 'demo' ORDER BY version`,
    );
    expect(applied.rows.map((r) => r.version)).toEqual([1, 2]);
  });

  it('rolls a failed migration back whole and says which one failed', async () => {
    const schema = freshSchemaName();
    const bad = [
      {
        component: 'demo',
        migrations: [
          { version: 1, name: 'create', sql: 'CREATE TABLE demo (a integer)' },
          { version: 2, name: 'broken', sql: 'ALTER TABLE nowhere ADD COLUMN b integer' },
        ],
      },
    ];
    const err = await caught(openPgDatabase({ url: pgTestUrl(), schema, migrations: bad }));
    expect(err).toBeInstanceOf(TwinloopError);
    expect((err as TwinloopError).code).toBe('StorageError');
    expect((err as Error).message).toMatch(/migration demo 2 \(broken\)/);
    const db = await pgTestDatabase([], schema);
    cleanups.push(() => db.drop());
    const tables = await db.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1`, [
      schema,
    ]);
    expect(tables.rowCount).toBe(0); // version 1 rolled back with version 2
  });

  it('two nodes migrating the same schema at once apply each step once', async () => {
    const schema = freshSchemaName();
    const m = [
      {
        component: 'demo',
        migrations: [{ version: 1, name: 'create', sql: 'CREATE TABLE demo (a integer)' }],
      },
    ];
    const [a, b] = await Promise.all([
      openPgDatabase({ url: pgTestUrl(), schema, migrations: m }),
      openPgDatabase({ url: pgTestUrl(), schema, migrations: m }),
    ]);
    await b.close();
    const db = Object.assign(a, { drop: async () => undefined });
    cleanups.push(async () => {
      await a.close();
      const { dropSchema } = await import('./pg-test-fixture.js');
      await dropSchema(schema);
    });
    const n = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM twinloop_migrations`);
    expect(n.rows[0]!.n).toBe(1);
  });

  it('a transaction that throws leaves nothing behind', async () => {
    const db = await pgTestDatabase([
      {
        component: 'demo',
        migrations: [{ version: 1, name: 'create', sql: 'CREATE TABLE demo (a integer)' }],
      },
    ]);
    cleanups.push(() => db.drop());
    const err = await caught(
      db.transaction(async (c) => {
        await c.query('INSERT INTO demo VALUES (1)');
        throw new Error('boom');
      }),
    );
    expect((err as Error).message).toMatch(/boom/);
    expect((await db.query('SELECT * FROM demo')).rowCount).toBe(0);
  });

  it('an unreachable server is a clear StorageError that names where, never the password', async () => {
    const err = await caught(
      openPgDatabase({ url: 'postgres://alice:s3cret@127.0.0.1:1/twinloop', connectTimeoutMs: 2000 }),
    );
    expect(err).toBeInstanceOf(TwinloopError);
    expect((err as Error).message).toMatch(/PostgreSQL at 127\.0\.0\.1:1\/twinloop is unreachable/);
    expect((err as Error).message).not.toMatch(/s3cret/);
    expect(isUnreachable(err)).toBe(true);
  });

  it('rejects hostile schema names and URLs before connecting', async () => {
    for (const schema of ['public; DROP TABLE x', 'Upper', '__proto__"', 'a'.repeat(64)]) {
      const err = await caught(openPgDatabase({ url: pgTestUrl(), schema }));
      expect((err as TwinloopError).code).toBe('StorageError');
    }
    expect(() => parsePgUrl('mysql://root@host/db')).toThrow(/must start with postgres:\/\//);
    expect(() => parsePgUrl('not a url')).toThrow(/not a URL/);
    expect(parsePgUrl('postgres://u:p@db.example:6543/tw?schema=plant').where).toBe('db.example:6543/tw');
    expect(parsePgUrl('postgres://u:p@db.example/tw?schema=plant').schema).toBe('plant');
  });

  it('a server that goes away is a clear "unreachable" StorageError, and the pool recovers by itself', async () => {
    const proxy = await startTcpProxy(hostPort(pgTestUrl(), 5432));
    const idle: Error[] = [];
    const schema = freshSchemaName();
    const db = await openPgDatabase({
      url: viaProxy(pgTestUrl(), proxy),
      schema,
      connectTimeoutMs: 1000,
      onIdleError: (e) => idle.push(e),
    });
    cleanups.push(async () => {
      await db.close().catch(() => undefined);
      await proxy.close();
      const { dropSchema } = await import('./pg-test-fixture.js');
      await dropSchema(schema);
    });
    expect((await db.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n).toBe(1);
    proxy.cut();
    const err = await caught(db.query('SELECT 1'));
    expect(err.code).toBe('StorageError');
    expect(isUnreachable(err)).toBe(true);
    expect(err.message).toMatch(/PostgreSQL at 127\.0\.0\.1:\d+\/test is unreachable/);
    const inTx = await caught(db.transaction(async (c) => c.query('SELECT 1')));
    expect(isUnreachable(inTx)).toBe(true);
    proxy.restore();
    expect((await db.query<{ n: number }>('SELECT 2 AS n')).rows[0]!.n).toBe(2);
  });
});
