/**
 * The work budget of one query request: how many twins and relationships it may visit, how long
 * it may take from start to answer (wall time), and how long one slice may hold the CPU before
 * the cooperative driver hands the event loop back (see query-cursor.ts).
 *
 * Why a visit count as well as a clock: the count fails a hopeless query (an unanchored MATCH over
 * a dense graph) after a fixed amount of work whatever the machine's load, so the same query gets
 * the same answer; the clock bounds what the count cannot foresee (slow filters, a busy machine).
 */
import { TwinloopError } from '../errors/errors.js';

export interface QueryBudgetLimits {
  /** Twins and relationships one request may visit (every candidate binding counts once). */
  maxVisits: number;
  /** Wall time one request may take, ms, pauses included. */
  timeoutMs: number;
  /** CPU time one slice may take before the query yields the event loop, ms. */
  sliceMs: number;
  /** Which setting `maxVisits` comes from, for the error message (default: a request's). */
  visitsSetting?: 'query.maxVisits' | 'query.liveMaxVisits';
}

export const DEFAULT_QUERY_BUDGET: Readonly<QueryBudgetLimits> = Object.freeze({
  maxVisits: 1_000_000,
  timeoutMs: 10_000,
  sliceMs: 5,
});

/** How an operator raises each limit (the message of QueryBudgetExceeded says it). */
const HOW_TO_RAISE = {
  maxVisits: 'query.maxVisits in the config file, TWINLOOP_QUERY_MAX_VISITS or --query-max-visits',
  liveMaxVisits: 'query.liveMaxVisits in the config file',
  timeoutMs: 'query.timeoutMs in the config file, TWINLOOP_QUERY_TIMEOUT_MS or --query-timeout-ms',
} as const;

/** Checked every this many visits: reading the clock on each visit would cost more than the visit. */
const CLOCK_EVERY = 256;

/**
 * @example
 * const budget = new QueryBudget({ maxVisits: 1e6, timeoutMs: 5000, sliceMs: 5 });
 * if (budget.visit()) yield PAUSE; // true when this slice has used its time
 */
export class QueryBudget {
  /** Visits in the current request. */
  visits = 0;
  /** Times the query handed the event loop back (in the current request). */
  pauses = 0;
  /** List entries the walk holds now (start lists, neighbour lists): sizes a kept cursor. */
  held = 0;
  /**
   * Set by the walk (query-runner.ts): copies the lists it has open, so that it can be left
   * suspended while writes commit (before a pause, and before a cursor is kept for its next page).
   */
  suspend: () => void = () => undefined;
  private started = 0;
  private sliceStarted = 0;
  private nextClock = CLOCK_EVERY;

  constructor(
    readonly limits: Readonly<QueryBudgetLimits>,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.restart();
  }

  /** Starts a new request (a new page of a kept cursor gets a fresh budget). */
  restart(): void {
    this.visits = 0;
    this.pauses = 0;
    this.started = this.sliceStarted = this.now();
    this.nextClock = CLOCK_EVERY;
  }

  /** Starts a new slice after the driver yielded. */
  resumed(): void {
    this.pauses++;
    this.sliceStarted = this.now();
    this.nextClock = this.visits + CLOCK_EVERY;
  }

  /**
   * Counts one visit. Returns true when the current slice has used its time (the caller should
   * pause). @throws TwinloopError QueryBudgetExceeded when a limit is passed.
   */
  visit(): boolean {
    if (++this.visits > this.limits.maxVisits) throw this.exceeded('maxVisits');
    if (this.visits < this.nextClock) return false;
    this.nextClock = this.visits + CLOCK_EVERY;
    const t = this.now();
    if (t - this.started > this.limits.timeoutMs) throw this.exceeded('timeoutMs');
    return t - this.sliceStarted >= this.limits.sliceMs;
  }

  /** Checks the wall-time limit now (after a pause, which may have lasted long on a busy machine). */
  checkTime(): void {
    if (this.now() - this.started > this.limits.timeoutMs) throw this.exceeded('timeoutMs');
  }

  private get visitsSetting(): string {
    return this.limits.visitsSetting ?? 'query.maxVisits';
  }

  private exceeded(limit: 'maxVisits' | 'timeoutMs'): TwinloopError {
    const elapsed = Math.round(this.now() - this.started);
    const what =
      limit === 'maxVisits'
        ? `it visited more than ${this.limits.maxVisits.toLocaleString('en')} twins and relationships (${this.visitsSetting})`
        : `it ran for more than ${this.limits.timeoutMs} ms (query.timeoutMs)`;
    return new TwinloopError(
      'QueryBudgetExceeded',
      `The query was stopped: ${what}. Anchor it (WHERE X.$dtId = '...' or IS_OF_MODEL) or bound its hops ` +
        `(e.g. [*1..5]) so it does less work, or raise the limit with ${HOW_TO_RAISE[limit === 'maxVisits' && this.visitsSetting === 'query.liveMaxVisits' ? 'liveMaxVisits' : limit]}.`,
      {
        details: {
          limit,
          value: this.limits[limit],
          visits: this.visits,
          elapsedMs: elapsed,
        },
      },
    );
  }
}
