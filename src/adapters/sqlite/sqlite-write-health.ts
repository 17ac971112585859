/**
 * Whether the database takes writes now: the readiness of the storage. Its signals:
 *
 * - the group commits of history and dead letters report every attempt, and the twin store its
 *   failed writes; a failure makes the storage unready until a later commit (or a recovery probe)
 *   succeeds;
 * - a probe write, at most once per `probeIntervalMs`: rolled back while healthy (cheap; fails on a
 *   read-only file), committed as a no-op while unready (so an idle platform notices that writes
 *   work again, e.g. once disk space is freed);
 * - markDamaged(): a background integrity check found the file damaged; that lasts.
 */
import type Database from 'better-sqlite3';
import { probeWrite } from './sqlite-file-checks.js';
import type { CommitInfo } from './sqlite-group-commit.js';

export interface WriteHealthOptions {
  /** Probe at most this often, ms (default 1000). */
  probeIntervalMs?: number;
  /** Clock, ms (tests). */
  now?: () => number;
}

/** Readiness of the storage: ready, or why not and since when. */
export interface WriteHealth {
  ready: boolean;
  /** Why writes fail (the storage error's message), when not ready. */
  reason?: string;
  /** Since when writes fail, ms since epoch. */
  since?: number;
}

export class SqliteWriteHealth {
  private failure: { reason: string; since: number } | undefined;
  private damaged: { reason: string; since: number } | undefined;
  private lastProbe = -Infinity;
  private readonly probeIntervalMs: number;
  private readonly now: () => number;

  constructor(
    private readonly db: Database.Database,
    options: WriteHealthOptions = {},
  ) {
    this.probeIntervalMs = Math.max(0, options.probeIntervalMs ?? 1000);
    this.now = options.now ?? Date.now;
  }

  /** The database is damaged (a background integrity check found it): unready for good. */
  markDamaged(reason: string): void {
    this.damaged = { reason, since: this.now() };
  }

  /** Told about every group commit (history, dead letters). */
  observe(info: CommitInfo): void {
    if (info.failed) this.fail(info.error);
    else this.failure = undefined;
  }

  /** Told about a failed synchronous write (twins, relationships). */
  writeFailed(e: unknown): void {
    this.fail(e);
  }

  /** The current readiness; probes the database when the last probe is older than the interval. */
  check(): WriteHealth {
    const t = this.now();
    if (t - this.lastProbe >= this.probeIntervalMs && this.db.open) {
      this.lastProbe = t;
      const unready = this.failure !== undefined;
      try {
        if (unready) this.commitNoOp();
        else probeWrite(this.db);
        this.failure = undefined;
      } catch (e) {
        this.fail(e);
      }
    }
    if (!this.db.open) return { ready: false, reason: 'The database is closed.' };
    if (this.damaged) return { ready: false, ...this.damaged };
    return this.failure ? { ready: false, ...this.failure } : { ready: true };
  }

  private fail(e: unknown): void {
    const reason = e instanceof Error ? e.message : String(e);
    this.failure = { reason, since: this.failure?.since ?? this.now() };
  }

  /** A committed write that changes nothing: proves a real commit (and its fsync) works again. */
  private commitNoOp(): void {
    if (this.db.inTransaction) return;
    const version = this.db.pragma('user_version', { simple: true }) as number;
    this.db.pragma(`user_version = ${Math.trunc(version)}`);
  }
}
