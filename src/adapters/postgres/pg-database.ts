/**
 * The PostgreSQL connection every PostgreSQL store shares: a pool bound to one schema, versioned
 * migrations applied at open (under an advisory lock, so nodes that start together never race),
 * transactions, and errors translated into the catalogue's StorageError without echoing the
 * password of the connection URL. Stores get the `PgDatabase`, never the URL.
 */
import pg from 'pg';
import { TwinloopError } from '../../core/errors/errors.js';

/** One step of a store's schema. Versions of a component are applied in order, each once. */
export interface PgMigration {
  version: number;
  name: string;
  /** SQL run in one transaction; unqualified names land in the database's schema (search_path). */
  sql: string;
}

/** The migrations of one store ("history", "twins" ...), applied in version order. */
export interface PgComponentMigrations {
  component: string;
  migrations: readonly PgMigration[];
}

export interface PgDatabaseOptions {
  /** postgres://user:password@host:port/database (the `?schema=` parameter sets the schema). */
  url: string;
  /** Schema of Twinloop's tables (default: `schema` in the URL, else "public"); created when absent. */
  schema?: string;
  /** Most connections in the pool (default 10). */
  poolSize?: number;
  /** Shown in pg_stat_activity (default "twinloop"). */
  applicationName?: string;
  /** Give up connecting after this long, ms (default 10 000). */
  connectTimeoutMs?: number;
  /** Cancel any one statement after this long, ms (default 60 000; 0: never). */
  statementTimeoutMs?: number;
  /** Applied at open, in the order given. */
  migrations?: readonly PgComponentMigrations[];
  /** Told about errors of idle pooled connections (the server went away); they never throw. */
  onIdleError?: (err: Error) => void;
}

export interface PgDatabase {
  readonly pool: pg.Pool;
  readonly schema: string;
  /** host:port/database, without user or password: for logs and messages. */
  readonly where: string;
  /** One statement on a pooled connection. @throws StorageError */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** Runs fn in one transaction on one connection: commit when it resolves, roll back when it throws. */
  transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  /** Applies migrations not applied yet (also done at open). */
  migrate(components: readonly PgComponentMigrations[]): Promise<void>;
  close(): Promise<void>;
}

// bigint (int8) as a JS number: every bigint Twinloop stores (ms timestamps, counts, sequences) is
// below 2^53. numeric stays a string.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * @example
 *   const db = await openPgDatabase({ url: 'postgres://postgres@127.0.0.1:5432/twinloop', migrations });
 *   await db.query('SELECT 1');
 *   await db.close();
 * @throws StorageError when the server cannot be reached or a migration fails (nothing half-applied).
 */
export async function openPgDatabase(options: PgDatabaseOptions): Promise<PgDatabase> {
  const parsed = parsePgUrl(options.url);
  const schema = options.schema ?? parsed.schema ?? 'public';
  if (!SCHEMA_NAME.test(schema)) {
    throw new TwinloopError(
      'StorageError',
      `The PostgreSQL schema name '${schema.slice(0, 80)}' is not valid: use lower-case letters, digits and _ (at most 63).`,
    );
  }
  const statementTimeout = options.statementTimeoutMs ?? 60_000;
  const pool = new pg.Pool({
    connectionString: parsed.connectionString,
    max: options.poolSize ?? 10,
    application_name: options.applicationName ?? 'twinloop',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    options: `-c search_path=${schema}${statementTimeout > 0 ? ` -c statement_timeout=${statementTimeout}` : ''}`,
  });
  // An idle connection that the server drops emits 'error' on the pool: without a listener the
  // process would crash. The next query gets a fresh connection (or a clear StorageError).
  pool.on('error', (err) => options.onIdleError?.(err));
  const where = parsed.where;
  const fail = (e: unknown, what: string): TwinloopError => storageError(e, what, where);

  const db: PgDatabase = {
    pool,
    schema,
    where,
    async query(sql, params) {
      try {
        return await pool.query(sql, params as unknown[] | undefined);
      } catch (e) {
        throw fail(e, 'query');
      }
    },
    async transaction(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (e) {
        throw fail(e, 'connect');
      }
      let broken = false;
      // A checked-out client has no 'error' listener (pg-pool removes its idle one): a connection
      // that drops between two statements would emit an unhandled 'error' and crash the process.
      // Noted here; the statement under way (or the next) fails with "Connection terminated".
      const onError = (): void => {
        broken = true;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const out = await fn(client);
        await client.query('COMMIT');
        return out;
      } catch (e) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is gone: do not return it to the pool
        }
        if (e instanceof TwinloopError) throw e;
        throw fail(e, 'transaction');
      } finally {
        client.release(broken);
        client.removeListener('error', onError);
      }
    },
    async migrate(components) {
      await applyMigrations(db, components);
    },
    async close() {
      await pool.end();
    },
  };
  try {
    // Under the migration lock: two nodes creating the schema at once would otherwise race.
    await db.transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    });
    await applyMigrations(db, options.migrations ?? []);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  return db;
}

/** Splits a postgres:// URL: the connection string for pg, the schema parameter, and where it points (no secrets). */
export function parsePgUrl(url: string): { connectionString: string; schema?: string; where: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TwinloopError(
      'StorageError',
      'The PostgreSQL URL is not a URL (expected postgres://user@host:port/database).',
    );
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new TwinloopError(
      'StorageError',
      `The PostgreSQL URL must start with postgres:// (got '${u.protocol.slice(0, 20)}').`,
    );
  }
  const schema = u.searchParams.get('schema') ?? undefined;
  u.searchParams.delete('schema');
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default database)';
  return { connectionString: u.toString(), schema, where: `${u.hostname}:${u.port || '5432'}/${database}` };
}

/** Wraps a pg error in StorageError, saying what failed and where, with the SQLSTATE when there is one. */
export function storageError(e: unknown, what: string, where: string): TwinloopError {
  if (e instanceof TwinloopError) return e;
  const err = e as { code?: string; message?: string };
  const code = typeof err.code === 'string' ? ` (${err.code})` : '';
  const unreachable =
    /^(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|57P01|57P03|08\d\d\d)$/.test(
      err.code ?? '',
    ) || /timeout exceeded when trying to connect|Connection terminated/i.test(err.message ?? '');
  const message = unreachable
    ? `PostgreSQL at ${where} is unreachable${code}: ${err.message ?? String(e)}`
    : `PostgreSQL ${what} failed${code}: ${err.message ?? String(e)}`;
  // Temporary: HTTP answers 503 with Retry-After (http-errors.ts), the caller may repeat the request.
  return new TwinloopError('StorageError', message, {
    cause: e,
    ...(unreachable ? { details: { retryAfterSeconds: 5 } } : {}),
  });
}

/** True when the error says the server could not be reached (the write may be retried later). */
export function isUnreachable(e: unknown): boolean {
  return e instanceof TwinloopError && e.code === 'StorageError' && / is unreachable/.test(e.message);
}

const LOCK_KEY = 0x7477696e; // "twin": one advisory lock for every Twinloop migration of a database

async function applyMigrations(db: PgDatabase, components: readonly PgComponentMigrations[]): Promise<void> {
  if (!components.length) return;
  await db.transaction(async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await c.query(
      `CREATE TABLE IF NOT EXISTS twinloop_migrations (
         component text NOT NULL, version integer NOT NULL, name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))`,
    );
    const done = await c.query<{ component: string; version: number }>(
      'SELECT component, version FROM twinloop_migrations',
    );
    const applied = new Set(done.rows.map((r) => `${r.component}\u0000${r.version}`));
    for (const { component, migrations } of components) {
      const sorted = [...migrations].sort((a, b) => a.version - b.version);
      for (const m of sorted) {
        if (applied.has(`${component}\u0000${m.version}`)) continue;
        try {
          await c.query(m.sql);
        } catch (e) {
          throw storageError(e, `migration ${component} ${m.version} (${m.name})`, db.where);
        }
        await c.query('INSERT INTO twinloop_migrations (component, version, name) VALUES ($1, $2, $3)', [
          component,
          m.version,
          m.name,
        ]);
      }
    }
  });
}
