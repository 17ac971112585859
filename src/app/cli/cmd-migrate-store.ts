/**
 * `twinloop migrate-store --from ./data --to postgres://…[?schema=x]`: moves a pilot's data folder
 * (SQLite) into an empty PostgreSQL store (docs/scaling.md "Moving a pilot to PostgreSQL"). This is
 * composition: it takes the folder's lock (no Twinloop may run on it meanwhile), opens both stores
 * and hands them to store-migration.ts, which copies over the ports. Progress goes to stderr (a bar
 * on a terminal, plain lines with rate and time left otherwise); the count check goes to stdout, and
 * the exit code is 1 when a count differs.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { TwinloopError } from '../../core/errors/errors.js';
import type { CliKit } from './cli-kit.js';
import { KIND_LABELS, type MigrationKind } from '../store-counts.js';
import type { CountCheckRow, MigrationProgress } from '../store-migration.js';

/** Where progress is written: a terminal gets a redrawn bar, anything else plain lines. */
export interface ProgressSink {
  write(s: string): unknown;
  isTTY?: boolean;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * Renders migration progress: history points (the bulk) with a rate and the time left; other kinds
 * when they are done. `now` is injectable for tests.
 * @example const p = progressRenderer(process.stderr); await migrateStore(a, b, { onProgress: p.update }); p.end();
 */
export function progressRenderer(
  out: ProgressSink,
  options: { now?: () => number; intervalMs?: number } = {},
): { update(p: MigrationProgress): void; end(): void } {
  const now = options.now ?? Date.now;
  const tty = out.isTTY === true;
  const interval = options.intervalMs ?? (tty ? 100 : 5000);
  let last = -Infinity;
  let historyStart: number | undefined;
  let drawn = false;
  const announced = new Set<MigrationKind>();
  const historyLine = (p: MigrationProgress): string => {
    const t = now();
    historyStart ??= t;
    const elapsed = Math.max(1, t - historyStart);
    const rate = (p.done / elapsed) * 1000;
    const share = p.total ? p.done / p.total : 1;
    const left = rate > 0 ? ((p.total - p.done) / rate) * 1000 : NaN;
    const eta = Number.isFinite(left) ? `, about ${duration(left)} left` : '';
    const text = `history points ${fmt(p.done)}/${fmt(p.total)} (${Math.floor(share * 100)}%), ${fmt(rate)} points/s${eta}`;
    if (!tty) return text;
    const width = 30;
    const full = Math.min(width, Math.floor(share * width));
    return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${text}`;
  };
  const line = (s: string): void => {
    if (tty) {
      out.write(`\r\u001b[2K${s}`);
      drawn = true;
    } else out.write(`${s}\n`);
  };
  return {
    update(p) {
      if (p.kind === 'historyPoints') {
        historyStart ??= now();
        const t = now();
        if (t - last < interval && p.done < p.total) return;
        last = t;
        line(historyLine(p));
        return;
      }
      if (p.total > 0 && p.done >= p.total && !announced.has(p.kind) && p.kind !== 'historySeries') {
        announced.add(p.kind);
        if (drawn) out.write('\n');
        drawn = false;
        out.write(`${KIND_LABELS[p.kind]}: ${fmt(p.done)} copied\n`);
      }
    },
    end() {
      if (drawn) out.write('\n');
      drawn = false;
    },
  };
}

/** The count check as a table: kind, source, target, and a mark on each row that differs. */
export function countTable(rows: readonly CountCheckRow[]): string {
  const head = ['kind', 'source', 'target', ''];
  const body = rows.map((r) => [
    KIND_LABELS[r.kind],
    fmt(r.source),
    fmt(r.target),
    r.equal ? 'ok' : 'DIFFERS',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const render = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 || i === 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [render(head), render(widths.map((w) => '-'.repeat(w))), ...body.map(render)].join('\n') + '\n';
}

export function registerMigrateStore(program: Command, { run }: CliKit): void {
  program
    .command('migrate-store')
    .description(
      'Copy everything a data folder holds (SQLite) into an empty PostgreSQL store, then check every count. Stop the Twinloop that uses the folder first.',
    )
    .requiredOption('--from <dir>', 'the data folder to copy (it must not be in use)')
    .requiredOption(
      '--to <url>',
      'the target: postgres://user:password@host:5432/db[?schema=name] (an empty schema; it is created when absent)',
    )
    .option(
      '--workspace <name>',
      'a workspace to copy (repeatable; default: "default", the one Twinloop serves)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--batch <points>', 'history points per write (default 50000)')
    .action(
      run(async (opts: { from: string; to: string; workspace?: string[]; batch?: string }) => {
        const code = await migrateStoreCommand({
          from: opts.from,
          to: opts.to,
          ...(opts.workspace ? { workspaces: opts.workspace } : {}),
          ...(opts.batch !== undefined ? { historyBatch: Number(opts.batch) } : {}),
          stdout: process.stdout,
          stderr: process.stderr,
        });
        if (code !== 0) process.exitCode = code;
      }),
    );
}

export interface MigrateStoreCommandOptions {
  from: string;
  to: string;
  workspaces?: string[];
  historyBatch?: number;
  stdout: ProgressSink;
  stderr: ProgressSink;
}

/**
 * The command's body (the service test runs it in-process): resolves to the exit code, 0 when every
 * count matches, 1 when one differs.
 * @throws TwinloopError NotFound (no database in the folder), DataFolderInUse, BadRequest (not a
 *   PostgreSQL URL), StorageError (the target cannot be reached), Conflict (the target is not empty)
 */
export async function migrateStoreCommand(o: MigrateStoreCommandOptions): Promise<number> {
  // The URL as shown: never the user and password.
  const masked = o.to.replace(/\/\/[^@/]*@/, '//…@');
  if (!/^postgres(ql)?:\/\//i.test(o.to)) {
    throw new TwinloopError(
      'BadRequest',
      `--to must be a PostgreSQL URL (postgres://user:password@host:5432/db[?schema=name]), got "${masked}".`,
    );
  }
  if (o.historyBatch !== undefined && (!Number.isSafeInteger(o.historyBatch) || o.historyBatch < 1)) {
    throw new TwinloopError('BadRequest', `--batch must be a positive whole number (got ${o.historyBatch}).`);
  }
  const dataDir = path.resolve(o.from);
  const dbFile = path.join(dataDir, 'twinloop.db');
  if (!existsSync(dbFile)) {
    throw new TwinloopError(
      'NotFound',
      `There is no Twinloop database in ${dataDir} (no twinloop.db): give the data folder a Twinloop ran on (--from <dir>).`,
    );
  }
  const { lockDataFolder } = await import('../data-folder-lock.js');
  const { openSqliteStorage } = await import('../../adapters/sqlite/sqlite-storage.js');
  const { openPgStorage } = await import('../../adapters/postgres/pg-storage.js');
  const { migrateStore } = await import('../store-migration.js');

  const lock = lockDataFolder(dataDir);
  try {
    const source = openSqliteStorage({ dataDir, holdsData: true });
    try {
      const target = await openPgStorage({
        url: o.to,
        applicationName: 'twinloop migrate-store',
        connectTimeoutMs: 10_000,
      });
      try {
        o.stderr.write(`Copying ${source.where} to ${masked}\n`);
        const progress = progressRenderer(o.stderr);
        const report = await migrateStore(source, target, {
          ...(o.workspaces ? { workspaces: o.workspaces } : {}),
          ...(o.historyBatch ? { historyBatch: o.historyBatch } : {}),
          onProgress: (p) => progress.update(p),
        });
        progress.end();
        const points = report.before.historyPoints;
        const rate = report.historyMs > 0 ? (points / report.historyMs) * 1000 : 0;
        o.stdout.write(countTable(report.rows));
        o.stdout.write(
          `Copied in ${duration(report.copyMs)}; history ${fmt(points)} points in ${duration(report.historyMs)} (${fmt(rate)} points/s).\n`,
        );
        if (!report.ok) {
          const bad = report.rows.filter((r) => !r.equal).map((r) => KIND_LABELS[r.kind]);
          o.stderr.write(
            `error: the counts differ for ${bad.join(', ')}: the target is not a complete copy. Keep running on the data folder, drop the target schema and run migrate-store again.\n`,
          );
          return 1;
        }
        o.stderr.write(
          `Every count matches. Start Twinloop on the new store with: twinloop start --data '${o.from}' --store '${masked}'\n`,
        );
        return 0;
      } finally {
        await target.close();
      }
    } finally {
      await source.close();
    }
  } finally {
    lock.release();
  }
}
