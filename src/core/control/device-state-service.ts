/**
 * The device's side of twins (docs/control.md, "Desired versus reported" and "Presence"): what
 * devices report on `twins/{id}/reported`, whether they are connected, and when a desired value
 * stays unapplied too long. The MQTT adapters call it (through the platform's DeviceInbox); every
 * method resolves once what it changed is durable, so the broker acknowledges only then.
 *
 * - Reported values and presence are the device's, not a user's write: they are stored with the
 *   `putDeviceState` op (the twin's etag and lastUpdateTime stay), holding the twin in the twin
 *   service's commit queue so they never interleave with a write to it (which carries the device
 *   state over). A read-only property a device reports is a real write through the twin service.
 * - Bad input (bad JSON, an unknown property, a wrong type, a `__proto__` key, an unknown twin) is
 *   dead-lettered whole, nothing of it applied, and the call resolves; only a storage failure rejects.
 * - lastSeen: `seen()` updates it in memory (queries and `$metadata` see it at once) and stores it
 *   at most once per `seenPersistMs` (default a minute) per twin, or with the next presence change
 *   or reported state, whichever comes first: a restart may lose under a minute of lastSeen, never
 *   a presence change. Chosen over a write per device message, which would cost a commit per message.
 * - Divergence: a property pending (desired set, reported different) for longer than
 *   `divergenceMs` (default 60 s) raises `Twinloop.DesiredState.Diverged` once, and
 *   `.Converged` when it agrees again. The pending time is kept in memory: after a restart it starts
 *   from the later of the property's desired and reported times.
 */
import { deviceDeadLetter } from './device-dead-letter.js';
import { isTwinloopError, type Problem } from '../errors/errors.js';
import { desiredValueOf, isPending } from '../graph/device-metadata.js';
import type { DevicePropertyState, TwinDeviceState, TwinGraph, TwinRecord } from '../graph/graph-types.js';
import { jsonEqual } from '../json/json-equal.js';
import { parseUntrustedJson } from '../json/untrusted-json.js';
import type { DeviceLiveEvent, LiveEvent } from '../live/live-events.js';
import type { ModelLookup } from '../models/model-types.js';
import type { DeviceControlMessage, PresenceSource } from '../ports/device-channel.js';
import type { DeadLetterStore } from '../ports/storage-ports.js';
import type { ChangeJournal, LiveEventSink } from '../ports/twin-write-ports.js';
import type { TwinCommitQueue } from '../twins/twin-commit-queue.js';
import { checkReported, DEFAULT_REPORTED_LIMITS, type ReportedLimits } from './reported-state.js';

export interface DeviceStateServiceOptions {
  workspace: string;
  graph: TwinGraph;
  models: ModelLookup;
  /** The twin service: its write path (read-only properties) and its commit queue. */
  twins: {
    update(id: string, patch: unknown): Promise<TwinRecord>;
    readonly commits: TwinCommitQueue;
  };
  deadLetters: DeadLetterStore;
  live?: LiveEventSink;
  /** Event routes: presence and divergence events are journaled with their commit. */
  journal?: ChangeJournal;
  now?: () => number;
  /** How long a property may stay pending before it diverges, ms (default 60,000). */
  divergenceMs?: number;
  /** How often seen() stores lastSeen at most, per twin, ms (default 60,000). */
  seenPersistMs?: number;
  /** Largest reported-state payload, bytes (default 256 KiB; the broker limits it too). */
  maxPayloadBytes?: number;
  limits?: Partial<ReportedLimits>;
  /** Debug messages (an unknown twin's presence). */
  debug?: (fields: Record<string, unknown>, message: string) => void;
  /** A background store of lastSeen or divergence events failed (logged; retried with the next). */
  onError?: (error: unknown, twinId: string) => void;
}

interface Pending {
  twinId: string;
  key: string;
  since: number;
  raised: boolean;
}

/**
 * @example
 * const devices = new DeviceStateService({ workspace: 'default', graph, models, twins, deadLetters, live });
 * devices.start(liveBus);
 * await devices.presence('pump-1', 'connected', Date.now(), 'broker');
 * await devices.reported('pump-1', { topic: 'twins/pump-1/reported', payload, receivedAt: Date.now() });
 */
export class DeviceStateService {
  private readonly now: () => number;
  private readonly divergenceMs: number;
  private readonly seenPersistMs: number;
  private readonly limits: ReportedLimits;
  /** Pending properties by twin, then by key. */
  private readonly pending = new Map<string, Map<string, Pending>>();
  /** When lastSeen was last stored, per twin. */
  private readonly seenStored = new Map<string, number>();
  private readonly seenWriting = new Set<string>();
  private unsubscribe: (() => void) | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly o: DeviceStateServiceOptions) {
    this.now = o.now ?? Date.now;
    this.divergenceMs = o.divergenceMs ?? 60_000;
    this.seenPersistMs = o.seenPersistMs ?? 60_000;
    this.limits = { ...DEFAULT_REPORTED_LIMITS, ...o.limits };
  }

  /**
   * Follows twin writes (a desired change may start or end a pending property), finds the
   * properties pending now, and checks for divergence every `checkEveryMs` (default a quarter of
   * the limit, at most 5 s; 0: never, tests call checkDivergence).
   */
  start(
    live: { subscribe(l: (events: readonly LiveEvent[]) => void): () => void },
    checkEveryMs?: number,
  ): void {
    this.stop();
    this.unsubscribe = live.subscribe((events) => this.onLive(events));
    for (const twin of this.o.graph.allTwins()) if (twin.device) this.track(twin);
    const every = checkEveryMs ?? Math.min(5000, Math.max(100, this.divergenceMs / 4));
    if (every > 0) {
      this.timer = setInterval(() => {
        this.checkDivergence().catch((e: unknown) => this.o.onError?.(e, ''));
      }, every);
      this.timer.unref?.();
    }
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  // ---------------------------------------------------------------- reported

  /**
   * A device's reported state. Resolves once it is stored or dead-lettered.
   * @throws StorageError only (bad input is dead-lettered, never thrown)
   */
  async reported(twinId: string, message: DeviceControlMessage): Promise<void> {
    const at = message.receivedAt;
    const max = this.o.maxPayloadBytes ?? 256 * 1024;
    if (message.payload.length > max)
      return this.deadLetter(twinId, message, 'PayloadTooLarge', `The reported state is over ${max} bytes.`);
    const twin = this.o.graph.getTwin(twinId);
    if (!twin)
      return this.deadLetter(twinId, message, 'DigitalTwinNotFound', `There is no digital twin '${twinId}'.`);
    const iface = this.o.models.getInterface(twin.modelId);
    if (!iface)
      return this.deadLetter(
        twinId,
        message,
        'ValidationFailed',
        `The model ${twin.modelId} of twin '${twinId}' is not uploaded: the reported state cannot be checked.`,
      );
    const check = checkReported(message.payload, iface, this.o.models, this.limits);
    if (!check.ok) return this.deadLetter(twinId, message, check.code, check.reason, check.problems);

    if (check.readOnly.size) {
      const patch = [...check.readOnly]
        .filter(([key, value]) => !jsonEqual(desiredValueOf(twin, key), value))
        .map(([key, value]) => ({ op: 'add', path: `/${key}`, value }));
      if (patch.length) {
        try {
          await this.o.twins.update(twinId, patch);
        } catch (e) {
          if (!isTwinloopError(e) || isStorageFailure(e.code)) throw e;
          // The twin changed meanwhile (deleted, moved to another model): the message is not valid now.
          return this.deadLetter(twinId, message, e.code, e.message, [...e.problems]);
        }
      }
    }
    if (check.reported.size === 0) return;
    let gone = false;
    const events = await this.o.twins.commits.exclusive([twinId], async () => {
      const current = this.o.graph.getTwin(twinId);
      if (!current) {
        gone = true;
        return [];
      }
      const device = copyDevice(current.device);
      for (const [key, value] of check.reported) {
        const p: DevicePropertyState = { ...device.properties[key], reportedValue: value, reportedTime: at };
        if (check.ack) {
          p.ackVersion = check.ack.version;
          p.ackCode = check.ack.code;
          p.ackTime = at;
          if (check.ack.description === undefined) delete p.ackDescription;
          else p.ackDescription = check.ack.description;
        }
        device.properties[key] = p;
      }
      this.touchSeen(current, device, at);
      const next = await this.store(current, device, []);
      const reported: DeviceLiveEvent = {
        type: 'reported',
        workspace: this.o.workspace,
        twinId,
        modelId: current.modelId,
        time: at,
        properties: [...check.reported.keys()],
      };
      return [reported, ...this.track(next)];
    });
    if (gone)
      return this.deadLetter(twinId, message, 'DigitalTwinNotFound', `There is no digital twin '${twinId}'.`);
    await this.emit(events);
  }

  // ---------------------------------------------------------------- presence

  /**
   * A device's connection message on `twins/{id}/connection` (ConnectionMessage, retained; the
   * disconnected one as its last will): presence with source 'message' at the time it was received.
   * Anything but `{"state":"connected"|"disconnected"}` is dead-lettered (and resolves); so is one
   * for a twin that does not exist (a message names its twin, unlike a broker's client id).
   * @throws StorageError only
   */
  async connection(twinId: string, message: DeviceControlMessage): Promise<void> {
    const parsed = parseUntrustedJson(message.payload, { maxDepth: 2, what: 'The connection message' });
    const state =
      parsed.ok && typeof parsed.value === 'object' && parsed.value !== null && !Array.isArray(parsed.value)
        ? (parsed.value as Record<string, unknown>).state
        : undefined;
    const keys =
      parsed.ok && typeof parsed.value === 'object' && parsed.value !== null ? Object.keys(parsed.value) : [];
    if (!parsed.ok)
      return this.deadLetter(twinId, message, 'BadRequest', parsed.problem.message, [parsed.problem]);
    if ((state !== 'connected' && state !== 'disconnected') || keys.length !== 1) {
      const problem = {
        code: 'connection.shape',
        message: 'A connection message is {"state":"connected"} or {"state":"disconnected"}.',
        pointer: state === undefined ? '' : '/state',
      };
      return this.deadLetter(twinId, message, 'BadRequest', problem.message, [problem]);
    }
    if (!this.o.graph.getTwin(twinId))
      return this.deadLetter(twinId, message, 'DigitalTwinNotFound', `There is no digital twin '${twinId}'.`);
    await this.presence(twinId, state, message.receivedAt, 'message');
  }

  /**
   * The twin's device connected or disconnected at `at` (ms). Stores `$connection` (since = at when
   * the state changes) and resolves once durable; a twin that does not exist is ignored (a client id
   * that names no twin: nothing to keep). A change older than the current state's since is stale
   * (the other source already told a later one) and ignored.
   * @throws StorageError
   */
  async presence(
    twinId: string,
    state: 'connected' | 'disconnected',
    at: number,
    source: PresenceSource,
  ): Promise<void> {
    const events = await this.o.twins.commits.exclusive([twinId], async () => {
      const twin = this.o.graph.getTwin(twinId);
      if (!twin) {
        this.o.debug?.({ twin: twinId, state, source }, 'presence of a client that is no twin: ignored');
        return [];
      }
      const prev = twin.device?.connection;
      if (prev && at < prev.since) return [];
      const device = copyDevice(twin.device);
      const heard = Math.max(prev?.lastSeen ?? 0, state === 'connected' ? at : 0);
      if (prev?.state === state) {
        // Told again (the broker and a connection message): only lastSeen may move.
        if (heard <= prev.lastSeen) return [];
        device.connection = { ...prev, lastSeen: heard };
        await this.store(twin, device, []);
        return [];
      }
      device.connection = { state, since: at, lastSeen: heard || at };
      const event: DeviceLiveEvent = {
        type: 'connection',
        workspace: this.o.workspace,
        twinId,
        modelId: twin.modelId,
        time: at,
        state,
        lastSeen: device.connection.lastSeen,
      };
      await this.store(twin, device, [event]);
      return [event];
    });
    this.o.live?.publish(events);
  }

  /**
   * The twin's device was heard at `at` (any message): lastSeen moves in memory now, and is stored
   * when the last store of it is `seenPersistMs` old (in the background; a failure goes to onError).
   */
  seen(twinId: string, at: number): void {
    const twin = this.o.graph.getTwin(twinId);
    const c = twin?.device?.connection;
    if (!twin || !c || at <= c.lastSeen) return;
    c.lastSeen = at;
    const stored = this.seenStored.get(twinId) ?? 0;
    if (at - stored < this.seenPersistMs || this.seenWriting.has(twinId)) return;
    this.seenWriting.add(twinId);
    this.o.twins.commits
      .exclusive([twinId], async () => {
        const t = this.o.graph.getTwin(twinId);
        if (t?.device) await this.store(t, copyDevice(t.device), []);
      })
      .catch((e: unknown) => this.o.onError?.(e, twinId))
      .finally(() => this.seenWriting.delete(twinId));
  }

  // ---------------------------------------------------------------- divergence

  /** Raises Diverged for properties pending longer than the limit (once each). Resolves once journaled. */
  async checkDivergence(now = this.now()): Promise<void> {
    const events: DeviceLiveEvent[] = [];
    for (const p of this.allPending()) {
      if (p.raised || now - p.since < this.divergenceMs) continue;
      const twin = this.o.graph.getTwin(p.twinId);
      const d = twin?.device?.properties[p.key];
      if (!twin || !d) continue;
      p.raised = true;
      events.push(this.desiredEvent(twin, p, d, 'diverged', now));
    }
    await this.emit(events);
  }

  /** Properties pending now, with since when (for tests and the operator). */
  pendingProperties(): { twinId: string; property: string; since: number; diverged: boolean }[] {
    return [...this.allPending()].map((p) => ({
      twinId: p.twinId,
      property: p.key,
      since: p.since,
      diverged: p.raised,
    }));
  }

  private onLive(events: readonly LiveEvent[]): void {
    const out: DeviceLiveEvent[] = [];
    for (const e of events) {
      if (e.type === 'twinDeleted') this.forget(e.twinId);
      else if (e.type === 'propertyChange' || e.type === 'twinCreated' || e.type === 'twinReplaced') {
        const twin = this.o.graph.getTwin(e.twinId);
        if (twin) out.push(...this.track(twin));
      }
    }
    if (out.length) this.emit(out).catch((err: unknown) => this.o.onError?.(err, out[0]!.twinId));
  }

  private *allPending(): Iterable<Pending> {
    for (const byKey of this.pending.values()) yield* byKey.values();
  }

  /** Updates the pending set for one twin; returns the Converged events of properties that agree again. */
  private track(twin: TwinRecord): DeviceLiveEvent[] {
    const out: DeviceLiveEvent[] = [];
    const props = twin.device?.properties ?? {};
    let mine = this.pending.get(twin.id);
    if (mine)
      for (const [key, p] of mine) {
        const d = Object.hasOwn(props, key) ? props[key] : undefined;
        if (d && isPending(d, desiredValueOf(twin, key))) continue;
        mine.delete(key);
        if (p.raised) out.push(this.desiredEvent(twin, p, d ?? {}, 'converged', this.now()));
      }
    for (const [key, d] of Object.entries(props)) {
      if (mine?.has(key) || !isPending(d, desiredValueOf(twin, key))) continue;
      const since = Math.max(d.desiredTime ?? 0, d.reportedTime ?? 0) || this.now();
      if (!mine) this.pending.set(twin.id, (mine = new Map()));
      mine.set(key, { twinId: twin.id, key, since, raised: false });
    }
    if (mine?.size === 0) this.pending.delete(twin.id);
    return out;
  }

  private forget(twinId: string): void {
    this.pending.delete(twinId);
    this.seenStored.delete(twinId);
  }

  private desiredEvent(
    twin: TwinRecord,
    p: Pending,
    d: DevicePropertyState,
    transition: 'diverged' | 'converged',
    time: number,
  ): DeviceLiveEvent {
    const e: DeviceLiveEvent = {
      type: 'desiredState',
      workspace: this.o.workspace,
      twinId: twin.id,
      modelId: twin.modelId,
      time,
      transition,
      property: p.key,
      desiredValue: desiredValueOf(twin, p.key),
      reportedValue: d.reportedValue,
      pendingSince: p.since,
    };
    if (d.desiredVersion !== undefined) e.desiredVersion = d.desiredVersion;
    return e;
  }

  // ---------------------------------------------------------------- storage

  /**
   * Stores the twin's device state (and the outbox rows of `events`) through the commit queue and
   * puts the twin with it in the graph; the caller holds the twin. @throws StorageError
   */
  private async store(
    twin: TwinRecord,
    device: TwinDeviceState,
    events: DeviceLiveEvent[],
  ): Promise<TwinRecord> {
    const ops = [{ op: 'putDeviceState' as const, workspace: twin.workspace, id: twin.id, device }];
    const outbox =
      this.o.journal && events.length ? this.o.journal.outboxRowsOf({ kind: 'device', events }) : [];
    await this.o.twins.commits.commit(outbox.length ? { ops, outbox } : { ops });
    if (outbox.length) this.o.journal!.committed();
    const next: TwinRecord = { ...twin, device };
    this.o.graph.putTwin(next);
    if (device.connection) this.seenStored.set(twin.id, device.connection.lastSeen);
    return next;
  }

  /** Journals (in a commit of their own) and publishes device events. @throws StorageError */
  private async emit(events: DeviceLiveEvent[]): Promise<void> {
    if (events.length === 0) return;
    const routed = events.filter((e) => e.type !== 'reported');
    const outbox =
      this.o.journal && routed.length ? this.o.journal.outboxRowsOf({ kind: 'device', events: routed }) : [];
    if (outbox.length) {
      await this.o.twins.commits.commit({ ops: [], outbox });
      this.o.journal!.committed();
    }
    this.o.live?.publish(events);
  }

  private touchSeen(twin: TwinRecord, device: TwinDeviceState, at: number): void {
    const c = twin.device?.connection;
    if (c && device.connection && at > c.lastSeen) device.connection = { ...c, lastSeen: at };
  }

  private async deadLetter(
    twinId: string,
    m: DeviceControlMessage,
    code: string,
    reason: string,
    problems: readonly Problem[] = [],
  ): Promise<void> {
    await this.o.deadLetters.add([deviceDeadLetter(this.o.workspace, m, twinId, code, reason, problems)]);
  }
}

function copyDevice(d: TwinDeviceState | undefined): TwinDeviceState {
  const out: TwinDeviceState = { desiredVersion: d?.desiredVersion ?? 0, properties: { ...d?.properties } };
  if (d?.connection) out.connection = { ...d.connection };
  return out;
}

function isStorageFailure(code: string): boolean {
  return code === 'StorageError' || code === 'StorageCorrupt' || code === 'ServiceUnavailable';
}
