/**
 * Runs the streaming analytics (derived values, anomaly detection, rules) on committed telemetry,
 * off the ingest critical path: the bus listener only appends the batch to an inbox (O(1)), and a
 * scheduled drain feeds the operators in slices of at most `sliceMs`, then yields so MQTT
 * acknowledgements, HTTP and the live stream run in between. A slow operator therefore delays the
 * analytics, never an acknowledgement.
 *
 * The inbox is bounded (`maxInboxObservations`): past it, new observations are not kept and are
 * counted (`overflowed`, a metric), so an overload shows instead of growing memory. Values the
 * platform derived (`derived: true` on the event: analytics output, shadow residuals) go only to
 * operators that ask for them (rules), so no operator consumes its own output.
 */
import type { LiveEvent } from '../../core/live/live-events.js';
import type { TelemetryObservation } from '../analytics-types.js';

/** One streaming operator (derived values, anomaly detection, rules). */
export interface AnalyticsOperator {
  /** For stats and logs. */
  readonly name: string;
  /** True when it also observes derived values (default: device readings only). */
  readonly seesDerived?: boolean;
  /** One committed reading set; must not throw for bad data (errors are counted if it does). */
  observe(obs: TelemetryObservation): void;
  /** Called about every `tickMs` with the wall clock (missing data, durations, window ends). */
  tick?(now: number): void;
}

export interface AnalyticsRuntimeOptions {
  /** Registers the listener of committed events (LiveEventBus.subscribe); returns its remover. */
  subscribe: (listener: (events: readonly LiveEvent[]) => void) => () => void;
  operators: readonly AnalyticsOperator[];
  /** Observations waiting at most (default 200,000); beyond, new ones are counted as overflowed. */
  maxInboxObservations?: number;
  /** Most time one slice runs before yielding, ms (default 5). */
  sliceMs?: number;
  /** Period of the operators' ticks, ms (default 1,000). */
  tickMs?: number;
  /** Wall clock for ticks (default Date.now). */
  now?: () => number;
  /** Monotonic clock for slices (default performance.now). */
  clock?: () => number;
  /** Runs `fn` later (default setImmediate). */
  schedule?: (fn: () => void) => void;
  /** Told when an operator throws (counted either way). */
  onOperatorError?: (operator: string, error: unknown) => void;
  /** Told after a batch in which observations overflowed the inbox, with the total so far. */
  onOverflow?: (overflowedTotal: number) => void;
}

export interface AnalyticsStats {
  /** Observations taken from the bus. */
  observed: number;
  /** Observations every operator has seen. */
  processed: number;
  /** Observations not kept because the inbox was full. */
  overflowed: number;
  /** Observations waiting now. */
  queued: number;
  /** Errors thrown by operators, by operator name. */
  operatorErrors: Record<string, number>;
}

export class AnalyticsRuntime {
  private readonly inbox: TelemetryObservation[] = [];
  private head = 0;
  private readonly maxInbox: number;
  private readonly sliceMs: number;
  private readonly tickMs: number;
  private readonly now: () => number;
  private readonly clock: () => number;
  private readonly schedule: (fn: () => void) => void;
  private readonly unsubscribe: () => void;
  private readonly errors = new Map<string, number>();
  private scheduled = false;
  private closed = false;
  private tickTimer: ReturnType<typeof setInterval> | undefined;
  private observed = 0;
  private processed = 0;
  private overflowed = 0;

  constructor(private readonly opts: AnalyticsRuntimeOptions) {
    this.maxInbox = opts.maxInboxObservations ?? 200_000;
    this.sliceMs = opts.sliceMs ?? 5;
    this.tickMs = opts.tickMs ?? 1_000;
    this.now = opts.now ?? Date.now;
    this.clock = opts.clock ?? (() => performance.now());
    this.schedule = opts.schedule ?? ((fn) => setImmediate(fn));
    this.unsubscribe = opts.subscribe((events) => this.take(events));
    if (opts.operators.some((o) => o.tick) && this.tickMs > 0) {
      this.tickTimer = setInterval(() => this.tick(), this.tickMs);
      this.tickTimer.unref?.();
    }
  }

  stats(): AnalyticsStats {
    return {
      observed: this.observed,
      processed: this.processed,
      overflowed: this.overflowed,
      queued: this.inbox.length - this.head,
      operatorErrors: Object.fromEntries(this.errors),
    };
  }

  /** Feeds everything waiting to the operators now (tests, shutdown). */
  drainAll(): void {
    this.drain(true);
  }

  /** Stops listening and ticking; what is waiting is processed first. */
  close(): void {
    if (this.closed) return;
    this.unsubscribe();
    this.drain(true);
    this.closed = true;
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
  }

  /** The bus listener: O(1) per event, nothing but a push. */
  private take(events: readonly LiveEvent[]): void {
    const before = this.overflowed;
    for (const e of events) {
      if (e.type !== 'telemetry') continue;
      this.observed++;
      if (this.inbox.length - this.head >= this.maxInbox) {
        this.overflowed++;
        continue;
      }
      this.inbox.push(e);
    }
    if (this.overflowed !== before) this.opts.onOverflow?.(this.overflowed);
    this.arm();
  }

  private arm(): void {
    if (this.scheduled || this.closed || this.head >= this.inbox.length) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.drain(false);
    });
  }

  private drain(all: boolean): void {
    const start = this.clock();
    const ops = this.opts.operators;
    let n = 0;
    while (this.head < this.inbox.length) {
      const obs = this.inbox[this.head] as TelemetryObservation & { derived?: true };
      this.inbox[this.head++] = undefined as unknown as TelemetryObservation;
      for (const op of ops) {
        if (obs.derived && !op.seesDerived) continue;
        try {
          op.observe(obs);
        } catch (e) {
          this.countError(op.name, e);
        }
      }
      this.processed++;
      // Check the clock every 64 observations: reading it costs more than most observations.
      if (!all && (++n & 63) === 0 && this.clock() - start >= this.sliceMs) break;
    }
    if (this.head >= this.inbox.length) {
      this.inbox.length = 0;
      this.head = 0;
    } else if (this.head > 65_536 && this.head * 2 > this.inbox.length) {
      this.inbox.splice(0, this.head);
      this.head = 0;
    }
    this.arm();
  }

  private tick(): void {
    if (this.closed) return;
    const now = this.now();
    for (const op of this.opts.operators) {
      if (!op.tick) continue;
      try {
        op.tick(now);
      } catch (e) {
        this.countError(op.name, e);
      }
    }
  }

  private countError(name: string, e: unknown): void {
    this.errors.set(name, (this.errors.get(name) ?? 0) + 1);
    this.opts.onOperatorError?.(name, e);
  }
}
