/**
 * Whether the PostgreSQL store takes writes now: the readiness of the storage, as
 * sqlite-write-health.ts is for SQLite. Its signals:
 *
 * - the group commits (history, dead letters) report every attempt, and the other stores their failed
 *   writes; a failure makes the storage unready until a later commit or a probe succeeds;
 * - a probe, at most once per `probeIntervalMs`, in the background (readiness is asked synchronously
 *   and must never wait on the network): the server answers and is not a read-only standby.
 *
 * An unreachable server shows as unready within one probe interval even when nothing is written.
 */
import type { PgDatabase } from './pg-database.js';

export interface PgWriteHealthOptions {
  /** Probe at most this often, ms (default 1000). */
  probeIntervalMs?: number;
  now?: () => number;
  /** What waits because of the failure (e.g. "42 history points wait"), appended to the reason. */
  backlog?: () => string | undefined;
}

export interface PgWriteHealthState {
  ready: boolean;
  /** Why writes fail, when not ready. */
  reason?: string;
  /** Since when, ms since epoch. */
  since?: number;
}

export class PgWriteHealth {
  private failure: { reason: string; since: number } | undefined;
  private lastProbe = -Infinity;
  private probing = false;
  private closed = false;
  private readonly probeIntervalMs: number;
  private readonly now: () => number;
  private readonly backlog: (() => string | undefined) | undefined;

  constructor(
    private readonly db: Pick<PgDatabase, 'query'>,
    options: PgWriteHealthOptions = {},
  ) {
    this.probeIntervalMs = Math.max(0, options.probeIntervalMs ?? 1000);
    this.now = options.now ?? Date.now;
    this.backlog = options.backlog;
  }

  /** Told about every group commit. */
  observe(info: { failed: boolean; error?: unknown }): void {
    if (info.failed) this.fail(info.error);
    else this.failure = undefined;
  }

  /** Told about a failed write. */
  writeFailed(e: unknown): void {
    this.fail(e);
  }

  /** The storage is closing: unready from now on. */
  close(): void {
    this.closed = true;
  }

  /** The current readiness (as of the last signal or probe); starts a probe when the last is old. */
  check(): PgWriteHealthState {
    if (this.closed) return { ready: false, reason: 'The database is closed.' };
    const t = this.now();
    if (!this.probing && t - this.lastProbe >= this.probeIntervalMs) {
      this.lastProbe = t;
      this.probing = true;
      void this.probe().finally(() => {
        this.probing = false;
      });
    }
    if (!this.failure) return { ready: true };
    let waiting: string | undefined;
    try {
      waiting = this.backlog?.();
    } catch {
      waiting = undefined;
    }
    return {
      ready: false,
      reason: waiting ? `${this.failure.reason} (${waiting})` : this.failure.reason,
      since: this.failure.since,
    };
  }

  /** Probes now and answers the readiness after it. */
  async checkNow(): Promise<PgWriteHealthState> {
    this.lastProbe = this.now();
    await this.probe();
    return this.check();
  }

  private async probe(): Promise<void> {
    try {
      const r = await this.db.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
      if (r.rows[0]?.standby) this.fail(new Error('PostgreSQL is a read-only standby (in recovery).'));
      else this.failure = undefined;
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    const reason = e instanceof Error ? e.message : String(e);
    this.failure = { reason, since: this.failure?.since ?? this.now() };
  }
}
