/**
 * CPU figures read from /proc for bench/cluster: the ticks of one process, of every process of a
 * command (postgres, nats-server), of the whole machine, and a sampler of the PostgreSQL backends
 * of one application name. Off Linux every reader returns nothing and the figure is "n/a".
 */
import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';

/** USER_HZ on Linux. */
export const TICKS_PER_S = 100;

/** The command and CPU ticks (user + system) of one /proc/<pid>/stat, or undefined when gone. */
function readStat(pid: number | string): { comm: string; ticks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const f = stat.slice(close + 2).split(' ');
    // fields 14 and 15 of stat (utime, stime) are 11 and 12 after "pid (comm)"
    return { comm: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** CPU ticks of one process (undefined once it exited, or off Linux). */
export function pidTicks(pid: number | undefined): number | undefined {
  return pid === undefined ? undefined : readStat(pid)?.ticks;
}

/** CPU ticks of every process whose command is `comm` (e.g. `postgres`), by pid. */
export function commTicks(comm: string): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out; // not Linux: no figure
  }
  for (const pid of pids) {
    const s = readStat(pid);
    if (s?.comm === comm) out.set(Number(pid), s.ticks);
  }
  return out;
}

/**
 * Cores used between two commTicks() samples `secs` apart. A process started in between counts
 * whole; one that ended in between is missed (an undercount). `only` restricts it to some pids.
 */
export function coresBetween(
  a: Map<number, number>,
  b: Map<number, number>,
  secs: number,
  only?: ReadonlySet<number>,
): number {
  let d = 0;
  for (const [pid, ticks] of b) if (!only || only.has(pid)) d += ticks - (a.get(pid) ?? 0);
  return d / TICKS_PER_S / secs;
}

/** Busy and total ticks of the whole machine (/proc/stat). */
export function machineTicks(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/** Fraction of the machine busy between two machineTicks() samples (NaN off Linux). */
export function busyBetween(a: { busy: number; total: number }, b: { busy: number; total: number }): number {
  const total = b.total - a.total;
  return total > 0 ? (b.busy - a.busy) / total : NaN;
}

export interface ServerCpu {
  /** Cores used by the system under test's backends. */
  sutBackends: number;
  /** Cores used by every postgres process (other users of the server included). */
  server: number;
  backends: number;
}

/** Samples postgres CPU at the edges of a measured window; `app` names the backends of interest. */
export function serverCpuSampler(
  client: pg.Client,
  app: string,
): {
  onWindow: (edge: 'start' | 'end') => Promise<void>;
  result: () => ServerCpu | undefined;
} {
  let t0 = 0;
  let t1 = 0;
  let a = new Map<number, number>();
  let b = new Map<number, number>();
  const sut = new Set<number>();
  const sutPids = async (): Promise<void> => {
    const r = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
      [app],
    );
    for (const { pid } of r.rows) sut.add(pid);
  };
  return {
    async onWindow(edge) {
      if (edge === 'start') {
        await sutPids();
        t0 = performance.now();
        a = commTicks('postgres');
      } else {
        b = commTicks('postgres');
        t1 = performance.now();
        await sutPids();
      }
    },
    result() {
      if (b.size === 0 || t1 <= t0) return undefined;
      const secs = (t1 - t0) / 1000;
      return {
        sutBackends: coresBetween(a, b, secs, sut),
        server: coresBetween(a, b, secs),
        backends: sut.size,
      };
    },
  };
}
