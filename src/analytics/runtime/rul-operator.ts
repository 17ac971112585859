/**
 * Live remaining-useful-life inference as an analytics operator: for every twin of a model that has
 * an active RUL model (the registry's), its readings are resampled to steps exactly as training
 * resampled history (rul-history.ts: the average of each step, steps aligned on multiples of
 * `stepMs`, numbered from the twin's first step), and at the first reading of each new step the
 * model predicts from the last `window` steps (the finished ones and the one just begun). The
 * prediction is written beside the readings as derived telemetry: `rul`, and `rulLower` /
 * `rulUpper` when the learner gives an interval.
 *
 * After a restart (or a model change) a twin's rows are filled from history first: its first
 * reading (its step 1) and the step averages of its last `window` steps; readings that arrive
 * meanwhile wait (up to `maxHeld`) and are folded in after, in order.
 *
 * Bounded: at most `maxTwins` twins are followed (more are counted and skipped), each holds at most
 * `window` rows, and one prediction per twin per step (≤ 1 ms each).
 */
import type { DerivedSink, TelemetryObservation, TwinContext } from '../analytics-types.js';
import type { ActiveRulModel, RulArtefact, RulAssetSeries, RulPredictor } from '../rul/rul-types.js';

export type { ActiveRulModel };
import { stepStart } from '../rul/rul-history.js';
import type { AnalyticsOperator } from './analytics-runtime.js';
import type { HistoryReading } from './anomaly-history.js';

/** The derived telemetry written. */
export const RUL_VALUE = 'rul';
export const RUL_LOWER = 'rulLower';
export const RUL_UPPER = 'rulUpper';

export interface RulOperatorOptions {
  workspace: string;
  context: Pick<TwinContext, 'isOfModel'>;
  sink: DerivedSink;
  /** Loads an artefact (rul-predictor.ts). @throws when it is not a usable artefact */
  load: (artefact: RulArtefact) => RulPredictor;
  /** Step averages of a stream from `from` to `to` (multiples of `spacing`), each at its step's middle. */
  cells?: (
    workspace: string,
    twinId: string,
    name: string,
    from: number,
    to: number,
    spacing: number,
  ) => Promise<HistoryReading[]>;
  /** The time of a stream's first reading, or undefined when it has none. */
  first?: (workspace: string, twinId: string, name: string) => Promise<number | undefined>;
  maxTwins?: number;
  maxHeld?: number;
  /**
   * Told what could not be done (`what` says which): every model that cannot be loaded; failed
   * predictions and warm-ups at most once a minute each (a broken store must not flood the log).
   */
  onError?: (error: unknown, what: string) => void;
  /** Wall clock for that limit (default Date.now). */
  now?: () => number;
}

export interface RulOperatorStats {
  models: number;
  twins: number;
  predictions: number;
  twinsSkipped: number;
  heldDropped: number;
  warmUpFailures: number;
  /** Models that could not be loaded, by model id. */
  refused: Record<string, string>;
}

interface Loaded {
  model: ActiveRulModel;
  predictor: RulPredictor;
  stepMs: number;
  window: number;
  inputs: readonly string[];
}

interface TwinState {
  loaded: Loaded;
  /** The twin's first step start (its step 1), ms. */
  firstStep: number | undefined;
  /** Finished step rows, oldest first (at most `window`): step start and one value per input. */
  rows: { start: number; values: Float64Array }[];
  /** The step being read: start, sums and counts per input. */
  current: { start: number; sum: Float64Array; n: Float64Array } | undefined;
  /** The step last predicted. */
  predictedStep: number | undefined;
  held: TelemetryObservation[] | undefined;
}

export class RulOperator implements AnalyticsOperator {
  readonly name = 'rul';
  private models: Loaded[] = [];
  private readonly byModel = new Map<string, Loaded | null>();
  private readonly twins = new Map<string, TwinState>();
  private readonly refused: Record<string, string> = {};
  private readonly counts = { predictions: 0, twinsSkipped: 0, heldDropped: 0, warmUpFailures: 0 };
  private readonly maxTwins: number;
  private readonly maxHeld: number;

  constructor(private readonly o: RulOperatorOptions) {
    this.maxTwins = o.maxTwins ?? 100_000;
    this.maxHeld = o.maxHeld ?? 1_000;
  }

  stats(): RulOperatorStats {
    return {
      models: this.models.length,
      twins: this.twins.size,
      ...this.counts,
      refused: { ...this.refused },
    };
  }

  /**
   * Sets the active models (all of them: a model not listed stops predicting). Twins whose model is
   * unchanged keep their rows; the others start again from history.
   */
  setModels(models: readonly ActiveRulModel[]): void {
    const next: Loaded[] = [];
    for (const k of Object.keys(this.refused)) delete this.refused[k];
    for (const m of models) {
      const kept = this.models.find((l) => l.model.modelId === m.modelId && l.model.version === m.version);
      if (kept) {
        next.push(kept);
        continue;
      }
      try {
        const predictor = this.o.load(m.artefact);
        const stepMs = m.artefact.stepMs;
        if (typeof stepMs !== 'number' || !Number.isInteger(stepMs) || stepMs <= 0)
          throw new Error('the artefact has no step (stepMs)');
        next.push({
          model: m,
          predictor,
          stepMs,
          window: Math.max(1, predictor.spec.window),
          inputs: predictor.inputs,
        });
      } catch (err) {
        this.refused[m.modelId] = err instanceof Error ? err.message : String(err);
        this.o.onError?.(err, `RUL model ${m.modelId} v${m.version} of ${m.target}`);
      }
    }
    this.models = next;
    this.byModel.clear();
    for (const [k, s] of this.twins) if (!next.includes(s.loaded)) this.twins.delete(k);
  }

  /** Forgets a twin (deleted). */
  forgetTwin(workspace: string, twinId: string): void {
    this.twins.delete(`${workspace}\u0000${twinId}`);
  }

  observe(obs: TelemetryObservation): void {
    if (obs.component !== undefined || this.models.length === 0 || obs.workspace !== this.o.workspace) return;
    const loaded = this.modelOf(obs.modelId);
    if (!loaded) return;
    const key = `${obs.workspace}\u0000${obs.twinId}`;
    let s = this.twins.get(key);
    if (s === undefined) {
      if (this.twins.size >= this.maxTwins) {
        this.counts.twinsSkipped++;
        return;
      }
      s = {
        loaded,
        firstStep: undefined,
        rows: [],
        current: undefined,
        predictedStep: undefined,
        held: undefined,
      };
      this.twins.set(key, s);
      if (this.o.cells && this.o.first) {
        this.warmUp(key, s, obs);
        return;
      }
    }
    if (s.held !== undefined) {
      if (s.held.length < this.maxHeld) s.held.push(obs);
      else this.counts.heldDropped++;
      return;
    }
    this.fold(s, obs);
  }

  private readonly lastReported = new Map<string, number>();
  private report(kind: string, err: unknown, what: string): void {
    const now = (this.o.now ?? Date.now)();
    if (now - (this.lastReported.get(kind) ?? -Infinity) < 60_000) return;
    this.lastReported.set(kind, now);
    this.o.onError?.(err, what);
  }

  private modelOf(modelId: string): Loaded | undefined {
    let l = this.byModel.get(modelId);
    if (l === undefined) {
      l =
        this.models.find((m) => this.o.context.isOfModel(this.o.workspace, modelId, m.model.target)) ?? null;
      this.byModel.set(modelId, l);
    }
    return l ?? undefined;
  }

  /** Adds one reading set; predicts at the first reading of a new step. */
  private fold(s: TwinState, obs: TelemetryObservation): void {
    const { stepMs, inputs, window } = s.loaded;
    const start = stepStart(obs.time, stepMs);
    s.firstStep ??= start;
    if (start < s.firstStep) s.firstStep = start;
    let c = s.current;
    if (c !== undefined && start < c.start) return; // late: its step is closed
    if (c === undefined || start > c.start) {
      if (c !== undefined) this.close(s, c, window);
      c = s.current = { start, sum: new Float64Array(inputs.length), n: new Float64Array(inputs.length) };
    }
    let any = false;
    for (let i = 0; i < inputs.length; i++) {
      const v = obs.values[inputs[i]!];
      if (typeof v === 'number' && Number.isFinite(v)) {
        c.sum[i]! += v;
        c.n[i]!++;
        any = true;
      }
    }
    if (any && s.predictedStep !== start) {
      s.predictedStep = start;
      this.predict(s, obs);
    }
  }

  /** Ends the step being read: its averages become a row (with NaN rows for steps without readings). */
  private close(s: TwinState, c: NonNullable<TwinState['current']>, window: number): void {
    const { stepMs } = s.loaded;
    const last = s.rows[s.rows.length - 1];
    if (last !== undefined) {
      const gap = Math.round((c.start - last.start) / stepMs) - 1;
      for (let g = Math.max(0, gap - window); g < gap; g++)
        s.rows.push({
          start: last.start + (g + 1) * stepMs,
          values: new Float64Array(c.sum.length).fill(NaN),
        });
    }
    const values = new Float64Array(c.sum.length);
    for (let i = 0; i < values.length; i++) values[i] = c.n[i]! > 0 ? c.sum[i]! / c.n[i]! : NaN;
    s.rows.push({ start: c.start, values });
    if (s.rows.length > window) s.rows.splice(0, s.rows.length - window);
  }

  private predict(s: TwinState, obs: TelemetryObservation): void {
    const { predictor, inputs, stepMs, window } = s.loaded;
    const c = s.current!;
    const rows = s.rows.slice(-(window - 1));
    const n = rows.length + 1;
    const steps = new Float64Array(n);
    const columns: Record<string, Float64Array> = Object.create(null) as Record<string, Float64Array>;
    for (const name of inputs) columns[name] = new Float64Array(n);
    const first = s.firstStep!;
    for (let r = 0; r < n; r++) {
      const row = r < rows.length ? rows[r]! : undefined;
      const start = row ? row.start : c.start;
      steps[r] = Math.round((start - first) / stepMs) + 1;
      for (let i = 0; i < inputs.length; i++)
        columns[inputs[i]!]![r] = row ? row.values[i]! : c.n[i]! > 0 ? c.sum[i]! / c.n[i]! : NaN;
    }
    const recent: RulAssetSeries = { id: obs.twinId, steps, columns };
    try {
      const p = predictor.predict(recent);
      if (!Number.isFinite(p.rul)) return;
      const values: Record<string, number> = { [RUL_VALUE]: p.rul };
      if (p.lower !== undefined && Number.isFinite(p.lower)) values[RUL_LOWER] = p.lower;
      if (p.upper !== undefined && Number.isFinite(p.upper)) values[RUL_UPPER] = p.upper;
      this.counts.predictions++;
      this.o.sink.write(obs.workspace, obs.twinId, obs.time, values);
    } catch (err) {
      this.report('prediction', err, `RUL prediction of ${obs.twinId}`);
    }
  }

  /** Fills a new twin's rows from history (its first step and its last `window` steps), then folds what waited. */
  private warmUp(key: string, s: TwinState, obs: TelemetryObservation): void {
    const held: TelemetryObservation[] = [obs];
    s.held = held;
    const { stepMs, inputs, window } = s.loaded;
    const now = stepStart(obs.time, stepMs);
    const from = now - window * stepMs;
    const ws = obs.workspace;
    const read = async (): Promise<void> => {
      let first: number | undefined;
      for (const name of inputs) {
        const t = await this.o.first!(ws, obs.twinId, name);
        if (t !== undefined && (first === undefined || t < first)) first = t;
      }
      if (first === undefined || first >= now) return;
      s.firstStep = stepStart(first, stepMs);
      const byStep = new Map<number, Float64Array>();
      for (let i = 0; i < inputs.length; i++) {
        const cells = await this.o.cells!(
          ws,
          obs.twinId,
          inputs[i]!,
          Math.max(from, s.firstStep),
          now,
          stepMs,
        );
        for (const p of cells) {
          const start = stepStart(p.time, stepMs);
          let v = byStep.get(start);
          if (v === undefined) byStep.set(start, (v = new Float64Array(inputs.length).fill(NaN)));
          v[i] = p.value;
        }
      }
      const starts = [...byStep.keys()].sort((a, b) => a - b);
      for (const start of starts) {
        const last = s.rows[s.rows.length - 1];
        if (last !== undefined)
          for (let t = last.start + stepMs; t < start && s.rows.length < 2 * window; t += stepMs)
            s.rows.push({ start: t, values: new Float64Array(inputs.length).fill(NaN) });
        s.rows.push({ start, values: byStep.get(start)! });
      }
      if (s.rows.length > window) s.rows.splice(0, s.rows.length - window);
    };
    read()
      .catch((err: unknown) => {
        this.counts.warmUpFailures++;
        this.report('warm-up', err, `RUL warm-up of ${obs.twinId}`);
      })
      .finally(() => {
        if (this.twins.get(key) !== s) return; // forgotten meanwhile
        s.held = undefined;
        held.sort((a, b) => a.time - b.time);
        for (const h of held) this.fold(s, h);
      });
  }
}
