/**
 * Continuous forecasts as an analytics operator: for each chosen (twin, telemetry) stream
 * (forecast.yaml, forecast-plan.ts) a bounded, thinned buffer of its recent readings
 * (forecast-buffer.ts: at most 512 cells over `history`) is refitted at most every `every` of
 * source time, and the forecast `horizon` after the newest reading is written beside the source as
 * derived telemetry: `<name>Forecast`, `<name>ForecastLower`, `<name>ForecastUpper` (the 80 or
 * 95 % prediction interval), stamped with the newest reading's time.
 *
 * Bounded: at most `maxStreams` streams (twins × telemetry; more are counted and skipped), and at
 * most `maxRefitsPerTick` refits between two ticks; refits that fall due beyond that wait in a
 * first-in first-out queue served by the next ticks (they then forecast from the stream's newest
 * reading), so many streams delay their forecasts instead of stalling the event loop.
 *
 * After a restart a stream's buffer is filled from history: its first reading reads the stream's
 * averages over the buffer's cells (`recent`), readings arriving meanwhile wait (up to `maxHeld`)
 * and are folded in after, in order.
 */
import type { DerivedSink, TelemetryObservation } from '../analytics-types.js';
import {
  addReading,
  bufferShape,
  bufferSize,
  forecastBuffer,
  MIN_FIT_POINTS,
  type BufferShape,
  type ForecastBuffer,
} from '../forecast/forecast-buffer.js';
import type { ForecastPoint } from '../forecast/forecast.js';
import { RefitBudget, type RefitStats } from '../forecast/refit-budget.js';
import type { AnalyticsOperator } from './analytics-runtime.js';
import type { HistoryReading } from './anomaly-operator.js';
import { FORECAST_SUFFIXES, type ForecastStreamSpec } from './forecast-plan.js';

export interface ForecastOperatorOptions {
  /** The forecast streams of twins of a model (undefined or empty: none); asked once per model. */
  streamsOf: (workspace: string, modelId: string) => readonly ForecastStreamSpec[] | undefined;
  sink: DerivedSink;
  /** Streams at most (default 10,000; ≈ 12 KiB each); beyond, new streams are counted and skipped. */
  maxStreams?: number;
  /** Refits between two ticks at most (default 2; one refit of 512 cells costs ~2-35 ms of CPU, bench/forecast/refit.ts). */
  maxRefitsPerTick?: number;
  /**
   * A stream's history for its warm-up: averages over cells of `spacingMs` aligned on multiples
   * of it, from `from` to `to` (exclusive), oldest first, each at its cell's middle.
   */
  recent?: (
    workspace: string,
    twinId: string,
    name: string,
    from: number,
    to: number,
    spacingMs: number,
  ) => Promise<HistoryReading[]>;
  /** Readings held per stream while its warm-up runs (default 1,000; beyond, dropped and counted). */
  maxHeld?: number;
  /** Told when a warm-up read fails (the stream then starts cold). */
  onWarmUpError?: (error: unknown) => void;
  /** Monotonic clock in ms, to measure refits (default performance.now). */
  clock?: () => number;
}

export interface ForecastOperatorStats extends RefitStats {
  streams: number;
  /** Forecasts written (three values each). */
  written: number;
  streamsSkipped: number;
  heldDropped: number;
  warmUpFailures: number;
}

interface Stream {
  workspace: string;
  twinId: string;
  spec: ForecastStreamSpec;
  shape: BufferShape;
  buffer: ForecastBuffer | undefined;
  /** Newest reading time folded in. */
  lastTime: number | undefined;
  /** Source time of the last refit. */
  fittedAt: number | undefined;
  /** Readings waiting for the warm-up; undefined once warm. */
  held: HistoryReading[] | undefined;
}

export class ForecastOperator implements AnalyticsOperator {
  readonly name = 'forecast';
  private readonly streams = new Map<string, Stream>();
  /** workspace → model → its streams (two maps: no key string built per reading). */
  private readonly specsByModel = new Map<string, Map<string, readonly ForecastStreamSpec[]>>();
  private specsCached = 0;
  private readonly refits: RefitBudget<string>;
  private readonly maxStreams: number;
  private readonly maxHeld: number;
  private readonly counts = {
    written: 0,
    streamsSkipped: 0,
    heldDropped: 0,
    warmUpFailures: 0,
  };

  constructor(private readonly opts: ForecastOperatorOptions) {
    this.maxStreams = opts.maxStreams ?? 10_000;
    this.maxHeld = opts.maxHeld ?? 1_000;
    this.refits = new RefitBudget(opts.maxRefitsPerTick ?? 2, opts.clock);
  }

  stats(): ForecastOperatorStats {
    return { streams: this.streams.size, ...this.refits.stats(), ...this.counts };
  }

  /** Forgets a twin's streams (deleted twin). */
  forgetTwin(workspace: string, twinId: string): void {
    const prefix = `${workspace}\u0000${twinId}\u0000`;
    for (const k of this.streams.keys())
      if (k.startsWith(prefix)) {
        this.streams.delete(k);
        this.refits.cancel(k);
      }
  }

  observe(obs: TelemetryObservation): void {
    if (obs.component !== undefined) return;
    const specs = this.specs(obs.workspace, obs.modelId);
    for (const spec of specs) {
      const raw = obs.values[spec.telemetry];
      if (typeof raw !== 'number' || !Number.isFinite(raw)) continue;
      const key = `${obs.workspace}\u0000${obs.twinId}\u0000${spec.telemetry}`;
      const s = this.stream(key, obs, spec);
      if (s === undefined) continue;
      if (s.held !== undefined) {
        if (s.held.length < this.maxHeld) s.held.push({ time: obs.time, value: raw });
        else this.counts.heldDropped++;
        continue;
      }
      this.fold(s, obs.time, raw);
      this.refitIfDue(key, s);
    }
  }

  /** Renews the refit budget and runs waiting refits, oldest first, from their newest reading. */
  tick(): void {
    this.refits.tick((key) => {
      const s = this.streams.get(key);
      return s && this.due(s) ? () => this.refit(s) : undefined;
    });
  }

  private specs(workspace: string, modelId: string): readonly ForecastStreamSpec[] {
    let byModel = this.specsByModel.get(workspace);
    if (byModel === undefined) {
      byModel = new Map();
      this.specsByModel.set(workspace, byModel);
    }
    let specs = byModel.get(modelId);
    if (specs === undefined) {
      specs = this.opts.streamsOf(workspace, modelId) ?? [];
      // Bounded like before: a flood of model ids starts afresh.
      if (++this.specsCached > 10_000) {
        this.specsByModel.clear();
        this.specsCached = 1;
        byModel = new Map();
        this.specsByModel.set(workspace, byModel);
      }
      byModel.set(modelId, specs);
    }
    return specs;
  }

  private stream(key: string, obs: TelemetryObservation, spec: ForecastStreamSpec): Stream | undefined {
    let s = this.streams.get(key);
    if (s !== undefined) return s;
    if (this.streams.size >= this.maxStreams) {
      this.counts.streamsSkipped++;
      return undefined;
    }
    s = {
      workspace: obs.workspace,
      twinId: obs.twinId,
      spec,
      shape: bufferShape(spec.historyMs),
      buffer: undefined,
      lastTime: undefined,
      fittedAt: undefined,
      held: undefined,
    };
    this.streams.set(key, s);
    if (this.opts.recent !== undefined) this.warmUp(key, s, obs.time);
    return s;
  }

  /** Fills a new stream's buffer from history, then folds in what waited. */
  private warmUp(key: string, s: Stream, before: number): void {
    const held: HistoryReading[] = [];
    s.held = held;
    const spacing = s.shape.spacingMs;
    const from = Math.floor((before - s.shape.historyMs) / spacing) * spacing;
    const done = (past: readonly HistoryReading[]): void => {
      if (this.streams.get(key) !== s) return; // forgotten meanwhile
      for (const p of past) if (p.time < before) this.fold(s, p.time, p.value);
      s.held = undefined;
      for (const r of held) this.fold(s, r.time, r.value);
      this.refitIfDue(key, s);
    };
    this.opts.recent!(s.workspace, s.twinId, s.spec.telemetry, from, before, spacing).then(
      done,
      (e: unknown) => {
        this.counts.warmUpFailures++;
        this.opts.onWarmUpError?.(e);
        done([]);
      },
    );
  }

  private fold(s: Stream, time: number, value: number): void {
    if (s.lastTime !== undefined && time < s.lastTime) return;
    s.buffer = addReading(s.buffer, s.shape, time, value);
    s.lastTime = time;
  }

  private due(s: Stream): boolean {
    if (s.lastTime === undefined || bufferSize(s.buffer) < MIN_FIT_POINTS) return false;
    return s.fittedAt === undefined || s.lastTime - s.fittedAt >= s.spec.everyMs;
  }

  private refitIfDue(key: string, s: Stream): void {
    if (this.refits.isWaiting(key) || !this.due(s)) return;
    this.refits.due(key, key, () => this.refit(s));
  }

  private refit(s: Stream): void {
    const at = s.lastTime as number;
    s.fittedAt = at;
    const f = forecastBuffer(s.buffer, s.shape, s.spec.horizonMs, { from: at });
    const p = f && pointAt(f.points, at + s.spec.horizonMs);
    if (!p) return;
    const wide = s.spec.interval === 95;
    const triple = [p.value, wide ? p.lower95 : p.lower80, wide ? p.upper95 : p.upper80];
    if (!triple.every(Number.isFinite)) return;
    // A null-prototype object: the names come from a checked plan, but stay data whatever they are.
    const values = Object.create(null) as Record<string, number>;
    FORECAST_SUFFIXES.forEach((suffix, i) => (values[s.spec.telemetry + suffix] = triple[i] as number));
    this.counts.written++;
    this.opts.sink.write(s.workspace, s.twinId, at, values);
  }
}

/** The forecast at `time`, interpolated linearly between the two points around it. */
export function pointAt(points: readonly ForecastPoint[], time: number): ForecastPoint | undefined {
  const k = points.findIndex((p) => p.time >= time);
  if (k < 0) return points.at(-1);
  const b = points[k]!;
  const a = k > 0 ? points[k - 1]! : undefined;
  if (!a || b.time === a.time) return b;
  const w = (time - a.time) / (b.time - a.time);
  const mix = (x: number, y: number): number => x + (y - x) * w;
  return {
    time,
    value: mix(a.value, b.value),
    lower80: mix(a.lower80, b.lower80),
    upper80: mix(a.upper80, b.upper80),
    lower95: mix(a.lower95, b.lower95),
    upper95: mix(a.upper95, b.upper95),
  };
}
