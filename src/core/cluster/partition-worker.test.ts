/**
 * The worker loop over in-memory ports (the real adapters are tested in *.svc.test.ts and in
 * test/cluster): fair share between workers, start at the checkpoint, exactly once across a failed
 * commit, fencing when the lease is taken away, and a survivor taking over a stopped worker's share.
 */
import { describe, expect, it } from 'vitest';
import type {
  BusMessage,
  ClusterView,
  IngestBatch,
  IngestBatchSink,
  IngestBus,
  IngestMessage,
  PartitionLease,
  PartitionLeases,
  PartitionReader,
} from '../ports/cluster.js';
import { partitionOfTwin } from '../ports/cluster.js';
import { describePartitionLeasesContract } from '../ports/partition-leases.contract.js';
import { PartitionWorker } from './partition-worker.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class MemoryBus implements IngestBus {
  readonly log: BusMessage[] = [];
  readonly opened: { partition: number; fromSeq?: number; epoch: number }[] = [];
  constructor(readonly partitions: number) {}
  partitionOf(twinId: string): number {
    return partitionOfTwin(twinId, this.partitions);
  }
  publish(m: IngestMessage) {
    const partition = this.partitionOf(m.twinId);
    const seq = this.log.length + 1;
    this.log.push({ ...m, partition, seq, deliveries: 1 });
    return Promise.resolve({ partition, seq, duplicate: false });
  }
  openPartition(partition: number, o: { fromSeq?: number; epoch: number }): Promise<PartitionReader> {
    this.opened.push({ partition, ...o });
    let cursor = o.fromSeq ?? 1;
    const log = this.log;
    return Promise.resolve({
      partition,
      async next(max: number, waitMs: number): Promise<IngestBatch> {
        const end = Date.now() + waitMs;
        for (;;) {
          const messages = log.filter((m) => m.partition === partition && m.seq >= cursor).slice(0, max);
          if (messages.length || Date.now() >= end) {
            if (messages.length) cursor = messages[messages.length - 1]!.seq + 1;
            return {
              partition,
              messages,
              lastSeq: messages[messages.length - 1]?.seq ?? 0,
              ack: () => Promise.resolve(),
            };
          }
          await sleep(5);
        }
      },
      close: () => Promise.resolve(),
    });
  }
  close() {
    return Promise.resolve();
  }
}

class MemoryLeases implements PartitionLeases {
  readonly rows = new Map<number, PartitionLease>();
  readonly members = new Map<string, number>();
  acquire(partition: number, owner: string, ttl: number) {
    const cur = this.rows.get(partition);
    if (cur && cur.owner !== owner && cur.expiresAt >= Date.now()) return Promise.resolve(undefined);
    const lease = { partition, owner, epoch: (cur?.epoch ?? 0) + 1, expiresAt: Date.now() + ttl };
    this.rows.set(partition, lease);
    return Promise.resolve({ ...lease });
  }
  renew(l: PartitionLease, ttl: number) {
    const cur = this.rows.get(l.partition);
    if (!cur || cur.owner !== l.owner || cur.epoch !== l.epoch || cur.expiresAt < Date.now())
      return Promise.resolve(undefined);
    cur.expiresAt = Date.now() + ttl;
    return Promise.resolve({ ...cur });
  }
  release(l: PartitionLease) {
    const cur = this.rows.get(l.partition);
    if (cur && cur.owner === l.owner && cur.epoch === l.epoch) cur.expiresAt = 0;
    return Promise.resolve();
  }
  heartbeat(owner: string, ttl: number): Promise<ClusterView> {
    this.members.set(owner, Date.now() + ttl);
    const now = Date.now();
    return Promise.resolve({
      liveOwners: [...this.members]
        .filter(([, t]) => t >= now)
        .map(([o]) => o)
        .sort(),
      leases: [...this.rows.values()].filter((l) => l.expiresAt >= now).map((l) => ({ ...l })),
    });
  }
  leave(owner: string) {
    this.members.delete(owner);
    return Promise.resolve();
  }
  /** Another owner takes the partition (as after an expiry the worker did not see). */
  steal(partition: number, owner: string) {
    const cur = this.rows.get(partition)!;
    this.rows.set(partition, { partition, owner, epoch: cur.epoch + 1, expiresAt: Date.now() + 60_000 });
  }
  owners(): Map<string, number[]> {
    const m = new Map<string, number[]>();
    for (const l of this.rows.values())
      if (l.expiresAt >= Date.now())
        m.set(
          l.owner,
          [...(m.get(l.owner) ?? []), l.partition].sort((a, b) => a - b),
        );
    return m;
  }
}

class MemorySink implements IngestBatchSink {
  readonly stored: { owner: string; m: BusMessage }[] = [];
  readonly checkpoints = new Map<number, number>();
  failNext = 0;
  constructor(private readonly owner = 'any') {}
  as(owner: string): IngestBatchSink {
    return {
      commit: (p, ms, last) => this.commitAs(owner, p, ms, last),
      checkpoint: (p) => this.checkpoint(p),
    };
  }
  commit(p: number, ms: readonly BusMessage[], last: number) {
    return this.commitAs(this.owner, p, ms, last);
  }
  commitAs(owner: string, p: number, ms: readonly BusMessage[], last: number): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error('commit failed (test)'));
    }
    const at = this.checkpoints.get(p) ?? 0;
    for (const m of ms) if (m.seq > at) this.stored.push({ owner, m });
    this.checkpoints.set(p, Math.max(at, last));
    return Promise.resolve();
  }
  checkpoint(p: number) {
    return Promise.resolve(this.checkpoints.get(p));
  }
}

// The in-memory leases of these tests behave like the PostgreSQL ones.
describePartitionLeasesContract('memory (test double)', () =>
  Promise.resolve({ leases: new MemoryLeases(), cleanup: () => Promise.resolve() }),
);

const msg = (i: number, twin = `twin-${i % 37}`): IngestMessage => ({
  id: `m${i}`,
  topic: 't',
  payload: new Uint8Array([i & 0xff]),
  clientId: 'c',
  receivedAt: i,
  twinId: twin,
});

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

const options = { leaseTtlMs: 300, tickMs: 50, readWaitMs: 20, retryDelayMs: 10, batchSize: 50 };

describe('PartitionWorker', () => {
  it('two workers split the partitions evenly and commit every message once', async () => {
    const bus = new MemoryBus(8);
    const leases = new MemoryLeases();
    const sink = new MemorySink();
    const w1 = new PartitionWorker({ owner: 'w1', bus, leases, sink: sink.as('w1'), ...options });
    const w2 = new PartitionWorker({ owner: 'w2', bus, leases, sink: sink.as('w2'), ...options });
    w1.start();
    w2.start();
    await until(
      'a 4/4 split',
      () => leases.owners().get('w1')?.length === 4 && leases.owners().get('w2')?.length === 4,
    );
    for (let i = 0; i < 1000; i++) await bus.publish(msg(i));
    await until('all committed', () => sink.stored.length >= 1000);
    await sleep(100);
    expect(sink.stored).toHaveLength(1000);
    expect(new Set(sink.stored.map((s) => s.m.id)).size).toBe(1000);
    // per partition in bus order, each by the owner of the partition
    for (let p = 0; p < 8; p++) {
      const seqs = sink.stored.filter((s) => s.m.partition === p).map((s) => s.m.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    const st = w1.status();
    expect(st.partitions.map((p) => p.partition)).toEqual(leases.owners().get('w1'));
    expect(st.partitions.every((p) => p.committedSeq > 0 && p.lastCommitAt !== undefined)).toBe(true);
    expect(st.liveOwners).toBe(2);
    await w1.stop();
    await w2.stop();
    expect(leases.owners().size).toBe(0);
  });

  it('starts at the checkpoint and never stores what is at or below it', async () => {
    const bus = new MemoryBus(1);
    const leases = new MemoryLeases();
    const sink = new MemorySink();
    for (let i = 0; i < 20; i++) await bus.publish(msg(i));
    sink.checkpoints.set(0, 12);
    const w = new PartitionWorker({ owner: 'w', bus, leases, sink, ...options });
    w.start();
    await until('committed', () => sink.checkpoints.get(0) === 20);
    await w.stop();
    expect(bus.opened[0]).toMatchObject({ partition: 0, fromSeq: 13, epoch: 1 });
    expect(sink.stored.map((s) => s.m.seq)).toEqual([13, 14, 15, 16, 17, 18, 19, 20]);
  });

  it('after a failed commit it reopens from the checkpoint: nothing lost, nothing twice', async () => {
    const bus = new MemoryBus(1);
    const leases = new MemoryLeases();
    const sink = new MemorySink();
    const logs: string[] = [];
    for (let i = 0; i < 120; i++) await bus.publish(msg(i));
    sink.failNext = 2;
    const w = new PartitionWorker({
      owner: 'w',
      bus,
      leases,
      sink,
      ...options,
      log: (l, m) => logs.push(`${l} ${m}`),
    });
    w.start();
    await until('committed', () => sink.checkpoints.get(0) === 120);
    await w.stop();
    expect(sink.stored.map((s) => s.m.seq)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(bus.opened.length).toBe(3);
    expect(logs.filter((l) => l.startsWith('error partition 0'))).toHaveLength(2);
    expect(w.status().lastError).toMatch(/commit failed/);
  });

  it('stops consuming a partition the moment its lease is lost (fencing)', async () => {
    const bus = new MemoryBus(2);
    const leases = new MemoryLeases();
    const sink = new MemorySink();
    const logs: string[] = [];
    const w = new PartitionWorker({
      owner: 'w',
      bus,
      leases,
      sink: sink.as('w'),
      ...options,
      log: (l, m) => logs.push(`${l} ${m}`),
    });
    w.start();
    await until('both owned', () => leases.owners().get('w')?.length === 2);
    const p0 = [...Array(100).keys()].map((i) => msg(i)).filter((m) => bus.partitionOf(m.twinId) === 0);
    await bus.publish(p0[0]!);
    await until('first committed', () => sink.stored.length === 1);
    leases.steal(0, 'thief');
    await until('lease loss seen', () => logs.some((l) => l.includes('lease lost')));
    await until('partition 0 dropped', () => !w.status().partitions.some((p) => p.partition === 0));
    for (const m of p0.slice(1)) await bus.publish(m);
    await sleep(300);
    expect(sink.stored.filter((s) => s.m.partition === 0)).toHaveLength(1);
    // the thief's lease is untouched, and the worker does not take the partition back while it is held
    expect(leases.owners().get('thief')).toEqual([0]);
    expect(w.status().partitions.map((p) => p.partition)).toEqual([1]);
    await w.stop();
  });

  it("takes over a stopped worker's partitions within the lease TTL", async () => {
    const bus = new MemoryBus(6);
    const leases = new MemoryLeases();
    const sink = new MemorySink();
    const w1 = new PartitionWorker({ owner: 'w1', bus, leases, sink: sink.as('w1'), ...options });
    const w2 = new PartitionWorker({ owner: 'w2', bus, leases, sink: sink.as('w2'), ...options });
    w1.start();
    w2.start();
    await until(
      'a 3/3 split',
      () => leases.owners().get('w1')?.length === 3 && leases.owners().get('w2')?.length === 3,
    );
    // w2 dies without releasing anything: its heartbeat and leases just stop being renewed
    (w2 as unknown as { running: boolean }).running = false;
    const t0 = Date.now();
    await until('w1 owns all', () => leases.owners().get('w1')?.length === 6, 3000);
    expect(Date.now() - t0).toBeLessThan(1000);
    for (let i = 0; i < 200; i++) await bus.publish(msg(i));
    await until('all committed', () => sink.stored.length === 200);
    await w1.stop();
  });

  it('a partition whose local deadline passed pauses and resumes; its loop never ends by itself', async () => {
    // The local clock jumps past the lease deadline for a moment (a stalled process) and back
    // (the renewal came through in time). The control loop does not run meanwhile (long tick).
    const bus = new MemoryBus(1);
    const leases = new MemoryLeases();
    const sink = new MemorySink();
    let offset = 0;
    const w = new PartitionWorker({
      owner: 'w',
      bus,
      leases,
      sink,
      ...options,
      leaseTtlMs: 5000,
      tickMs: 3000,
      now: () => Date.now() + offset,
    });
    w.start();
    await until('owned', () => w.status().partitions.length === 1);
    await sleep(50);
    offset = 60_000;
    await sleep(200);
    expect(w.status().partitions[0]?.phase).toBe('paused');
    await bus.publish(msg(1));
    await sleep(100);
    expect(sink.stored).toHaveLength(0); // no commit without a valid lease
    offset = 0;
    await bus.publish(msg(2));
    await until('both committed after the pause', () => sink.stored.length === 2, 1500);
    expect(sink.stored.map((x) => x.m.seq)).toEqual([1, 2]);
    await w.stop();
  });
});
