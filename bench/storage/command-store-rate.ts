/**
 * How fast the command store stores and moves commands (npx tsx bench/storage/command-store-rate.ts
 * [--commands 10000] [--concurrency 100] [--pg]): --commands commands added one per call, then each
 * moved sent → acknowledged → succeeded, one transition per call (3 × --commands transitions), as a
 * command service would: --concurrency calls in flight at a time (on SQLite, calls of one tick share
 * a commit). Also once with every call awaited before the next (no sharing: one commit per call).
 * SQLite with synchronous=FULL and NORMAL in a temp folder; with --pg, PostgreSQL too (PG_URL, a
 * fresh schema, dropped after). Prints wall times and rates; writes nothing else.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStorage } from '../../src/adapters/sqlite/sqlite-storage.js';
import { PG_COMMAND_MIGRATIONS, PgCommandStore } from '../../src/adapters/postgres/pg-command-store.js';
import { pgTestDatabase } from '../../src/adapters/postgres/pg-test-fixture.js';
import type { CommandState, CommandStore } from '../../src/core/ports/command-store.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const N = arg('commands', 10_000);
const CONCURRENCY = arg('concurrency', 100);

/** Runs `n` calls, at most `width` in flight. */
async function pool(n: number, width: number, call: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) await call(next++);
    }),
  );
}

async function run(label: string, store: CommandStore, width: number): Promise<void> {
  const now = Date.now();
  const t0 = performance.now();
  await pool(N, width, (i) =>
    store.add([
      {
        workspace: 'default',
        requestId: `${label}-${i}`,
        twinId: `pump-${i % 500}`,
        command: 'setRunning',
        request: { running: i % 2 === 0, setpoint: i },
        createdAt: now,
        expiresAt: now + 600_000,
        requestedBy: 'api',
      },
    ]),
  );
  const t1 = performance.now();
  const chain: [CommandState, CommandState][] = [
    ['queued', 'sent'],
    ['sent', 'acknowledged'],
    ['acknowledged', 'succeeded'],
  ];
  for (const [from, to] of chain) {
    await pool(N, width, async (i) => {
      const [r] = await store.transition([
        {
          workspace: 'default',
          requestId: `${label}-${i}`,
          from: [from],
          to,
          at: Date.now(),
          ...(to === 'succeeded' ? { status: 200, response: { running: i % 2 === 0 } } : {}),
        },
      ]);
      if (!r) throw new Error(`transition ${from} → ${to} of ${label}-${i} did not apply`);
    });
  }
  const t2 = performance.now();
  const open = await store.countOpen('default');
  if (open.queued + open.sent + open.acknowledged !== 0) throw new Error('commands left open');
  const addS = (t1 - t0) / 1000;
  const moveS = (t2 - t1) / 1000;
  console.log(
    `${label.padEnd(34)} ${N} adds ${addS.toFixed(2)} s (${Math.round(N / addS)}/s), ` +
      `${3 * N} transitions ${moveS.toFixed(2)} s (${Math.round((3 * N) / moveS)}/s), ` +
      `total ${(addS + moveS).toFixed(2)} s`,
  );
}

for (const synchronous of ['FULL', 'NORMAL'] as const) {
  for (const width of [CONCURRENCY, 1]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-cmd-bench-'));
    const storage = openSqliteStorage({ dataDir: dir, synchronous });
    try {
      await run(`sqlite-${synchronous.toLowerCase()}-c${width}`, storage.commands, width);
    } finally {
      await storage.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (args.includes('--pg')) {
  const db = await pgTestDatabase([PG_COMMAND_MIGRATIONS]);
  try {
    await run(`postgres-c${CONCURRENCY}-pool4`, new PgCommandStore(db), CONCURRENCY);
  } finally {
    await db.drop();
  }
}
