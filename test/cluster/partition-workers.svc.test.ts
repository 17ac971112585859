/**
 * The ingest cluster end to end on the machine's NATS and PostgreSQL: three worker processes share
 * 12 partitions 4/4/4; a publisher sends 20 000 messages; one worker is killed with SIGKILL
 * mid-stream, the survivors take its partitions over (the time from the kill to the takeover and to
 * the first commit is measured and printed), it is restarted later, gets its share back and commits it (1 000 more messages). Every
 * published message is committed exactly once (count and uniqueness in the table), hostile ones
 * (SQL in the twin id, non-UTF-8 payload bytes) included and intact; a 1 MB payload is refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openJetStreamIngestBus,
  type JetStreamIngestBus,
} from '../../src/adapters/nats/jetstream-ingest-bus.js';
import { PG_LEASE_MIGRATIONS } from '../../src/adapters/postgres/pg-partition-leases.js';
import { pgTestDatabase } from '../../src/adapters/postgres/pg-test-fixture.js';
import type { IngestMessage } from '../../src/core/ports/cluster.js';
import { caught } from '../support/caught.js';
import { PG_READINGS_SINK_MIGRATIONS } from './pg-readings-sink.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const run = crypto.randomBytes(4).toString('hex');
const prefix = `tltest.cluster${run}`;
const PARTITIONS = 12;
const TOTAL = 20_000;
const HOSTILE_TWIN = "'; DROP TABLE x; --";
const HOSTILE_BYTES = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x0a]);

let db: Awaited<ReturnType<typeof pgTestDatabase>>;
let bus: JetStreamIngestBus;
const children = new Map<string, { child: ChildProcess; log: string[] }>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startWorker(owner: string): void {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(here, 'ingest-worker-child.ts'),
      owner,
      db.schema,
      prefix,
      String(PARTITIONS),
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log: string[] = [];
  child.stdout.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));
  child.stderr.on('data', (d: Buffer) => log.push(`stderr: ${d.toString()}`));
  children.set(owner, { child, log });
}

async function kill9(owner: string): Promise<void> {
  const { child } = children.get(owner)!;
  child.kill('SIGKILL');
  await new Promise<void>((r) =>
    child.exitCode !== null || child.signalCode ? r() : child.once('exit', () => r()),
  );
}

/** owner → partitions, from the lease table (live leases only). */
async function ownership(): Promise<Map<string, number[]>> {
  const r = await db.query<{ owner: string; partition: number }>(
    'SELECT owner, partition FROM twinloop_partition_leases WHERE owner IS NOT NULL AND expires_at >= now() ORDER BY partition',
  );
  const m = new Map<string, number[]>();
  for (const row of r.rows) m.set(row.owner, [...(m.get(row.owner) ?? []), row.partition]);
  return m;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(100);
  }
  const logs = [...children]
    .map(
      ([o, c]) =>
        `${o}:\n${c.log
          .filter((l) => !l.includes('"status"'))
          .slice(-30)
          .join('\n')}`,
    )
    .join('\n');
  throw new Error(`timed out waiting for ${what}\n${logs}`);
}

async function balanced(owners: string[]): Promise<Map<string, number[]> | undefined> {
  const m = await ownership();
  const counts = owners.map((o) => m.get(o)?.length ?? 0);
  return counts.every((c) => c === PARTITIONS / owners.length) && m.size === owners.length ? m : undefined;
}

const message = (i: number): IngestMessage => ({
  id: `${run}-${i}`,
  topic: `devices/twin-${i % 997}/telemetry`,
  payload: Buffer.from(JSON.stringify({ i, v: i * 0.5 })),
  clientId: `client-${i % 997}`,
  receivedAt: 1_700_000_000_000 + i,
  twinId: `twin-${i % 997}`,
});

beforeAll(async () => {
  db = await pgTestDatabase([PG_LEASE_MIGRATIONS, PG_READINGS_SINK_MIGRATIONS]);
  bus = await openJetStreamIngestBus({ url: NATS_URL, subjectPrefix: prefix, partitions: PARTITIONS });
});

afterAll(async () => {
  for (const { child } of children.values())
    if (child.exitCode === null && !child.signalCode) child.kill('SIGKILL');
  await bus.destroy();
  await bus.close();
  await db.drop();
});

describe('three ingest workers in separate processes (machine NATS and PostgreSQL)', () => {
  it(
    'commit 20 000 messages exactly once across a SIGKILL, a takeover and a restart',
    { timeout: 240_000 },
    async () => {
      const owners = ['w1', 'w2', 'w3'].map((w) => `${w}-${run}`);
      for (const o of owners) startWorker(o);
      const first = await waitFor('a 4/4/4 split', () => balanced(owners), 60_000);
      expect([...first.values()].flat().sort((a, b) => a - b)).toEqual([...Array(PARTITIONS).keys()]);

      // hostile messages first (they must come out intact), then the stream with a SIGKILL in it
      const hostile: IngestMessage = {
        id: `${run}-hostile`,
        topic: `devices/${HOSTILE_TWIN}/telemetry`,
        payload: HOSTILE_BYTES,
        clientId: HOSTILE_TWIN,
        receivedAt: 1,
        twinId: HOSTILE_TWIN,
      };
      await bus.publish(hostile);
      const tooBig = await caught(
        bus.publish({ ...hostile, id: `${run}-big`, payload: new Uint8Array(1024 * 1024 + 1) }),
      );
      expect(tooBig).toMatchObject({ code: 'PayloadTooLarge' });

      const victim = owners[1]!;
      const victimParts = first.get(victim)!;
      let killedAt = 0;
      const survivors = owners.filter((o) => o !== victim);
      // Polled from the moment of the kill, while the publisher goes on.
      const watchTakeover = () =>
        waitFor(
          'the takeover',
          async () => {
            const m = await ownership();
            const owned = survivors.flatMap((o) => m.get(o) ?? []);
            return victimParts.every((p) => owned.includes(p)) ? Date.now() : undefined;
          },
          30_000,
        );
      let takeover: Promise<number> | undefined;
      const started = Date.now();
      const CONCURRENCY = 64;
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < TOTAL) {
            const i = next++;
            if (i === Math.floor(TOTAL * 0.4) && !killedAt) {
              killedAt = -1;
              await kill9(victim);
              killedAt = Date.now();
              takeover = watchTakeover();
            }
            await bus.publish(message(i));
          }
        }),
      );
      const publishMs = Date.now() - started;

      // takeover: the victim's partitions owned by survivors, and committing again
      const takenAt = await takeover!;
      const resumed = await waitFor(
        'commits on the victim partitions',
        async () => {
          const r = await db.query<{ partition: number; first_ms: number }>(
            `SELECT partition, (extract(epoch from min(committed_at)) * 1000)::bigint AS first_ms
             FROM readings WHERE partition = ANY($1) AND owner <> $2 AND committed_at > to_timestamp($3 / 1000.0)
            GROUP BY partition`,
            [victimParts, victim, killedAt],
          );
          return r.rows.length === victimParts.length ? r.rows : undefined;
        },
        30_000,
      );
      const resumeMs = resumed.map((r) => r.first_ms - killedAt);
      const lastResume = Math.max(...resumeMs);

      // the victim comes back (a new process, so a new owner name) and gets its share back
      await sleep(1000);
      const back = `w2b-${run}`;
      startWorker(back);
      const final = await waitFor(
        'a 4/4/4 split after the restart',
        () => balanced([owners[0]!, owners[2]!, back]),
        60_000,
      );

      // a last round after the restart, so the restarted worker has its share to commit
      const AFTER = 1000;
      await Promise.all(
        Array.from({ length: 20 }, async (_, k) => {
          for (let i = TOTAL + k; i < TOTAL + AFTER; i += 20) await bus.publish(message(i));
        }),
      );
      const expected = TOTAL + AFTER + 1;
      const giveUp = Date.now() + 40_000;
      const counts = await waitFor(
        'every message committed',
        async () => {
          const r = await db.query<{ n: number; ids: number; seqs: number }>(
            'SELECT count(*)::int AS n, count(DISTINCT msg_id)::int AS ids, count(DISTINCT seq)::int AS seqs FROM readings',
          );
          const row = r.rows[0]!;
          return row.n >= expected || Date.now() > giveUp ? row : undefined;
        },
        90_000,
      );
      await sleep(1500); // anything committed twice late would show up now
      const again = (
        await db.query<{ n: number; ids: number }>(
          'SELECT count(*)::int AS n, count(DISTINCT msg_id)::int AS ids FROM readings',
        )
      ).rows[0]!;
      const missing = await db.query<{ i: number }>(
        `SELECT i FROM generate_series(0, $1 - 1) AS i WHERE NOT EXISTS (SELECT 1 FROM readings WHERE msg_id = $2 || '-' || i)`,
        [TOTAL + AFTER, run],
      );
      const byOwner = await db.query<{ owner: string; n: number }>(
        'SELECT owner, count(*)::int AS n FROM readings GROUP BY owner ORDER BY owner',
      );
      const stored = await db.query<{
        twin_id: string;
        client_id: string;
        payload: Buffer;
        partition: number;
      }>('SELECT twin_id, client_id, payload, partition FROM readings WHERE msg_id = $1', [`${run}-hostile`]);

      if (process.env.DEBUG_CLUSTER)
        for (const o of survivors)
          console.log(
            `[cluster] ${o} after the kill (t=${killedAt}):\n` +
              children
                .get(o)!
                .log.filter((l) => !l.includes('"status"') && Number(/"t":(\d+)/.exec(l)?.[1]) >= killedAt)
                .slice(0, 20)
                .join('\n'),
          );
      if (missing.rows.length) {
        const m = missing.rows.map((r) => ({ i: r.i, p: bus.partitionOf(message(r.i).twinId) }));
        const cps = await db.query('SELECT * FROM ingest_checkpoints ORDER BY partition');
        const logs = [...children]
          .map(([o, c]) => `${o}:\n${c.log.filter((l) => !l.includes('"status"')).join('\n')}`)
          .join('\n');
        const statuses = [...children].map(
          ([o, c]) => `${o}: ${c.log.filter((l) => l.includes('"status"')).at(-1) ?? ''}`,
        );
        console.log(`[cluster] STATUS\n${statuses.join('\n')}`);
        console.log(
          `[cluster] MISSING ${m.length}: ${JSON.stringify(m.slice(0, 50))}\n${JSON.stringify(cps.rows)}\n${logs}`,
        );
      }
      console.log(
        `[cluster] published ${TOTAL} in ${publishMs} ms; SIGKILL of ${victim} (partitions ${victimParts.join(',')}); ` +
          `leases taken over ${takenAt - killedAt} ms after the kill (polled every 100 ms); first commit per partition ` +
          `${resumeMs.join('/')} ms after the kill (all resumed within ${lastResume} ms); ` +
          `committed rows ${again.n}, distinct ids ${again.ids}; per owner ${byOwner.rows.map((r) => `${r.owner}=${r.n}`).join(' ')}; ` +
          `final split ${[...final.values()].map((v) => v.length).join('/')}`,
      );

      expect(counts).toMatchObject({ n: expected, ids: expected, seqs: expected });
      expect(again).toEqual({ n: expected, ids: expected });
      expect(missing.rows).toEqual([]);
      expect(stored.rows).toHaveLength(1);
      expect(stored.rows[0]!.twin_id).toBe(HOSTILE_TWIN);
      expect(stored.rows[0]!.client_id).toBe(HOSTILE_TWIN);
      expect(stored.rows[0]!.partition).toBe(bus.partitionOf(HOSTILE_TWIN));
      expect(Buffer.compare(stored.rows[0]!.payload, HOSTILE_BYTES)).toBe(0);
      expect((await db.query("SELECT to_regclass('x') AS t")).rows[0]).toEqual({ t: null });
      expect(lastResume).toBeLessThan(5000);
      // the restarted worker committed its share of the last round (its 4 partitions of 12)
      expect(byOwner.rows.find((r) => r.owner === back)?.n ?? 0).toBeGreaterThan(AFTER / 12);

      // clean stop: leases released
      for (const o of [owners[0]!, owners[2]!, back]) children.get(o)!.child.kill('SIGTERM');
      await waitFor(
        'the leases released',
        async () => ((await ownership()).size === 0 ? true : undefined),
        20_000,
      );
    },
  );
});
