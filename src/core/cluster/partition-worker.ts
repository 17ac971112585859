/**
 * The ingest worker loop, pure over the cluster ports: a worker keeps a heartbeat, owns a fair
 * share of the bus's partitions through leases (ceil(partitions / live workers); it takes free or
 * expired partitions up to that and gives back what is above it), and for each owned partition
 * reads batches from the committed checkpoint on, hands them to the sink (validate + append +
 * checkpoint in one transaction) and acks them after the sink resolved. It stops using a partition
 * the moment its lease is lost, or when its local lease deadline passes without a renewal (PostgreSQL
 * unreachable): then no further batch of that partition is committed by this worker.
 *
 * Exactly once: the bus delivers at least once; the sink stores a message only when its seq is
 * above the partition's checkpoint, in the transaction that moves the checkpoint, so a redelivery
 * (after a crash, a lost ack, a takeover) is skipped and a fenced-off owner's late commit stores nothing twice.
 */
import type {
  IngestBatchSink,
  IngestBus,
  PartitionLease,
  PartitionLeases,
  PartitionReader,
} from '../ports/cluster.js';

export type WorkerLogLevel = 'debug' | 'info' | 'warn' | 'error';
/** Where the worker says what it does (the app wires it to its logger). */
export type WorkerLog = (level: WorkerLogLevel, message: string, fields?: Record<string, unknown>) => void;

export interface PartitionWorkerOptions {
  /** Unique per process (a restarted process is a new owner). */
  owner: string;
  bus: IngestBus;
  leases: PartitionLeases;
  sink: IngestBatchSink;
  /** Lease and heartbeat TTL, ms (default 2500): a dead worker's partitions are taken over after about this. */
  leaseTtlMs?: number;
  /** How often leases are renewed and the share recomputed, ms (default leaseTtlMs / 4). */
  tickMs?: number;
  /** Most messages per batch (default 500). */
  batchSize?: number;
  /** How long one read waits for messages, ms (default 250). */
  readWaitMs?: number;
  /** Pause after an error of a partition before it is read again, ms (default 500). */
  retryDelayMs?: number;
  log?: WorkerLog;
  /** Local clock, ms (tests). */
  now?: () => number;
}

export interface PartitionStatus {
  partition: number;
  epoch: number;
  /** Last committed seq (the checkpoint), 0 before any. */
  committedSeq: number;
  /** Messages waiting on the bus after the last batch read, when known (lag). */
  pending?: number;
  /** Local time of the last commit, ms. */
  lastCommitAt?: number;
  /** Messages this worker committed for the partition since it took it. */
  committed: number;
  /** What the partition's loop is doing, and since when (local ms): a stuck step shows here. */
  phase: 'open' | 'read' | 'commit' | 'ack' | 'retry' | 'paused';
  phaseSince: number;
}

export interface WorkerStatus {
  owner: string;
  running: boolean;
  liveOwners: number;
  partitions: PartitionStatus[];
  /** Local time of the last successful heartbeat, ms. */
  lastHeartbeatAt?: number;
  lastError?: string;
}

interface Slot {
  lease: PartitionLease;
  /** Local deadline of the lease: after it, nothing more is committed. */
  validUntil: number;
  stopping: boolean;
  reader?: PartitionReader;
  loop?: Promise<void>;
  status: PartitionStatus;
}

export class PartitionWorker {
  private readonly ttl: number;
  private readonly tick: number;
  private readonly now: () => number;
  private readonly log: WorkerLog;
  private readonly slots = new Map<number, Slot>();
  private running = false;
  private control?: Promise<void>;
  private wake?: () => void;
  private liveOwners = 0;
  private lastHeartbeatAt?: number;
  private lastError?: string;

  constructor(private readonly o: PartitionWorkerOptions) {
    this.ttl = o.leaseTtlMs ?? 2500;
    this.tick = o.tickMs ?? Math.max(50, Math.floor(this.ttl / 4));
    this.now = o.now ?? Date.now;
    this.log = o.log ?? (() => undefined);
  }

  /** Starts the control loop (returns at once). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.control = this.controlLoop();
  }

  /** Stops reading, lets running commits finish, releases the leases and leaves the cluster. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake?.();
    await this.control;
    await Promise.all([...this.slots.keys()].map((p) => this.drop(p, true)));
    await this.o.leases.leave(this.o.owner).catch((e: unknown) => this.fail('leave', e));
  }

  status(): WorkerStatus {
    return {
      owner: this.o.owner,
      running: this.running,
      liveOwners: this.liveOwners,
      partitions: [...this.slots.values()]
        .map((s) => ({ ...s.status }))
        .sort((a, b) => a.partition - b.partition),
      lastHeartbeatAt: this.lastHeartbeatAt,
      lastError: this.lastError,
    };
  }

  private async controlLoop(): Promise<void> {
    while (this.running) {
      const started = this.now();
      try {
        await this.step();
      } catch (e) {
        this.fail('control', e);
      }
      const wait = Math.max(0, this.tick - (this.now() - started));
      await new Promise<void>((r) => {
        const t = setTimeout(r, wait);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  /** One round: heartbeat, renew, drop lost leases, take or give back partitions toward the fair share. */
  private async step(): Promise<void> {
    const { leases, owner } = this.o;
    // Leases whose local deadline passed (no renewal got through) are dropped first.
    for (const [p, s] of this.slots)
      if (this.now() >= s.validUntil) {
        this.log('warn', 'lease deadline passed without renewal: partition dropped', { partition: p });
        void this.drop(p, false);
      }
    const view = await leases.heartbeat(owner, this.ttl);
    this.lastHeartbeatAt = this.now();
    this.liveOwners = Math.max(1, view.liveOwners.length);
    // All renewals at once: one slow round trip must not eat into the other leases' time.
    const asked = this.now();
    const live = [...this.slots].filter(([, s]) => !s.stopping);
    const renewals = await Promise.all(
      live.map(([p, s]) =>
        leases.renew(s.lease, this.ttl).catch((e: unknown) => {
          this.fail(`renew ${p}`, e);
          return null;
        }),
      ),
    );
    live.forEach(([p, s], i) => {
      const renewed = renewals[i];
      if (renewed === undefined) {
        this.log('warn', 'lease lost: partition dropped', { partition: p, epoch: s.lease.epoch });
        void this.drop(p, false);
      } else if (renewed && !s.stopping) {
        s.lease = renewed;
        s.validUntil = asked + this.ttl;
      }
    });
    if (!this.running) return;
    const n = this.o.bus.partitions;
    const target = Math.ceil(n / this.liveOwners);
    const owned = [...this.slots.values()].filter((s) => !s.stopping).map((s) => s.lease.partition);
    if (owned.length > target) {
      // Give back the highest partitions above the share (after their current batch).
      for (const p of owned.sort((a, b) => b - a).slice(0, owned.length - target)) {
        this.log('info', 'giving back a partition above the fair share', { partition: p, target });
        await this.drop(p, true);
      }
      return;
    }
    if (owned.length >= target) return;
    const taken = new Set(view.leases.filter((l) => l.owner !== owner).map((l) => l.partition));
    const offset = spread(owner, n);
    const free: number[] = [];
    for (let i = 0; i < n; i++) {
      const p = (i + offset) % n;
      if (!taken.has(p) && !this.slots.has(p)) free.push(p);
    }
    let have = owned.length;
    for (const p of free) {
      if (have >= target || !this.running) break;
      const asked = this.now();
      const lease = await leases.acquire(p, owner, this.ttl).catch((e: unknown) => {
        this.fail(`acquire ${p}`, e);
        return undefined;
      });
      if (!lease) continue;
      have++;
      this.log('info', 'partition taken', { partition: p, epoch: lease.epoch });
      const slot: Slot = {
        lease,
        validUntil: asked + this.ttl,
        stopping: false,
        status: {
          partition: p,
          epoch: lease.epoch,
          committedSeq: 0,
          committed: 0,
          phase: 'open',
          phaseSince: this.now(),
        },
      };
      this.slots.set(p, slot);
      slot.loop = this.consume(slot);
    }
  }

  /** Stops a partition's loop (waits for it) and, when `release`, gives the lease back. */
  private async drop(p: number, release: boolean): Promise<void> {
    const s = this.slots.get(p);
    if (!s) return;
    s.stopping = true;
    await s.loop;
    this.slots.delete(p);
    if (release) await this.o.leases.release(s.lease).catch((e: unknown) => this.fail(`release ${p}`, e));
  }

  private valid(s: Slot): boolean {
    return !s.stopping && this.now() < s.validUntil;
  }

  private async consume(s: Slot): Promise<void> {
    const { bus, sink } = this.o;
    const p = s.lease.partition;
    const size = this.o.batchSize ?? 500;
    const wait = this.o.readWaitMs ?? 250;
    const phase = (x: PartitionStatus['phase']) => {
      s.status.phase = x;
      s.status.phaseSince = this.now();
    };
    // The loop ends only when the control loop stops the slot (lease lost, deadline passed, given
    // back, worker stopping). While the local lease deadline has passed and no renewal has come
    // through yet, it pauses: a loop that ended by itself would leave a partition whose lease is
    // still renewed but which nobody reads.
    const reset = async () => {
      await s.reader?.close();
      s.reader = undefined;
    };
    while (!s.stopping) {
      if (!this.valid(s)) {
        await reset();
        phase('paused');
        await new Promise((r) => setTimeout(r, Math.min(50, this.tick)));
        continue;
      }
      try {
        if (!s.reader) {
          phase('open');
          const cp = (await sink.checkpoint(p)) ?? 0;
          s.status.committedSeq = cp;
          if (!this.valid(s)) continue;
          const opening = this.now();
          s.reader = await bus.openPartition(p, { fromSeq: cp + 1, epoch: s.lease.epoch });
          this.log('info', 'partition reader opened', {
            partition: p,
            fromSeq: cp + 1,
            openMs: this.now() - opening,
          });
        }
        phase('read');
        const batch = await s.reader.next(size, wait);
        if (!this.valid(s)) {
          // Never commit without a valid lease. What was read and not acked would come again only
          // after the ack wait, behind newer messages: read again from the checkpoint instead.
          await reset();
          continue;
        }
        if (!batch.messages.length) {
          if (batch.pending !== undefined) s.status.pending = batch.pending;
          continue;
        }
        const fresh = batch.messages.filter((m) => m.seq > s.status.committedSeq);
        phase('commit');
        if (fresh.length) await sink.commit(p, fresh, batch.lastSeq);
        s.status.committedSeq = Math.max(s.status.committedSeq, batch.lastSeq);
        s.status.committed += fresh.length;
        s.status.lastCommitAt = this.now();
        s.status.pending = batch.pending;
        phase('ack');
        await batch.ack();
      } catch (e) {
        // Commit, ack or read failed: restart the partition from its checkpoint (keeps bus order;
        // what was delivered and not acked comes again and is skipped when already committed).
        this.fail(`partition ${p}`, e);
        phase('retry');
        await reset();
        await new Promise((r) => setTimeout(r, this.o.retryDelayMs ?? 500));
      }
    }
    await reset();
  }

  private fail(what: string, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.lastError = `${what}: ${message}`;
    this.log('error', `${what} failed`, { error: message });
  }
}

/** Where an owner starts looking for free partitions, so workers do not all race for partition 0. */
function spread(owner: string, n: number): number {
  let h = 0;
  for (let i = 0; i < owner.length; i++) h = (Math.imul(h, 31) + owner.charCodeAt(i)) >>> 0;
  return h % n;
}
