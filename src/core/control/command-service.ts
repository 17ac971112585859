/**
 * Durable commands (docs/control.md): a command is validated against the twin's model, stored as
 * queued, sent when its twin's device can take it (in order, behind the twin's earlier commands),
 * and followed to its answer: the device's acknowledgement (a 202 response, or its MQTT PUBACK on a
 * persistent session), its final response (validated against the command's response schema), or
 * its expiry.
 *
 * Delivery is at most once: `sent` is stored before the message is published, and a command found
 * `sent` after a restart is never published again (it waits for its answer, or expires).
 *
 * When may a device be sent commands? `delivery`:
 * - 'subscribed' (embedded broker): once its client has subscribed to its commands (`deviceReady`)
 *   and until it disconnects (`deviceGone`). A device that is not subscribed would never get them.
 * - 'unlessDisconnected' (external broker, whose persistent sessions queue for offline devices): at
 *   once, unless the device's last connection message said it is disconnected.
 */
import { randomUUID } from 'node:crypto';
import { TwinloopError, errors } from '../errors/errors.js';
import type { GraphView, TwinRecord } from '../graph/graph-types.js';
import type { LiveEvent } from '../live/live-events.js';
import { commandToJson } from './command-json.js';
import { deviceDeadLetter } from './device-dead-letter.js';
import { parseUntrustedJson } from '../json/untrusted-json.js';
import type { CommandInfo, ModelLookup } from '../models/model-types.js';
import { validateValue } from '../models/validate-value.js';
import type { CommandRecord, CommandState, CommandStore, CommandTransition } from '../ports/command-store.js';
import { OPEN_COMMAND_STATES, isOpenCommandState, type NewCommand } from '../ports/command-store.js';
import type { DeviceChannel, DeviceControlMessage } from '../ports/device-channel.js';
import type { DeadLetter } from '../ports/storage-ports.js';
import { commandResponseTopic, commandTopic, type CommandMessage } from './device-topics.js';

export interface CommandServiceOptions {
  workspace: string;
  graph: GraphView;
  models: ModelLookup;
  store: CommandStore;
  channel: DeviceChannel;
  /** Where responses that match no command (or come too late) are kept for an operator. */
  deadLetters: { add(letters: readonly DeadLetter[]): Promise<void> };
  delivery: 'subscribed' | 'unlessDisconnected';
  /** Expiry when the caller gives none, seconds (default 600). */
  defaultExpirySeconds?: number;
  /** Longest expiry a caller may ask for, seconds (default 7 days). */
  maxExpirySeconds?: number;
  /** Largest request payload, bytes of JSON (default 64 KiB). */
  maxRequestBytes?: number;
  /** Most commands one twin may have queued (default 1000): more is TooManyRequests. */
  maxQueuedPerTwin?: number;
  /** Told of every committed transition (and new command), in order: live events, event routes. */
  onChange?: (records: readonly CommandRecord[]) => void;
  /** Told of failures in the background (publishing, the expiry sweep). */
  onError?: (error: unknown, what: string) => void;
  now?: () => number;
}

export interface InvokeOptions {
  expirySeconds?: number;
  /** Who asked: `api`, `cli`, a user or a rule. */
  requestedBy?: string;
}

/** Listeners told after each command went to the broker (shadow mode follows them). */
export type CommandListener = (twinId: string, command: string, request: unknown) => void;

const SWEEP_MS = 1000;
const SWEEP_BATCH = 1000;
/** Long polls that may wait at once (each holds a timer and a request). */
const MAX_WAITERS = 10_000;
/** Open commands kept in memory for their answers (beyond: read from the store). */
const MAX_KNOWN = 100_000;

export class CommandService {
  private readonly now: () => number;
  private readonly defaultExpiryMs: number;
  private readonly maxExpiryMs: number;
  private readonly maxRequestBytes: number;
  private readonly maxQueued: number;
  /** 'subscribed': twins whose device is subscribed to its commands now. */
  private readonly ready = new Set<string>();
  /** 'unlessDisconnected': twins whose device last said it is disconnected. */
  private readonly away = new Set<string>();
  /** Per twin: the drain under way, and whether another pass is wanted after it. */
  private readonly drains = new Map<string, { again: boolean; done: Promise<void> }>();
  /** Per twin: commands queued (known once the twin was counted; kept in step with every change). */
  private readonly queuedCount = new Map<string, number>();
  private readonly listeners = new Set<CommandListener>();
  /**
   * Open commands this process stored or changed, as last stored (bounded): a device's answer finds
   * its command here without reading the store. Missing entries (after a restart) are read.
   */
  private readonly known = new Map<string, CommandRecord>();
  /** Long polls waiting for a command's next step (`waitForStep`). */
  private readonly waiters = new Map<string, Set<(c: CommandRecord) => void>>();
  private waiting = 0;
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private sweeping: Promise<void> | undefined;
  private sweepFailures = { since: 0, last: -Infinity };

  constructor(private readonly o: CommandServiceOptions) {
    this.now = o.now ?? Date.now;
    this.defaultExpiryMs = (o.defaultExpirySeconds ?? 600) * 1000;
    this.maxExpiryMs = (o.maxExpirySeconds ?? 7 * 86_400) * 1000;
    this.maxRequestBytes = o.maxRequestBytes ?? 64 * 1024;
    this.maxQueued = o.maxQueuedPerTwin ?? 1000;
  }

  /**
   * Validates and stores a command, and sends it if its device can take it now. Resolves to the
   * command as stored after that first attempt (queued, or sent).
   * @throws TwinloopError DigitalTwinNotFound; NotFound (no such command); ValidationFailed (the
   *   request does not match the schema, or a bad expiry); PayloadTooLarge; TooManyRequests (the
   *   twin has maxQueuedPerTwin commands queued).
   */
  async invoke(
    twinId: string,
    command: string,
    request: unknown,
    options: InvokeOptions = {},
  ): Promise<CommandRecord> {
    const twin = this.o.graph.getTwin(twinId);
    if (!twin) throw errors.twinNotFound(twinId);
    const info = this.commandOf(twin, command);
    this.checkRequest(info, command, request);
    const expiryMs = this.expiryOf(options.expirySeconds);
    const queued = await this.queuedOf(twinId);
    if (queued >= this.maxQueued)
      throw new TwinloopError(
        'TooManyRequests',
        `Twin '${twinId}' has ${queued} commands queued already (the most is ${this.maxQueued}): wait for its device to take them, or cancel some.`,
      );
    const at = this.now();
    const fresh: NewCommand = {
      workspace: this.o.workspace,
      requestId: randomUUID(),
      twinId,
      command,
      ...(request !== undefined ? { request } : {}),
      createdAt: at,
      expiresAt: at + expiryMs,
      ...(options.requestedBy ? { requestedBy: options.requestedBy } : {}),
    };
    // The common case: the device is there and nothing of its twin waits. Then the command is
    // stored as queued and moved to sent in one commit (both calls in this tick), then published.
    if (queued === 0 && this.canDeliver(twinId) && !this.drains.has(twinId)) {
      let result: CommandRecord | undefined;
      await this.drain(twinId, async () => {
        const added = this.o.store.add([fresh]);
        const moved = this.o.store.transition([
          { workspace: fresh.workspace, requestId: fresh.requestId, from: ['queued'], to: 'sent', at },
        ]);
        const [record] = await added;
        const [sent] = await moved.catch(() => [undefined]);
        if (!record) throw new TwinloopError('StorageError', 'The command store stored nothing.');
        if (!sent) {
          this.queuedCount.set(twinId, (this.queuedCount.get(twinId) ?? 0) + 1);
          this.emit([record]);
          result = record;
          return;
        }
        this.emit([record, sent]);
        result = sent;
        try {
          await this.send([sent], at);
        } catch (e) {
          // Not taken by the broker: it is queued again (send), and goes when the device can take it.
          this.o.onError?.(e, `sending command ${sent.requestId} of '${twinId}'`);
        }
        result = this.known.get(sent.requestId) ?? sent;
      });
      if (result) return result;
    }
    const [record] = await this.o.store.add([fresh]);
    if (!record) throw new TwinloopError('StorageError', 'The command store stored nothing.');
    this.queuedCount.set(twinId, (this.queuedCount.get(twinId) ?? 0) + 1);
    this.emit([record]);
    if (!this.canDeliver(twinId)) return record;
    await this.drain(twinId);
    return (
      this.known.get(record.requestId) ??
      (await this.o.store.get(this.o.workspace, record.requestId)) ??
      record
    );
  }

  /** One command of a twin. @throws TwinloopError NotFound */
  async get(twinId: string, requestId: string): Promise<CommandRecord> {
    const c = await this.o.store.get(this.o.workspace, requestId);
    if (!c || c.twinId !== twinId)
      throw new TwinloopError('NotFound', `Twin '${twinId}' has no command with request id '${requestId}'.`);
    return c;
  }

  /** A twin's commands, newest first. */
  list(
    twinId: string,
    q: { states?: readonly CommandState[]; limit: number; beforeSeq?: number },
  ): Promise<CommandRecord[]> {
    return this.o.store.list({ workspace: this.o.workspace, twinId, ...q });
  }

  /**
   * Waits until the command has more than `knownSteps` steps (or is finished), at most `timeoutMs`;
   * resolves to the command as it is then. A long poll: `twinloop command … --wait` shows each step.
   * @throws TwinloopError NotFound; TooManyRequests when too many polls wait already.
   */
  async waitForStep(
    twinId: string,
    requestId: string,
    knownSteps: number,
    timeoutMs: number,
  ): Promise<CommandRecord> {
    const current = await this.get(twinId, requestId);
    if (current.steps.length > knownSteps || !OPEN_COMMAND_STATES.includes(current.state) || timeoutMs <= 0)
      return current;
    if (this.waiting >= MAX_WAITERS)
      throw new TwinloopError(
        'TooManyRequests',
        `${MAX_WAITERS} requests wait for commands already; try again shortly.`,
      );
    return new Promise<CommandRecord>((resolve) => {
      let set = this.waiters.get(requestId);
      if (!set) this.waiters.set(requestId, (set = new Set()));
      const done = (c: CommandRecord): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(requestId);
        this.waiting--;
        resolve(c);
      };
      const timer = setTimeout(() => done(current), timeoutMs);
      set.add(done);
      this.waiting++;
    });
  }

  /**
   * Cancels a queued command. @throws TwinloopError NotFound; Conflict when it is no longer queued
   * (a sent command cannot be called back).
   */
  async cancel(twinId: string, requestId: string, by?: string): Promise<CommandRecord> {
    const current = await this.get(twinId, requestId);
    const [updated] = await this.o.store.transition([
      {
        workspace: this.o.workspace,
        requestId,
        from: ['queued'],
        to: 'cancelled',
        at: this.now(),
        reason: by ? `cancelled by ${by}` : 'cancelled',
      },
    ]);
    if (!updated) {
      const now = (await this.o.store.get(this.o.workspace, requestId)) ?? current;
      throw new TwinloopError(
        'Conflict',
        `Command ${requestId} is ${now.state}: only a queued command can be cancelled.`,
        { details: { state: now.state } },
      );
    }
    this.countDown(twinId, 1);
    this.emit([updated]);
    return updated;
  }

  /** Called after each command handed to the broker. Returns the remover. */
  onCommand(listener: CommandListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // --- what devices and the broker tell -------------------------------------------------------

  /** The twin's device subscribed to its commands ('subscribed' delivery): send what is queued. */
  deviceReady(twinId: string): void {
    this.ready.add(twinId);
    this.away.delete(twinId);
    this.drainInBackground(twinId);
  }

  /** The twin's device disconnected: commands for it wait queued until it is back. */
  deviceGone(twinId: string): void {
    this.ready.delete(twinId);
    if (this.o.delivery === 'unlessDisconnected') this.away.add(twinId);
  }

  /** The twin was deleted: its open commands are cancelled (a late answer is kept as a dead letter). */
  async twinDeleted(twinId: string): Promise<void> {
    this.ready.delete(twinId);
    this.away.delete(twinId);
    this.queuedCount.delete(twinId);
    const open = await this.o.store.pending(this.o.workspace, twinId);
    if (open.length === 0) return;
    const at = this.now();
    const done = await this.o.store.transition(
      open.map((c) => ({
        workspace: this.o.workspace,
        requestId: c.requestId,
        from: OPEN_COMMAND_STATES,
        to: 'cancelled' as const,
        at,
        reason: 'the twin was deleted',
      })),
    );
    this.emit(done.filter((c): c is CommandRecord => c !== undefined));
  }

  /** The device acknowledged a command (its MQTT PUBACK). Resolves once stored. */
  async delivered(twinId: string, requestId: string, at: number): Promise<void> {
    const [updated] = await this.o.store.transition([
      { workspace: this.o.workspace, requestId, from: ['sent'], to: 'acknowledged', at },
    ]);
    if (updated && updated.twinId === twinId) this.emit([updated]);
  }

  /**
   * A device's answer on `twins/{id}/commands/{command}/response`. Resolves once what it changed
   * is stored (the broker acknowledges the device's message only then); an answer that matches no
   * open command is dead-lettered. Rejects only when storage fails.
   */
  async response(twinId: string, command: string, m: DeviceControlMessage): Promise<void> {
    const parsed = parseUntrustedJson(m.payload, { what: 'The command response', source: m.topic });
    const body = parsed.ok && isObject(parsed.value) ? parsed.value : undefined;
    const fromBody = body && typeof body.requestId === 'string' ? body.requestId : undefined;
    const requestId = fromBody ?? m.correlationData?.toString('utf8');
    if (!parsed.ok || !body || !requestId) {
      const reason = !parsed.ok
        ? parsed.problem.message
        : !body
          ? 'The command response is not a JSON object.'
          : 'The command response names no request: send "requestId" (or, MQTT 5, the Correlation Data of the request).';
      return this.keep(m, twinId, 'InvalidCommandResponse', reason);
    }
    const current = this.known.get(requestId) ?? (await this.o.store.get(this.o.workspace, requestId));
    if (!current || current.twinId !== twinId || current.command !== command) {
      return this.keep(
        m,
        twinId,
        'UnknownCommandResponse',
        current
          ? `Request ${requestId} is command '${current.command}' of twin '${current.twinId}', not '${command}' of '${twinId}'.`
          : `No command has request id '${requestId}'.`,
      );
    }
    const t = this.transitionOf(current, body, m.receivedAt);
    if (!t) return; // a duplicate of the answer already stored (the device resent it)
    const [updated] = await this.o.store.transition([t]);
    if (updated) {
      this.emit([updated]);
      return;
    }
    const now = await this.o.store.get(this.o.workspace, requestId);
    if (now && now.state === t.to) return; // a concurrent duplicate
    return this.keep(
      m,
      twinId,
      'LateCommandResponse',
      `Command ${requestId} was already ${now?.state ?? 'gone'} when this answer came.`,
    );
  }

  // --- expiry ----------------------------------------------------------------------------------

  /** Starts the expiry sweep (every second). */
  start(): void {
    this.sweeper ??= setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = this.sweep()
        .then(() => {
          this.sweepFailures = { since: 0, last: this.sweepFailures.last };
        })
        .catch((e: unknown) => {
          // Storage away (a PostgreSQL outage): one line a minute, not one a second.
          const now = Date.now();
          this.sweepFailures.since++;
          if (now - this.sweepFailures.last < 60_000) return;
          const n = this.sweepFailures.since;
          this.sweepFailures = { since: 0, last: now };
          this.o.onError?.(
            e,
            `the command expiry sweep${n > 1 ? ` (${n} failures since the last line)` : ''}`,
          );
        })
        .finally(() => (this.sweeping = undefined));
    }, SWEEP_MS);
    this.sweeper.unref?.();
  }

  /** Stops the sweep and waits for the drains under way. */
  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    await this.sweeping;
    await Promise.allSettled([...this.drains.values()].map((d) => d.done));
  }

  /**
   * Expires what is due now, then sends the queued commands of twins whose device is ready here but
   * that no drain has taken yet; resolves to how many expired.
   */
  async sweep(): Promise<number> {
    let n = 0;
    for (;;) {
      const expired = await this.o.store.expireDue(this.now(), SWEEP_BATCH);
      n += expired.length;
      for (const c of expired) if (c.steps.at(-2)?.state === 'queued') this.countDown(c.twinId, 1);
      this.emit(expired);
      if (expired.length < SWEEP_BATCH) break;
    }
    // Commands queued by another node of a cluster (or put back after the broker refused them) for
    // a device this node can reach go out now.
    for (const t of await this.o.store.queuedTwins()) {
      if (t.workspace !== this.o.workspace || !this.canDeliver(t.twinId) || this.drains.has(t.twinId))
        continue;
      if (this.queuedCount.get(t.twinId) === 0) this.queuedCount.delete(t.twinId); // counted elsewhere
      this.drainInBackground(t.twinId);
    }
    return n;
  }

  // --- internals -------------------------------------------------------------------------------

  private canDeliver(twinId: string): boolean {
    return this.o.delivery === 'subscribed' ? this.ready.has(twinId) : !this.away.has(twinId);
  }

  private drainInBackground(twinId: string): void {
    this.drain(twinId).catch((e: unknown) =>
      this.o.onError?.(e, `sending the queued commands of '${twinId}'`),
    );
  }

  /**
   * Sends the twin's queued commands in order; one drain per twin at a time. `first`, when given,
   * is the first pass (a command sent at once); passes asked for meanwhile read what is queued.
   */
  private drain(twinId: string, first?: () => Promise<void>): Promise<void> {
    const running = this.drains.get(twinId);
    if (running) {
      running.again = true;
      return running.done;
    }
    const d = { again: false, done: Promise.resolve() };
    d.done = (async () => {
      try {
        if (first) await first();
        else d.again = true;
        while (d.again && this.canDeliver(twinId)) {
          d.again = false;
          await this.drainOnce(twinId);
        }
      } finally {
        this.drains.delete(twinId);
      }
    })();
    this.drains.set(twinId, d);
    return d.done;
  }

  private async drainOnce(twinId: string): Promise<void> {
    if (!this.canDeliver(twinId)) return;
    if (this.queuedCount.get(twinId) === 0) return;
    const queued = await this.o.store.pending(this.o.workspace, twinId, ['queued']);
    this.queuedCount.set(twinId, queued.length);
    if (queued.length === 0 || !this.canDeliver(twinId)) return;
    const at = this.now();
    const results = await this.o.store.transition(
      queued.map((c) => ({
        workspace: this.o.workspace,
        requestId: c.requestId,
        from: ['queued'],
        to: 'sent',
        at,
      })),
    );
    const sent = results.filter((c): c is CommandRecord => c !== undefined);
    this.countDown(twinId, sent.length);
    this.emit(sent);
    await this.send(sent, at);
  }

  /** Publishes commands stored as sent, in order; what the broker does not take goes back to queued. */
  private async send(sent: readonly CommandRecord[], at: number): Promise<void> {
    for (let i = 0; i < sent.length; i++) {
      const c = sent[i] as CommandRecord;
      try {
        await this.publish(c, at);
      } catch (e) {
        // The broker did not take it (external broker unreachable): nothing went out, so these go
        // back to queued, in order, for the next attempt.
        await this.requeue(sent.slice(i), e);
        throw e;
      }
      for (const l of this.listeners) {
        try {
          l(c.twinId, c.command, c.request);
        } catch {
          // a listener's failure is its own (it logs); the command was sent
        }
      }
    }
  }

  private async publish(c: CommandRecord, at: number): Promise<void> {
    const responseTopic = commandResponseTopic(c.twinId, c.command);
    const msg: CommandMessage = {
      requestId: c.requestId,
      command: c.command,
      ...(c.request !== undefined ? { request: c.request } : {}),
      sentAt: new Date(at).toISOString(),
      expiresAt: new Date(c.expiresAt).toISOString(),
      responseTopic,
    };
    await this.o.channel.publish(commandTopic(c.twinId, c.command), JSON.stringify(msg), {
      qos: 1,
      retain: false,
      properties: {
        responseTopic,
        correlationData: Buffer.from(c.requestId, 'utf8'),
        messageExpiryInterval: Math.max(1, Math.ceil((c.expiresAt - at) / 1000)),
        contentType: 'application/json',
      },
    });
  }

  private async requeue(commands: readonly CommandRecord[], cause: unknown): Promise<void> {
    const reason = `the broker did not take it: ${(cause as Error).message ?? String(cause)}`;
    const back = await this.o.store.transition(
      commands.map((c) => ({
        workspace: this.o.workspace,
        requestId: c.requestId,
        from: ['sent'],
        to: 'queued',
        at: this.now(),
        reason,
      })),
    );
    const requeued = back.filter((c): c is CommandRecord => c !== undefined);
    for (const c of requeued) this.queuedCount.set(c.twinId, (this.queuedCount.get(c.twinId) ?? 0) + 1);
    this.emit(requeued);
  }

  /** The transition a device's answer asks for; undefined for a duplicate of the stored answer. */
  private transitionOf(
    c: CommandRecord,
    body: Record<string, unknown>,
    at: number,
  ): CommandTransition | undefined {
    const base = { workspace: c.workspace, requestId: c.requestId, at };
    const status = body.status;
    const response = body.response;
    const withResponse = response !== undefined ? { response } : {};
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
      return {
        ...base,
        from: OPEN_COMMAND_STATES,
        to: 'failed',
        ...withResponse,
        reason: `The device's answer has no valid status (an integer 100 to 599, like HTTP): got ${JSON.stringify(status) ?? 'none'}.`,
      };
    }
    if (status === 202) {
      if (c.state === 'acknowledged') return undefined;
      return { ...base, from: ['sent'], to: 'acknowledged', status };
    }
    if (status >= 200 && status < 300) {
      if (c.state === 'succeeded' && c.status === status) return undefined;
      const problem = this.responseProblem(c, response);
      if (problem)
        return { ...base, from: OPEN_COMMAND_STATES, to: 'failed', status, ...withResponse, reason: problem };
      return { ...base, from: OPEN_COMMAND_STATES, to: 'succeeded', status, ...withResponse };
    }
    if (c.state === 'failed' && c.status === status) return undefined;
    const said = isObject(response) && typeof response.message === 'string' ? `: ${response.message}` : '';
    return {
      ...base,
      from: OPEN_COMMAND_STATES,
      to: 'failed',
      status,
      ...withResponse,
      reason: `The device answered ${status}${said}.`.slice(0, 1000),
    };
  }

  /** Why a successful answer's payload does not fit the command's response schema, if it does not. */
  private responseProblem(c: CommandRecord, response: unknown): string | undefined {
    const twin = this.o.graph.getTwin(c.twinId);
    const content = twin && this.o.models.getInterface(twin.modelId)?.contents.get(c.command);
    if (content?.kind !== 'Command') return undefined; // the model changed since: nothing to check against
    const schema = content.response;
    if (!schema) return undefined;
    if (response === undefined || response === null) {
      return schema.nullable
        ? undefined
        : `The device's response has no '${schema.name}', which command '${c.command}' must answer.`;
    }
    const problems = validateValue(schema.schema, response, `/response`);
    if (problems.length === 0) return undefined;
    const first = problems[0] as { message: string; pointer?: string };
    return `The device's response does not match the response schema of '${c.command}' at ${first.pointer ?? '/response'}: ${first.message}`;
  }

  private async keep(m: DeviceControlMessage, twinId: string, code: string, reason: string): Promise<void> {
    await this.o.deadLetters.add([deviceDeadLetter(this.o.workspace, m, twinId, code, reason)]);
  }

  private emit(records: readonly CommandRecord[]): void {
    if (records.length === 0) return;
    for (const c of records) {
      this.known.delete(c.requestId);
      if (isOpenCommandState(c.state)) this.known.set(c.requestId, c);
    }
    while (this.known.size > MAX_KNOWN) this.known.delete(this.known.keys().next().value as string);
    if (this.waiting > 0)
      for (const c of records) {
        const set = this.waiters.get(c.requestId);
        if (set) for (const done of [...set]) done(c);
      }
    try {
      this.o.onChange?.(records);
    } catch (e) {
      this.o.onError?.(e, 'telling of a command change');
    }
  }

  private async queuedOf(twinId: string): Promise<number> {
    const known = this.queuedCount.get(twinId);
    if (known !== undefined) return known;
    const n = (await this.o.store.pending(this.o.workspace, twinId, ['queued'])).length;
    this.queuedCount.set(twinId, n);
    return n;
  }

  private countDown(twinId: string, n: number): void {
    const known = this.queuedCount.get(twinId);
    if (known !== undefined) this.queuedCount.set(twinId, Math.max(0, known - n));
  }

  private commandOf(twin: TwinRecord, command: string): CommandInfo {
    const iface = this.o.models.getInterface(twin.modelId);
    const content = iface?.contents.get(command);
    if (content?.kind !== 'Command') {
      const known = iface
        ? [...iface.contents.values()].filter((c) => c.kind === 'Command').map((c) => c.name)
        : [];
      throw new TwinloopError(
        'NotFound',
        `Model ${twin.modelId} of twin '${twin.id}' has no command '${command}'${known.length ? ` (it has: ${known.join(', ')})` : ' (it has none)'}.`,
      );
    }
    return content;
  }

  private checkRequest(info: CommandInfo, command: string, request: unknown): void {
    const hasRequest = request !== undefined && request !== null;
    if (request !== undefined) {
      const bytes = Buffer.byteLength(JSON.stringify(request) ?? '', 'utf8');
      if (bytes > this.maxRequestBytes)
        throw new TwinloopError(
          'PayloadTooLarge',
          `The request payload of command '${command}' is ${bytes} bytes; the most is ${this.maxRequestBytes}.`,
        );
    }
    if (info.request === undefined) {
      if (hasRequest)
        throw new TwinloopError(
          'ValidationFailed',
          `Command '${command}' takes no request payload; send an empty body.`,
        );
      return;
    }
    if (!hasRequest) {
      if (!info.request.nullable)
        throw new TwinloopError(
          'ValidationFailed',
          `Command '${command}' needs a request payload '${info.request.name}'.`,
        );
      return;
    }
    const problems = validateValue(info.request.schema, request, `/${info.request.name}`);
    if (problems.length)
      throw errors.validation(
        'ValidationFailed',
        `The request payload of command '${command}' does not match its schema.`,
        problems,
      );
  }

  private expiryOf(seconds: number | undefined): number {
    if (seconds === undefined) return this.defaultExpiryMs;
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds * 1000 > this.maxExpiryMs)
      throw new TwinloopError(
        'ValidationFailed',
        `The expiry must be a number of seconds above 0 and at most ${this.maxExpiryMs / 1000}; got ${seconds}.`,
      );
    return seconds * 1000;
  }
}

export { commandToJson };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The live event of a command change. */
export function commandLiveEvent(c: CommandRecord, modelId: string | undefined): LiveEvent {
  return {
    type: 'command',
    workspace: c.workspace,
    twinId: c.twinId,
    modelId: modelId ?? '',
    time: c.steps.at(-1)?.at ?? c.createdAt,
    state: c.state,
    command: commandToJson(c),
  };
}
