/**
 * The alarm service: what happens to an alarm once a rule raised it. It implements the rules
 * engine's AlarmSink (raise → a new alarm, or a repeat of the open one; conditionCleared → cleared by
 * its condition, acknowledged or not) and the people's side (ack, clear, get, list).
 *
 * Every operation goes through one queue, drained by one writer: operations apply in the order
 * they came (so writes of one alarm key never race within this node), and a drain writes everything
 * it changed in ONE store write — a burst of 1,000 repeats is one commit (one fsync), not 1,000.
 * Raises wait up to `batchDelayMs` to gather; ack and clear drain at once. Listeners hear each
 * transition after the write is durable; consecutive repeats of an alarm within a drain are told
 * once, with the count. Event-route rows (`journal`) are written in the same transaction as the alarms.
 *
 * Between nodes (several services on one PostgreSQL) nothing is lost either: each alarm is written
 * over the revision this drain read, and a batch refused because another node wrote one of its
 * alarms first (or opened the alarm of a key first) is re-read and re-applied — the same operations,
 * so a repeat counts once and a person's acknowledgement is never overwritten by a stale repeat.
 * After `conflictAttempts` refusals the batch fails as any write does (ack and clear reject with
 * Conflict, raises go to onError).
 */
import {
  ALARM_SEVERITY_LIST,
  acknowledgeAlarm,
  alarmKey,
  alarmKeptChanging,
  alarmNotFound,
  clearAlarm,
  isAlarmWriteConflict,
  isOpen,
  newAlarm,
  repeatAlarm,
  CLEARED_BY_CONDITION,
  type AlarmEvent,
  type AlarmRecord,
  type AlarmSeverityName,
} from '../../core/alarms/alarm.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { AlarmQuery, AlarmReads, AlarmStore, AlarmWrite } from '../../core/ports/alarm-store.js';
import type { OutboxRow } from '../../core/ports/event-routing.js';
import type { AlarmConditionCleared, AlarmRaise, AlarmSeverity, AlarmSink } from '../analytics-types.js';

// The core's severity list and the analytics one are the same list (a compile-time check).
const sameSeverities: [AlarmSeverity, AlarmSeverityName] extends [AlarmSeverityName, AlarmSeverity]
  ? true
  : never = true;
void sameSeverities;

/** Longest message, comment and reason kept (characters; longer ones are cut with an ellipsis). */
export const MAX_ALARM_TEXT = 2000;
/** Longest `by` (a person's name or id). */
export const MAX_ALARM_BY = 200;

export type AlarmListener = (events: readonly AlarmEvent[]) => void;

export interface AlarmServiceOptions {
  store: AlarmStore;
  /** Clock for acknowledgements and manual clears (ms; default Date.now). */
  now?: () => number;
  /** New alarm ids (default: random UUIDs). */
  newId?: () => string;
  /** How long raises wait to be written together (default 10 ms). */
  batchDelayMs?: number;
  /** Most operations one drain takes (default 10,000). */
  maxBatch?: number;
  /** Most operations waiting; raises beyond it are dropped and counted (default 100,000). */
  maxQueued?: number;
  /** The event-route outbox rows of a drain's transitions, written with the alarms. */
  journal?: (events: readonly AlarmEvent[]) => OutboxRow[];
  /** Told about raises that could not be stored or were refused (never thrown to the rules engine). */
  onError?: (err: unknown, what: string) => void;
  /**
   * Writes of one batch before giving up when other nodes keep changing the same alarms (each
   * refused write is re-read and re-applied; default 6).
   */
  conflictAttempts?: number;
  /** First wait before trying a refused batch again, ms; doubles each time, jittered (default 5). */
  conflictRetryMs?: number;
}

type Op =
  | { kind: 'raise'; r: AlarmRaise }
  | { kind: 'condition'; c: AlarmConditionCleared }
  | {
      kind: 'ack' | 'clear';
      workspace: string;
      id: string;
      by: string;
      text: string | undefined;
      resolve: (a: AlarmRecord) => void;
      reject: (e: unknown) => void;
    };

export interface AlarmServiceStats {
  raises: number;
  /** Store writes (commits). */
  writes: number;
  /** Raises dropped because the queue was full or the raise was malformed. */
  dropped: number;
  failedWrites: number;
  /** Batches written again because another node changed the same alarms first. */
  conflicts: number;
}

function cut(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * @example
 *   const alarms = new AlarmService({ store: storage.alarms });
 *   alarms.subscribe((events) => bus.publish(events.map((e) => alarmLiveEvent(e, modelOf(e)))));
 *   rules.setSink(alarms); // raise / conditionCleared
 *   await alarms.ack('default', id, 'ana', 'on my way');
 */
export class AlarmService implements AlarmSink {
  readonly stats: AlarmServiceStats = { raises: 0, writes: 0, dropped: 0, failedWrites: 0, conflicts: 0 };
  private readonly store: AlarmStore;
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly delay: number;
  private readonly maxBatch: number;
  private readonly maxQueued: number;
  private readonly attempts: number;
  private readonly retryMs: number;
  private readonly listeners = new Set<AlarmListener>();
  private queue: Op[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private urgent = false;
  private draining: Promise<void> | undefined;
  private idle: (() => void)[] = [];
  private closed = false;

  constructor(private readonly o: AlarmServiceOptions) {
    this.store = o.store;
    this.now = o.now ?? Date.now;
    this.newId = o.newId ?? (() => globalThis.crypto.randomUUID());
    this.delay = o.batchDelayMs ?? 10;
    this.maxBatch = o.maxBatch ?? 10_000;
    this.maxQueued = o.maxQueued ?? 100_000;
    this.attempts = Math.max(1, o.conflictAttempts ?? 6);
    this.retryMs = Math.max(0, o.conflictRetryMs ?? 5);
  }

  /** Registers a listener of transitions (told after they are durable); returns the remover. */
  subscribe(listener: AlarmListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A rule's condition holds: a new alarm, or a repeat of the open one (written within batchDelayMs). */
  raise(a: AlarmRaise): void {
    this.stats.raises++;
    const problem = raiseProblem(a);
    if (problem !== undefined || this.closed || this.queue.length >= this.maxQueued) {
      this.stats.dropped++;
      this.o.onError?.(
        new TwinloopError(
          problem ? 'BadRequest' : 'ServiceUnavailable',
          problem ?? (this.closed ? 'The alarm service is closed.' : 'Too many alarm operations wait.'),
        ),
        `raise of rule '${String(a?.ruleId)}' for twin '${String(a?.twinId)}'`,
      );
      return;
    }
    const r: AlarmRaise = { ...a, message: cut(a.message, MAX_ALARM_TEXT) };
    // A value that JSON cannot carry (NaN, ±Infinity, not a number) is left out; the alarm stays.
    if (r.value !== undefined && !Number.isFinite(r.value)) delete r.value;
    this.push({ kind: 'raise', r }, false);
  }

  /** A rule's condition no longer holds: its open alarm (if any) is cleared by 'condition'. */
  conditionCleared(c: AlarmConditionCleared): void {
    if (this.closed) return;
    this.push({ kind: 'condition', c: { ...c, reason: cut(String(c.reason ?? ''), MAX_ALARM_TEXT) } }, false);
  }

  /**
   * Acknowledges an alarm (active, or cleared and not yet acknowledged).
   * @throws NotFound (no such alarm); Conflict (already acknowledged); StorageError
   */
  ack(workspace: string, id: string, by: string, comment?: string): Promise<AlarmRecord> {
    return this.person('ack', workspace, id, by, comment);
  }

  /**
   * Clears an open alarm by hand. @throws NotFound; Conflict (already cleared); StorageError
   */
  clear(workspace: string, id: string, by: string, reason?: string): Promise<AlarmRecord> {
    return this.person('clear', workspace, id, by, reason);
  }

  /** The alarm. @throws NotFound; StorageError */
  async get(workspace: string, id: string): Promise<AlarmRecord> {
    const a = await this.store.get(workspace, id);
    if (!a) throw alarmNotFound(id);
    return a;
  }

  /** Alarms, newest first (see AlarmQuery). @throws StorageError */
  list(q: AlarmQuery): Promise<AlarmRecord[]> {
    return this.store.list(q);
  }

  /** Resolves once every operation queued before the call is written (or failed). */
  flush(): Promise<void> {
    if (this.queue.length === 0 && !this.draining) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle.push(resolve);
      this.schedule(true);
    });
  }

  /** Writes what waits and stops taking raises. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private person(
    kind: 'ack' | 'clear',
    workspace: string,
    id: string,
    by: string,
    text: string | undefined,
  ): Promise<AlarmRecord> {
    if (this.closed)
      return Promise.reject(new TwinloopError('ServiceUnavailable', 'The alarm service is closed.'));
    return new Promise((resolve, reject) => {
      this.push(
        {
          kind,
          workspace,
          id,
          by: cut(by, MAX_ALARM_BY),
          text: text === undefined ? undefined : cut(text, MAX_ALARM_TEXT),
          resolve,
          reject,
        },
        true,
      );
    });
  }

  private push(op: Op, urgent: boolean): void {
    this.queue.push(op);
    this.schedule(urgent);
  }

  private schedule(urgent: boolean): void {
    if (urgent) this.urgent = true;
    if (this.draining) return; // the drain looks at the queue again when it ends
    if (this.timer && !this.urgent) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.urgent = false;
        this.draining = this.drain().finally(() => {
          this.draining = undefined;
          if (this.queue.length) this.schedule(this.urgent || this.idle.length > 0);
          else for (const done of this.idle.splice(0)) done();
        });
      },
      this.urgent ? 0 : this.delay,
    );
  }

  /**
   * Takes a batch of operations and writes it; a write refused because another node changed the
   * same alarms (or opened one first) is tried again from a fresh read, a few times.
   */
  private async drain(): Promise<void> {
    const ops = this.queue.splice(0, this.maxBatch);
    for (let attempt = 1; ; attempt++) {
      let done: Applied;
      try {
        done = await this.attempt(ops, attempt > 1);
      } catch (e) {
        if (isAlarmWriteConflict(e) && attempt < this.attempts) {
          this.stats.conflicts++;
          await sleep(this.backoff(attempt));
          continue;
        }
        this.fail(ops, e, isAlarmWriteConflict(e) ? attempt : 0);
        return;
      }
      for (const s of done.settled) s();
      if (done.events.length)
        for (const l of this.listeners) {
          try {
            l(done.events);
          } catch (e) {
            this.o.onError?.(e, 'an alarm listener');
          }
        }
      return;
    }
  }

  /** A doubling step, ±50 % at random: two nodes that collided do not collide again in step. */
  private backoff(attempt: number): number {
    const step = Math.min(this.retryMs * 2 ** (attempt - 1), 250);
    return step / 2 + Math.random() * step;
  }

  /**
   * Reads what the batch needs, applies its operations in order and writes what changed in one store
   * write, each alarm over the revision it was read at. The first attempt reads without locks
   * (optimistic); a retry reads, applies and writes in one store transaction with what it read
   * locked (`modify`), so a batch that lost a race once cannot lose it again to a change of an alarm
   * it read — a person's ack is not starved by a stream of repeats on another node.
   * Resolves to what to tell once written.
   * @throws what the store throws (Conflict when another writer got there first)
   */
  private async attempt(ops: readonly Op[], locked: boolean): Promise<Applied> {
    const reads: { keys: ReadKey[]; ids: ReadId[] } = { keys: [], ids: [] };
    const seenKeys = new Set<string>();
    const seenIds = new Set<string>();
    for (const op of ops) {
      if (op.kind === 'raise' || op.kind === 'condition') {
        const x = op.kind === 'raise' ? op.r : op.c;
        const k = alarmKey(x);
        if (!seenKeys.has(k)) reads.keys.push({ workspace: x.workspace, twinId: x.twinId, ruleId: x.ruleId });
        seenKeys.add(k);
      } else {
        const k = idKey(op.workspace, op.id);
        if (!seenIds.has(k)) reads.ids.push({ workspace: op.workspace, id: op.id });
        seenIds.add(k);
      }
    }
    let planned: Planned | undefined;
    if (locked) {
      await this.store.modify(reads, (current) => (planned = this.plan(ops, reads, current)));
    } else {
      // One round trip per key and per id, concurrently (not one per operation).
      const current = await Promise.all([
        ...reads.keys.map((x) => this.store.open(x.workspace, x.twinId, x.ruleId)),
        ...reads.ids.map((x) => this.store.get(x.workspace, x.id)),
      ]);
      planned = this.plan(
        ops,
        reads,
        current.filter((a) => a !== undefined),
      );
      if (planned.changes.length) await this.store.write(planned.changes, planned.outbox);
    }
    if (planned?.changes.length) this.stats.writes++;
    return planned ?? { settled: [], events: [] };
  }

  /**
   * Applies the operations, in order, to the alarms as read (pure but for new ids and the clock):
   * the changes to write, each over the revision it was read at, and what to tell once written.
   */
  private plan(
    ops: readonly Op[],
    reads: { keys: readonly ReadKey[] },
    current: readonly AlarmRecord[],
  ): Planned {
    const byId = new Map<string, AlarmRecord>(); // workspace\0id → current record
    const readAt = new Map<string, number>(); // workspace\0id → the revision it was read at
    const openKey = new Map<string, string | null>(); // alarm key → workspace\0id of the open one
    for (const a of current) {
      const k = idKey(a.workspace, a.id);
      if (!byId.has(k)) {
        byId.set(k, a);
        readAt.set(k, a.revision);
      }
      if (isOpen(a) && !openKey.has(alarmKey(a))) openKey.set(alarmKey(a), k);
    }
    for (const x of reads.keys) if (!openKey.has(alarmKey(x))) openKey.set(alarmKey(x), null);

    const changed = new Set<string>();
    const events: AlarmEvent[] = [];
    const lastEvent = new Map<string, AlarmEvent>();
    const settled: (() => void)[] = [];
    const apply = (next: AlarmRecord, transition: AlarmEvent['transition']) => {
      const k = idKey(next.workspace, next.id);
      byId.set(k, next);
      openKey.set(alarmKey(next), isOpen(next) ? k : null);
      changed.add(k);
      const prev = lastEvent.get(k);
      if (transition === 'repeated' && prev?.transition === 'repeated') prev.alarm = next;
      else {
        const ev: AlarmEvent = { transition, alarm: next };
        events.push(ev);
        lastEvent.set(k, ev);
      }
    };
    for (const op of ops) {
      if (op.kind === 'raise') {
        const k = openKey.get(alarmKey(op.r));
        const cur = k ? byId.get(k) : undefined;
        if (cur) apply(repeatAlarm(cur, op.r), 'repeated');
        else apply(newAlarm(this.newId(), op.r), 'raised');
      } else if (op.kind === 'condition') {
        const k = openKey.get(alarmKey(op.c));
        const cur = k ? byId.get(k) : undefined;
        if (cur) apply(clearAlarm(cur, CLEARED_BY_CONDITION, op.c.reason, op.c.time), 'cleared');
      } else {
        const cur = byId.get(idKey(op.workspace, op.id));
        try {
          if (!cur) throw alarmNotFound(op.id);
          const next =
            op.kind === 'ack'
              ? acknowledgeAlarm(cur, op.by, op.text, this.now())
              : clearAlarm(cur, op.by, op.text ?? '', this.now());
          apply(next, op.kind === 'ack' ? 'acknowledged' : 'cleared');
          settled.push(() => op.resolve(next));
        } catch (e) {
          settled.push(() => op.reject(e)); // a refused transition changes nothing
        }
      }
    }
    const changes = [...changed].map((k) => ({ alarm: byId.get(k)!, expectedRevision: readAt.get(k) ?? 0 }));
    const outbox = changes.length ? (this.o.journal?.(events) ?? []) : [];
    return { changes, outbox, settled, events };
  }

  /** Rejects the people's operations and reports the rules' ones; `attempts` > 0 after conflicts. */
  private fail(ops: readonly Op[], e: unknown, attempts: number): void {
    this.stats.failedWrites++;
    let rulesOps = 0;
    for (const op of ops) {
      if (op.kind === 'ack' || op.kind === 'clear')
        op.reject(
          attempts
            ? alarmKeptChanging(op.kind === 'ack' ? 'acknowledged' : 'cleared', op.id, attempts, e)
            : e,
        );
      else rulesOps++;
    }
    if (rulesOps)
      this.o.onError?.(
        e,
        `writing ${rulesOps} alarm raise(s) and clear(s)${attempts ? ` (refused ${attempts} times: other nodes changed the same alarms)` : ''}`,
      );
  }
}

interface Applied {
  /** Resolutions of the people's operations, called once the write is durable. */
  settled: (() => void)[];
  events: AlarmEvent[];
}

interface Planned extends Applied {
  changes: AlarmWrite[];
  outbox: OutboxRow[];
}

type ReadKey = AlarmReads['keys'][number];
type ReadId = AlarmReads['ids'][number];

const idKey = (ws: string, id: string) => `${ws}\u0000${id}`;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Why a raise cannot become an alarm, or undefined. */
function raiseProblem(a: AlarmRaise): string | undefined {
  if (typeof a !== 'object' || a === null) return 'A raise must be an object.';
  for (const k of ['workspace', 'twinId', 'ruleId', 'message'] as const)
    if (typeof a[k] !== 'string' || (k !== 'message' && a[k] === '')) return `A raise needs a ${k}.`;
  if (!(ALARM_SEVERITY_LIST as readonly string[]).includes(a.severity))
    return `Unknown severity '${String(a.severity)}'.`;
  if (!Number.isFinite(a.time)) return 'A raise needs a finite time.';
  if (!Number.isSafeInteger(a.ruleVersion)) return 'A raise needs a whole rule version.';
  return undefined;
}
