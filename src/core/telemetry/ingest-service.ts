/**
 * The ingest service: every transport (MQTT, HTTP, files, simulation) hands it IncomingMessages. It
 * parses, validates against the twin's model, appends to history, and only once the append is
 * durable updates the twins' latest telemetry and publishes `telemetry` live events. Rejected input
 * goes to the dead-letter store (raw payload, topic, time, code, reason) and the call resolves with
 * ok:false once that is durable. Bad input never throws; a storage failure rejects.
 *
 * Throughput: messages arriving in the same event-loop turn share one history append and one
 * dead-letter write (and the store group-commits concurrent appends), so a burst costs a few
 * commits, not one per message; per-message work is a JSON.parse and a few map lookups.
 */
import type { OutboxRow } from '../ports/event-routing.js';
import { TwinloopError, type Problem } from '../errors/errors.js';
import type { TelemetryChange } from '../events/change-events.js';
import type { LiveEvent, LiveEventBus } from '../live/live-events.js';
import type {
  DeadLetter,
  DeadLetterStore,
  HistoryPoint,
  HistoryStore,
  HistoryValue,
} from '../ports/storage-ports.js';
import type { TelemetryIngest, TelemetryJournal } from '../ports/telemetry-ports.js';
import { IngestStats } from './ingest-stats.js';
import { TurnBatcher } from './turn-batcher.js';
import { checkAdtReadings, parseAdtTelemetry } from './adt-telemetry-payload.js';
import { parseNdjsonPayload, parseTelemetryPayload } from './payload-parser.js';
import { checkReadingSet } from './reading-validator.js';
import type { IngestWorkspace } from './reading-validator.js';
import type { IncomingMessage, IngestOutcome, ReadingSet } from './telemetry-types.js';

export interface IngestServiceOptions {
  /** The workspace's twin graph and models, or undefined when there is no such workspace. */
  workspace: (name: string) => IngestWorkspace | undefined;
  history: HistoryStore;
  deadLetters: DeadLetterStore;
  live: LiveEventBus;
  /** Counters to update (pass one to share it with the metrics adapter); a new one by default. */
  stats?: IngestStats;
  /** Larger payloads are dead-lettered as PayloadTooLarge (default 256 KiB). */
  maxPayloadBytes?: number;
  /** How much of an oversize payload its dead letter keeps (default 4 KiB). */
  oversizeKeptBytes?: number;
  /**
   * Readings of one history append at most (default: the store's `preferredAppendPoints`, else
   * every message of an event-loop turn in one append).
   */
  maxAppendReadings?: number;
  /**
   * Event routes: when some route could want telemetry, the accepted readings are staged right
   * before the history append, and commit with it (docs/event-routes.md).
   */
  journal?: TelemetryJournal;
}

export type { TelemetryIngest, TelemetryJournal } from '../ports/telemetry-ports.js';

/** The outcome of one NDJSON request: one entry per non-blank line. */
export interface BulkIngestOutcome {
  acceptedLines: number;
  readings: number;
  deadLettered: number;
  lines: ({ line: number } & IngestOutcome)[];
}

interface AcceptedSet {
  ws: IngestWorkspace;
  workspace: string;
  rs: ReadingSet;
  values: Record<string, unknown>;
  /** Values the platform derived (ingestDerived), not a device's readings. */
  derived?: true;
  /** The device's own JSON text of `values`, when validation says it holds them (ReadingCheck). */
  json?: string | undefined;
}

/** One set of values the platform derived for a twin at a time (ingestDerivedMany). */
export interface DerivedReadingSet {
  workspace: string;
  twinId: string;
  time: number;
  values: Record<string, number>;
}

/** One message of a bus partition for ingestSequenced. */
export interface SequencedMessage {
  msg: IncomingMessage;
  /** Its bus sequence (the checkpoint when it is committed on its own). */
  seq?: number;
  /** Validated as ADT's telemetry routes take it (ingestAdt), not as a device message. */
  adt?: boolean;
  /** Refused before validation (e.g. an envelope that could not be read): dead-lettered with this. */
  refused?: { code: string; reason: string };
}

type Validated =
  | { ok: true; sets: AcceptedSet[]; dropped?: Problem[]; unwrapped?: boolean }
  | { ok: false; code: string; reason: string; problems?: readonly Problem[] };

export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;

/**
 * @example
 * const ingest = new IngestService({ workspace: (ws) => workspaces.get(ws), history, deadLetters, live });
 * await ingest.ingest({ source: 'mqtt', workspace: 'default', twinId: 'pump-1', receivedAt: Date.now(),
 *   payload: Buffer.from('{"temperature": 21.5}') });   // → { ok: true, readings: 1 }
 */
export class IngestService implements TelemetryIngest {
  readonly stats: IngestStats;
  protected readonly maxPayloadBytes: number;
  private readonly oversizeKeptBytes: number;
  /** Appends of one turn: one history append, then the twins' last values and live events. */
  private readonly appends: TurnBatcher<{ points: HistoryPoint[]; sets: AcceptedSet[] }>;
  /** Dead letters of one turn: one store call. */
  private readonly letters = new TurnBatcher<DeadLetter>((items) => this.options.deadLetters.add(items));

  constructor(private readonly options: IngestServiceOptions) {
    this.stats = options.stats ?? new IngestStats();
    this.maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.appends = new TurnBatcher(
      (items) => this.appendTurn(items),
      options.maxAppendReadings ?? options.history.preferredAppendPoints ?? Infinity,
      (item) => item.points.length,
    );
    this.oversizeKeptBytes = options.oversizeKeptBytes ?? 4096;
  }

  /** Ingests one message; resolves when its readings (or its dead letter) are durable. @throws StorageError (rejects). */
  async ingest(msg: IncomingMessage): Promise<IngestOutcome> {
    if (msg.payload.length > this.maxPayloadBytes) {
      return this.reject(
        { ...msg, payload: msg.payload.subarray(0, this.oversizeKeptBytes) },
        'PayloadTooLarge',
        `The payload has ${msg.payload.length} bytes, more than the limit of ${this.maxPayloadBytes} (the dead letter keeps the first ${this.oversizeKeptBytes}).`,
      );
    }
    const v = this.validate(msg);
    if (!v.ok) return this.reject(msg, v.code, v.reason, v.problems);
    const { sets } = v;
    const points = toPoints(sets);
    await this.commit(points, sets);
    this.stats.acceptedMessages++;
    this.stats.acceptedReadings += points.length;
    return { ok: true, readings: points.length };
  }

  /**
   * Ingests telemetry from ADT's routes as ADT takes it (adt-telemetry-payload.ts): a JSON string
   * holding JSON is read; the values that fit the model are stored; whatever does not (names the
   * model does not declare, wrong types, non-object members) is kept as ONE dead letter of the whole
   * payload, with a problem per value and the reason, and the message is still accepted (ADT answers
   * 204). Refused (ok:false, dead-lettered): an unknown twin or component, bytes that are not JSON.
   * @throws StorageError (rejects).
   */
  async ingestAdt(msg: IncomingMessage): Promise<IngestOutcome> {
    if (msg.payload.length > this.maxPayloadBytes) return this.ingest(msg);
    const v = this.validateAdt(msg);
    if (!v.ok) return this.reject(msg, v.code, v.reason, v.problems);
    const { sets, dropped, unwrapped } = v;
    const points = toPoints(sets);
    let letter: Promise<IngestOutcome> | undefined;
    if (dropped.length) {
      letter = this.reject(
        msg,
        'InvalidTelemetry',
        adtDroppedReason(dropped, points.length, unwrapped),
        dropped,
      );
    }
    await Promise.all([points.length ? this.commit(points, sets) : undefined, letter]);
    if (points.length) {
      this.stats.acceptedMessages++;
      this.stats.acceptedReadings += points.length;
    }
    return dropped.length
      ? { ok: true, readings: points.length, deadLettered: dropped.length }
      : { ok: true, readings: points.length };
  }

  /**
   * Stores values the platform derives for a twin (shadow-mode residuals, later analytics) as
   * telemetry: history, latest values and live events exactly like a device's readings, but not
   * checked against the model — their names are the platform's (e.g. `vibrationResidual`). A name the
   * twin's model declares is refused (it would mix the device's series with a derived one).
   * @throws TwinloopError BadRequest (unknown twin or workspace, a declared name, a non-finite value);
   *   StorageError when the append fails.
   */
  async ingestDerived(
    workspace: string,
    twinId: string,
    time: number,
    values: Readonly<Record<string, number>>,
  ): Promise<void> {
    const r = await this.ingestDerivedMany([{ workspace, twinId, time, values: { ...values } }]);
    if (r.refused.length) throw r.refused[0]!.error;
  }

  /**
   * Many sets of derived values (ingestDerived's rules for each) in ONE store append: the sets that
   * pass are stored together; each refused set is answered with its error, never failing the others.
   * The `values` objects are taken over (kept in live events and latest values): do not change them.
   * @throws StorageError when the append fails (rejects; nothing of it is stored).
   */
  async ingestDerivedMany(
    sets: readonly DerivedReadingSet[],
  ): Promise<{ stored: number; refused: { index: number; error: TwinloopError }[] }> {
    const refused: { index: number; error: TwinloopError }[] = [];
    const accepted: AcceptedSet[] = [];
    for (let i = 0; i < sets.length; i++) {
      const d = sets[i]!;
      const error = this.derivedError(d);
      if (error) {
        refused.push({ index: i, error });
        continue;
      }
      const ws = this.options.workspace(d.workspace)!;
      accepted.push({
        ws,
        workspace: d.workspace,
        rs: { twinId: d.twinId, time: d.time, values: d.values },
        values: d.values,
        derived: true,
      });
    }
    if (accepted.length === 0) return { stored: 0, refused };
    const points = toPoints(accepted);
    await this.commit(points, accepted);
    this.stats.derivedReadings += points.length;
    return { stored: points.length, refused };
  }

  /** Why a set of derived values cannot be stored, or undefined. */
  private derivedError(d: DerivedReadingSet): TwinloopError | undefined {
    const ws = this.options.workspace(d.workspace);
    const twin = ws?.graph.getTwin(d.twinId);
    if (!ws || !twin)
      return new TwinloopError('BadRequest', `No twin '${d.twinId}' in workspace '${d.workspace}'.`);
    if (typeof d.time !== 'number' || !Number.isFinite(d.time))
      return new TwinloopError('BadRequest', `Derived values of '${d.twinId}' have no finite time.`);
    const iface = ws.models.getInterface(twin.modelId);
    for (const name in d.values) {
      if (!Object.prototype.hasOwnProperty.call(d.values, name)) continue;
      if (iface?.contents.has(name))
        return new TwinloopError(
          'BadRequest',
          `Derived value '${name}' of '${d.twinId}' has the name of a content of ${twin.modelId}.`,
        );
      if (!Number.isFinite(d.values[name]))
        return new TwinloopError('BadRequest', `Derived value '${name}' of '${d.twinId}' is not finite.`);
    }
    return undefined;
  }

  /**
   * Ingests NDJSON (one reading set per line, `$dtId` naming the twin): good lines are stored,
   * each bad line is dead-lettered on its own with its line number. @throws StorageError (rejects).
   */
  async ingestBulk(msg: IncomingMessage): Promise<BulkIngestOutcome> {
    const out: BulkIngestOutcome = { acceptedLines: 0, readings: 0, deadLettered: 0, lines: [] };
    if (msg.payload.length > this.maxPayloadBytes) {
      const o = await this.ingest(msg); // the same PayloadTooLarge dead letter
      out.deadLettered = 1;
      out.lines.push({ line: 1, ...o });
      return out;
    }
    const ws = this.options.workspace(msg.workspace);
    if (!ws) {
      const o = await this.reject(msg, 'NotFound', `There is no workspace '${msg.workspace}'.`);
      out.deadLettered = 1;
      out.lines.push({ line: 1, ...o });
      return out;
    }
    const lines = parseNdjsonPayload(msg.payload, {
      receivedAt: msg.receivedAt,
      twinId: msg.twinId,
      component: msg.component,
    });
    const sets: AcceptedSet[] = [];
    const rejections: Promise<IngestOutcome>[] = [];
    const accepted: { line: number; readings: number }[] = [];
    for (const l of lines) {
      const lineMsg = { ...msg, payload: Buffer.from(l.text, 'utf8') };
      if (!l.result.ok) {
        rejections.push(
          this.reject(
            lineMsg,
            'InvalidTelemetry',
            `line ${l.line}: ${l.result.problems[0]!.message}`,
            l.result.problems,
          ),
        );
        out.lines.push({ line: l.line, ok: false, code: 'InvalidTelemetry', reason: '' });
        continue;
      }
      const rs = l.result.readings[0]!;
      lineMsg.twinId = rs.twinId;
      const check = checkReadingSet(rs, ws, '', msg.modelId);
      if (!check.ok) {
        for (const p of check.problems) p.line = l.line;
        rejections.push(this.reject(lineMsg, check.code, `line ${l.line}: ${check.reason}`, check.problems));
        out.lines.push({ line: l.line, ok: false, code: check.code, reason: '' });
        continue;
      }
      sets.push({ ws, workspace: msg.workspace, rs, values: check.values });
      const n = Object.keys(check.values).length;
      accepted.push({ line: l.line, readings: n });
      out.lines.push({ line: l.line, ok: true, readings: n });
    }
    const points = toPoints(sets);
    const [outcomes] = await Promise.all([
      Promise.all(rejections),
      points.length ? this.commit(points, sets) : undefined,
    ]);
    // Fill in the rejected lines' reasons from their outcomes (same order as pushed).
    let r = 0;
    for (const entry of out.lines) {
      if (!entry.ok) {
        const o = outcomes[r++];
        if (o && !o.ok) entry.reason = o.reason;
      }
    }
    out.acceptedLines = accepted.length;
    out.readings = points.length;
    out.deadLettered = rejections.length;
    if (accepted.length) {
      this.stats.acceptedMessages += accepted.length;
      this.stats.acceptedReadings += points.length;
    }
    return out;
  }

  /** ADT's validation of one message (see ingestAdt): the sets to store and the values to drop. */
  private validateAdt(
    msg: IncomingMessage,
  ):
    | { ok: true; sets: AcceptedSet[]; dropped: Problem[]; unwrapped: boolean }
    | { ok: false; code: string; reason: string; problems?: readonly Problem[] } {
    const ws = this.options.workspace(msg.workspace);
    if (!ws) return { ok: false, code: 'NotFound', reason: `There is no workspace '${msg.workspace}'.` };
    if (msg.twinId === undefined)
      return { ok: false, code: 'BadRequest', reason: 'The message names no twin.' };
    const parsed = parseAdtTelemetry(msg.payload, {
      twinId: msg.twinId,
      ...(msg.component === undefined ? {} : { component: msg.component }),
      receivedAt: msg.receivedAt,
      ...(msg.once ? { once: true } : {}),
    });
    if (!parsed.ok)
      return {
        ok: false,
        code: 'InvalidTelemetry',
        reason: parsed.problems[0]!.message,
        problems: parsed.problems,
      };
    const split = checkAdtReadings(parsed.readings, parsed.pointers, ws, msg);
    if (!split.ok) return { ok: false, code: split.code, reason: split.reason, problems: split.problems };
    const sets: AcceptedSet[] = split.accepted.map(({ rs, values }) => ({
      ws,
      workspace: msg.workspace,
      rs,
      values,
    }));
    return {
      ok: true,
      sets,
      dropped: [...parsed.dropped, ...split.dropped],
      unwrapped: parsed.unwrapped === true,
    };
  }

  /** Parses and checks one message against its twin's model (no I/O): the one validation of every path. */
  private validate(msg: IncomingMessage): Validated {
    const ws = this.options.workspace(msg.workspace);
    if (!ws) return { ok: false, code: 'NotFound', reason: `There is no workspace '${msg.workspace}'.` };
    if (msg.twinId === undefined)
      return { ok: false, code: 'BadRequest', reason: 'The message names no twin.' };
    let sets: AcceptedSet[];
    try {
      const parsed = parseTelemetryPayload(msg.payload, {
        twinId: msg.twinId,
        component: msg.component,
        receivedAt: msg.receivedAt,
      });
      if (!parsed.ok)
        return {
          ok: false,
          code: 'InvalidTelemetry',
          reason: parsed.problems[0]!.message,
          problems: parsed.problems,
        };
      sets = [];
      const problems: Problem[] = [];
      let failure: { code: string; reason: string } | undefined;
      const many = parsed.readings.length > 1 || msg.payload[firstNonSpace(msg.payload)] === 0x5b; // '['
      parsed.readings.forEach((rs, i) => {
        const check = checkReadingSet(rs, ws, many ? `/${i}` : '', msg.modelId);
        if (check.ok) sets.push({ ws, workspace: msg.workspace, rs, values: check.values, json: check.json });
        else {
          failure ??= check;
          problems.push(...check.problems);
        }
      });
      // A message is one unit: devices retry whole messages, so half-storing one would duplicate the rest.
      if (failure) return { ok: false, code: failure.code, reason: failure.reason, problems };
    } catch (e) {
      return {
        ok: false,
        code: 'InternalError',
        reason: `Ingestion failed unexpectedly: ${(e as Error).message}`,
      };
    }
    return { ok: true, sets };
  }

  /**
   * Ingests messages of one bus partition in bus order (an ingest worker's batch), validated exactly
   * like `ingest()`: the accepted readings are appended in ONE history commit together with
   * `checkpoint` (so a crash stores both or neither), bad messages are dead-lettered first (never
   * thrown: a throw would stall the partition), then twins' last values and live events follow as
   * after any commit. A message with `refused` set is dead-lettered with that code and reason.
   * When the store refuses a point the validator let through (InvalidTelemetry, e.g. a NUL byte on
   * PostgreSQL), each message is committed on its own with the checkpoint at its own sequence, and
   * the refused ones are dead-lettered.
   * @throws StorageError (rejects; nothing of this call's readings stored, the checkpoint unchanged).
   */
  async ingestSequenced(
    messages: readonly SequencedMessage[],
    checkpoint: { key: string; seq: number },
  ): Promise<IngestOutcome[]> {
    const outcomes: IngestOutcome[] = [];
    const letters: Promise<IngestOutcome>[] = [];
    const accepted: { m: SequencedMessage; sets: AcceptedSet[]; at: number }[] = [];
    for (const m of messages) {
      const v: Validated = m.refused
        ? { ok: false, ...m.refused }
        : m.msg.payload.length > this.maxPayloadBytes
          ? {
              ok: false,
              code: 'PayloadTooLarge',
              reason: `The payload has ${m.msg.payload.length} bytes, more than the limit of ${this.maxPayloadBytes}.`,
            }
          : m.adt
            ? this.validateAdt(m.msg)
            : this.validate(m.msg);
      if (!v.ok) {
        const msg =
          v.code === 'PayloadTooLarge'
            ? { ...m.msg, payload: m.msg.payload.subarray(0, this.oversizeKeptBytes) }
            : m.msg;
        const at = outcomes.push({ ok: false, code: v.code, reason: v.reason }) - 1;
        letters.push(this.reject(msg, v.code, v.reason, v.problems).then((o) => (outcomes[at] = o)));
      } else {
        const at = outcomes.push({ ok: true, readings: 0 }) - 1;
        accepted.push({ m, sets: v.sets, at });
        // ADT's rule: the values that do not fit are kept as one dead letter, the rest stored.
        if (v.dropped?.length) {
          const reason = adtDroppedReason(v.dropped, toPoints(v.sets).length, v.unwrapped === true);
          letters.push(this.reject(m.msg, 'InvalidTelemetry', reason, v.dropped));
        }
      }
    }
    // Dead letters first: a failure after them redelivers the batch (a dead letter may then be kept
    // twice), never loses one.
    await Promise.all(letters);
    const allSets = accepted.flatMap((a) => a.sets);
    try {
      await this.options.history.append(toPoints(allSets), { checkpoint, ...this.routed(allSets) });
    } catch (e) {
      if (!(e instanceof TwinloopError) || e.code !== 'InvalidTelemetry') {
        this.stats.storageFailures++;
        throw e;
      }
      return this.ingestOneByOne(accepted, outcomes, checkpoint);
    }
    this.afterCommit(allSets);
    for (const a of accepted) {
      const n = toPoints(a.sets).length;
      outcomes[a.at] = { ok: true, readings: n };
      this.stats.acceptedMessages++;
      this.stats.acceptedReadings += n;
    }
    return outcomes;
  }

  private async ingestOneByOne(
    accepted: readonly { m: SequencedMessage; sets: AcceptedSet[]; at: number }[],
    outcomes: IngestOutcome[],
    checkpoint: { key: string; seq: number },
  ): Promise<IngestOutcome[]> {
    for (const a of accepted) {
      const points = toPoints(a.sets);
      const cp = { key: checkpoint.key, seq: a.m.seq ?? checkpoint.seq };
      try {
        await this.options.history.append(points, { checkpoint: cp, ...this.routed(a.sets) });
        this.afterCommit(a.sets);
        outcomes[a.at] = { ok: true, readings: points.length };
        this.stats.acceptedMessages++;
        this.stats.acceptedReadings += points.length;
      } catch (e) {
        if (!(e instanceof TwinloopError) || e.code !== 'InvalidTelemetry') {
          this.stats.storageFailures++;
          throw e;
        }
        outcomes[a.at] = await this.reject(a.m.msg, 'InvalidTelemetry', e.message, e.problems);
      }
    }
    await this.options.history.append([], { checkpoint });
    return outcomes;
  }

  /** Stores a dead letter; resolves (ok:false) once it is durable. @throws StorageError (rejects). */
  async reject(
    msg: IncomingMessage,
    code: string,
    reason: string,
    problems?: readonly Problem[],
  ): Promise<IngestOutcome> {
    // twinId is read by the SQLite dead-letter store for its twin filter (DeadLetterQuery.twinId).
    const letter: DeadLetter & { twinId?: string } = {
      workspace: msg.workspace,
      time: msg.receivedAt,
      source: msg.source,
      payload: msg.payload,
      code,
      reason,
    };
    if (msg.topic !== undefined) letter.topic = msg.topic;
    if (msg.clientId !== undefined) letter.clientId = msg.clientId;
    if (msg.twinId !== undefined) letter.twinId = msg.twinId;
    if (problems?.length) {
      letter.problems = problems.map((p) => {
        const q: NonNullable<DeadLetter['problems']>[number] = { code: p.code, message: p.message };
        if (p.pointer !== undefined) q.pointer = p.pointer;
        if (p.line !== undefined) q.line = p.line;
        if (p.column !== undefined) q.column = p.column;
        return q;
      });
    }
    await this.letters.add(letter);
    this.stats.countDeadLetter(code);
    return letter.problems
      ? { ok: false, code, reason, problems: letter.problems }
      : { ok: false, code, reason };
  }

  /** Appends with every other message of this turn; after the commit, updates twins and publishes. */
  private commit(points: HistoryPoint[], sets: AcceptedSet[]): Promise<void> {
    return this.appends.add({ points, sets });
  }

  private async appendTurn(items: readonly { points: HistoryPoint[]; sets: AcceptedSet[] }[]): Promise<void> {
    const all: HistoryPoint[] = [];
    const allSets: AcceptedSet[] = [];
    for (const item of items) {
      for (const p of item.points) all.push(p);
      for (const s of item.sets) allSets.push(s);
    }
    try {
      await this.options.history.append(all, this.routed(allSets));
    } catch (e) {
      this.stats.storageFailures++;
      throw e;
    }
    this.afterCommit(allSets);
  }

  /** The event-route rows of accepted readings, carried by the append that stores them. */
  private routed(sets: readonly AcceptedSet[]): { outbox?: OutboxRow[] } {
    const j = this.options.journal;
    if (!j?.wantsTelemetry()) return {};
    const changes: TelemetryChange[] = [];
    for (const s of sets) {
      const twin = s.ws.graph.getTwin(s.rs.twinId);
      if (!twin) continue;
      const c: TelemetryChange = {
        twinId: twin.id,
        modelId: twin.modelId,
        values: s.values,
        time: s.rs.time,
      };
      if (s.rs.component !== undefined) c.component = s.rs.component;
      if (s.rs.sourceTime) c.sourceTime = true;
      changes.push(c);
    }
    const rows = j.telemetryRows(changes);
    return rows.length ? { outbox: rows } : {};
  }

  private afterCommit(sets: readonly AcceptedSet[]): void {
    const events: LiveEvent[] = [];
    // By event index, only where a device's own text holds the values (the live stream sends it).
    let valuesJson: string[] | undefined;
    for (const s of sets) {
      // Look the twin up again: it may have been replaced or deleted while the append committed.
      const twin = s.ws.graph.getTwin(s.rs.twinId);
      if (!twin) continue;
      const prefix = s.rs.component === undefined ? '' : `${s.rs.component}/`;
      for (const [name, value] of Object.entries(s.values)) {
        const path = prefix + name;
        const last = twin.telemetry[path];
        // Updated in place: this runs for every reading, and only the value is ever handed out.
        if (!last) twin.telemetry[path] = { value, time: s.rs.time };
        else if (last.time <= s.rs.time) {
          last.value = value;
          last.time = s.rs.time;
        }
      }
      const ev: LiveEvent = {
        type: 'telemetry',
        workspace: s.workspace,
        twinId: twin.id,
        modelId: twin.modelId,
        time: s.rs.time,
        values: s.values,
      };
      if (s.rs.component !== undefined) ev.component = s.rs.component;
      if (s.derived) ev.derived = true;
      if (s.json !== undefined) (valuesJson ??= [])[events.length] = s.json;
      events.push(ev);
    }
    this.stats.acceptedReadingSets += sets.length;
    this.options.live.publish(events, valuesJson);
  }
}

/**
 * How many values of an ADT message were stored when the rest went to the dead letters, read from
 * the letter's reason (adtDroppedReason below writes it); undefined for any other reason.
 */
export function adtStoredValues(reason: string): number | undefined {
  const m = /^\d+ value\(s\) not stored, (\d+) stored: /.exec(reason);
  return m ? Number(m[1]) : undefined;
}

function adtDroppedReason(dropped: readonly Problem[], stored: number, unwrapped: boolean): string {
  const where = unwrapped ? ' (pointers are into the JSON string the body holds)' : '';
  return `${dropped.length} value(s) not stored, ${stored} stored: ${dropped[0]!.message}${dropped.length > 1 ? ` (and ${dropped.length - 1} more)` : ''}${where}`;
}

function toPoints(sets: readonly AcceptedSet[]): HistoryPoint[] {
  const points: HistoryPoint[] = [];
  for (const { workspace, rs, values } of sets) {
    const prefix = rs.component === undefined ? '' : `${rs.component}/`;
    // A source time makes the reading idempotent: a redelivered or resent message is stored once.
    // Every point has the same shape (`once` always set): the history adapters' loops stay monomorphic.
    const once = rs.sourceTime === true;
    for (const name of Object.keys(values)) {
      points.push({
        workspace,
        twinId: rs.twinId,
        path: prefix === '' ? name : prefix + name,
        kind: 'telemetry',
        ts: rs.time,
        value: values[name] as HistoryValue,
        once,
      });
    }
  }
  return points;
}

function firstNonSpace(buf: Uint8Array): number {
  let i = 0;
  while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)) i++;
  return i;
}
