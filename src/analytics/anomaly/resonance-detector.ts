/**
 * The strong detector, in the family of NAB's leader ARTime (adaptive resonance on windowed
 * features), written from the idea, not the code. Two scales of prototype matching
 * (prototype-layer.ts): a fine one whose bucket is probation / bucketsPerProbation readings, and a
 * coarse one `coarse` times longer, so both a changed shape and a changed daily pattern are
 * novel; each prototype may have its own wider radius, and evidence is measured against prototypes
 * older than one bucket of their scale, so a slow change cannot creep past vigilance.
 * A reading outside the range seen so far is evidence at once, before its bucket closes.
 * After an alert the output is masked for a while, as ARTime does, so one event gives one
 * detection rather than a burst of false positives; and a layer's evidence stays masked while its
 * window still holds the alerting reading (the coarse window outlasts the mask: each of its
 * vectors that holds the event is novel because of it, the same event again).
 * Beside the prototypes, a stuck-value channel (stuck-run.ts): a run of identical readings longer
 * than any the stream has completed is reported at a fixed output (`stuck`), fused by max, even
 * when the stuck value is an ordinary level that prototype matching finds familiar.
 *
 * Bounded: 2 × prototypes × (window + 3) numbers, and 5 for the stuck run. O(prototypes × window /
 * bucket) per reading.
 */
import type { Problem } from '../../core/errors/errors.js';
import {
  DEFAULT_PROBATION,
  clampValue,
  readConfig,
  readSnapshot,
  snapshotError,
  stateNumber,
  type AnomalyDetector,
  type DetectorSnapshot,
} from './detector.js';
import { PrototypeLayer, type LayerSettings } from './prototype-layer.js';
import { StuckRun } from './stuck-run.js';

export interface ResonanceConfig extends Record<string, number> {
  /** Readings learnt before scoring (NAB: min(0.15·n, 750)). */
  probation: number;
  /** Fine buckets per probation: the fine bucket is max(1, round(probation / bucketsPerProbation)). */
  bucketsPerProbation: number;
  /** Coarse bucket, in fine buckets (0: no coarse scale). */
  coarse: number;
  /** Bucket means in a feature vector. */
  window: number;
  /** Most prototypes kept per scale. */
  prototypes: number;
  /** Floor of the vigilance radius: mean absolute difference, as a fraction of the observed range. */
  radius: number;
  /** Vigilance radius as a multiple of the typical nearest distance. */
  spread: number;
  /** Weight of a new nearest distance in the typical one. */
  typicalAlpha: number;
  /** How far a resonating prototype moves towards the vector. */
  learn: number;
  /** A prototype's radius is at least this multiple of the mean distance of its members (0: one radius for all). */
  ownRadius: number;
  /** Weight of a new member's distance in a prototype's mean. */
  ownAlpha: number;
  /** Prototypes younger than this many of their layer's buckets are not memory for the evidence (0: off). */
  mature: number;
  /** Weight of a reading's excursion beyond the observed range (fraction of the range). */
  rangeWeight: number;
  /** Evidence is reduced by this multiple of its own long-run mean (a stream that is often novel must be more so). */
  relative: number;
  /** Output level that starts the mask. */
  alert: number;
  /** During a mask, an output this fraction of the way from the masking output to 1 breaks through (1: never). */
  breakthrough: number;
  /** Mask length after an alert, as a fraction of probation. */
  mask: number;
  /**
   * After an alert, a layer's evidence is an echo of that event while the layer's window still
   * holds the alerting reading, and is masked like the output (this fraction of the window's span
   * in readings, counted from the close of the bucket that holds the alerting reading; 0: off).
   */
  echo: number;
  /**
   * Output for a run of identical readings longer than every run the stream has completed
   * (stuck-run.ts), fused by max with the resonance output (0: off).
   */
  stuck: number;
  /** A stuck run must also be at least this fraction of probation long (and 2 readings). */
  stuckMin: number;
}

export const RESONANCE_DEFAULTS: ResonanceConfig = {
  probation: DEFAULT_PROBATION,
  bucketsPerProbation: 150,
  coarse: 8,
  window: 8,
  prototypes: 128,
  radius: 0.04,
  spread: 2,
  typicalAlpha: 0.01,
  learn: 0.1,
  ownRadius: 1,
  ownAlpha: 0.2,
  mature: 1,
  rangeWeight: 4,
  relative: 0,
  alert: 0.2,
  breakthrough: 0.7,
  mask: 0.25,
  echo: 1,
  stuck: 0.5,
  stuckMin: 0.1,
};

/** Factor on a masked output, and on a layer's echo of the last alert. */
const MASKED = 0.1;
/** sinceAlert before any alert (and its cap). */
const NO_ALERT = 1e9;

const BOUNDS = {
  probation: [0, 1e9],
  bucketsPerProbation: [1, 1e6],
  coarse: [0, 1000],
  window: [1, 64],
  prototypes: [1, 1024],
  radius: [1e-6, 10],
  spread: [0, 1e3],
  typicalAlpha: [0, 1],
  learn: [0, 1],
  ownRadius: [0, 1e3],
  ownAlpha: [0, 1],
  mature: [0, 1e3],
  rangeWeight: [0, 1e6],
  relative: [0, 1e6],
  alert: [0, 1],
  breakthrough: [0, 1],
  mask: [0, 100],
  echo: [0, 100],
  stuck: [0, 1],
  stuckMin: [0, 1e3],
} as const;

export class ResonanceDetector implements AnomalyDetector {
  readonly kind = 'resonance' as const;
  private readonly cfg: ResonanceConfig;
  private readonly set: LayerSettings;
  private readonly maskRows: number;
  private readonly layers: PrototypeLayer[];
  private n = 0;
  private lo = 0;
  private hi = 0;
  private maskLeft = 0;
  /** The output that started the mask: a much larger one breaks through it. */
  private maskLevel = 0;
  private meanEvidence = 0;
  /** Readings since the last alert (capped at NO_ALERT). */
  private sinceAlert = NO_ALERT;
  /** Per layer: readings after an alert during which its evidence is an echo. */
  private readonly echoRows: number[];
  /**
   * Readings between the last alert and the close of the bucket that holds it: the alerting
   * reading enters the layers' windows only then, so its echo lasts that much longer.
   */
  private alertPad = 0;
  private readonly stuck: StuckRun;

  constructor(config?: unknown, snapshot?: unknown) {
    const snap = snapshot === undefined ? undefined : readSnapshot('resonance', snapshot);
    const cfg = (this.cfg = readConfig(RESONANCE_DEFAULTS, BOUNDS, snap ? snap.config : config));
    this.set = {
      radius: cfg.radius,
      spread: cfg.spread,
      typicalAlpha: cfg.typicalAlpha,
      learn: cfg.learn,
      ownRadius: cfg.ownRadius,
      ownAlpha: cfg.ownAlpha,
      mature: cfg.mature,
    };
    const w = Math.round(cfg.window);
    const p = Math.round(cfg.prototypes);
    const fine = Math.max(1, Math.round(cfg.probation / cfg.bucketsPerProbation));
    const blocks = cfg.coarse >= 1 ? [1, Math.round(cfg.coarse)] : [1];
    this.maskRows = Math.round(cfg.mask * cfg.probation);
    this.echoRows = blocks.map((b) => Math.round(cfg.echo * fine * w * b));
    const stuckMin = Math.max(2, Math.round(cfg.stuckMin * cfg.probation));
    if (snap) {
      const problems: Problem[] = [];
      this.n = stateNumber(snap.state, 'n', problems);
      this.lo = stateNumber(snap.state, 'lo', problems);
      this.hi = stateNumber(snap.state, 'hi', problems);
      this.maskLeft = stateNumber(snap.state, 'maskLeft', problems);
      this.maskLevel = stateNumber(snap.state, 'maskLevel', problems);
      this.meanEvidence = stateNumber(snap.state, 'meanEvidence', problems);
      // Absent from snapshots taken before echoes were masked: no alert to echo.
      this.sinceAlert =
        snap.state.sinceAlert === undefined ? NO_ALERT : stateNumber(snap.state, 'sinceAlert', problems);
      // Absent from snapshots taken before the echo counted from the bucket's close: as before.
      this.alertPad = snap.state.alertPad === undefined ? 0 : stateNumber(snap.state, 'alertPad', problems);
      // Absent from snapshots taken before the stuck-run channel: no run seen yet.
      const stuck = snap.state.stuck;
      if (stuck === undefined) this.stuck = new StuckRun(stuckMin);
      else if (typeof stuck === 'object' && stuck !== null && !Array.isArray(stuck))
        this.stuck = new StuckRun(stuckMin, stuck as Record<string, unknown>, problems);
      else {
        problems.push({
          code: 'anomaly.snapshot.field',
          message: 'stuck is an object.',
          pointer: '/state/stuck',
        });
        this.stuck = new StuckRun(stuckMin);
      }
      const layers = snap.state.layers;
      if (!Array.isArray(layers) || layers.length !== blocks.length) {
        problems.push({
          code: 'anomaly.snapshot.field',
          message: `layers has ${blocks.length} entries.`,
          pointer: '/state/layers',
        });
        this.layers = [];
      } else
        this.layers = blocks.map((b, i) => {
          const st = layers[i] as unknown;
          return new PrototypeLayer(
            fine,
            w,
            p,
            b,
            typeof st === 'object' && st !== null ? (st as Record<string, unknown>) : {},
            problems,
          );
        });
      if (
        this.n < 0 ||
        this.hi < this.lo ||
        this.maskLeft < 0 ||
        this.sinceAlert < 0 ||
        !Number.isInteger(this.alertPad) ||
        this.alertPad < 0 ||
        this.alertPad >= fine
      )
        problems.push({
          code: 'anomaly.snapshot.field',
          message: 'Inconsistent counters.',
          pointer: '/state',
        });
      if (problems.length) throw snapshotError(problems);
    } else {
      this.layers = blocks.map((b) => new PrototypeLayer(fine, w, p, b));
      this.stuck = new StuckRun(stuckMin);
    }
  }

  score(_time: number, value: number): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) return 0;
    const x = clampValue(value);
    const cfg = this.cfg;
    let excursion = 0;
    if (this.n === 0) {
      this.lo = x;
      this.hi = x;
    } else {
      const range = this.hi - this.lo;
      if (x > this.hi) {
        excursion = range > 0 ? (x - this.hi) / range : 1;
        this.hi = x;
      } else if (x < this.lo) {
        excursion = range > 0 ? (this.lo - x) / range : 1;
        this.lo = x;
      }
    }
    this.n++;
    const range = this.hi - this.lo;
    const stuck = this.stuck.push(x);
    let evidence = 0;
    if (this.sinceAlert < NO_ALERT) this.sinceAlert++;
    for (let i = 0; i < this.layers.length; i++) {
      const e = (this.layers[i] as PrototypeLayer).push(x, range, this.set);
      // A window that still holds the last alert is novel because of it: the same event again.
      const rows = this.echoRows[i] as number;
      const echo = rows > 0 && this.sinceAlert <= rows + this.alertPad;
      evidence = Math.max(evidence, echo ? MASKED * e : e);
    }
    const total = Math.min(evidence + cfg.rangeWeight * excursion, 1e12);
    const baseline = this.meanEvidence;
    this.meanEvidence += (total - baseline) / Math.min(this.n, Math.max(cfg.probation, 1));
    if (this.n <= cfg.probation) return 0;
    const raw = Math.max(0, total - cfg.relative * baseline);
    let out = raw / (raw + 1);
    if (this.maskLeft > 0 && out < this.maskLevel + cfg.breakthrough * (1 - this.maskLevel)) {
      this.maskLeft--;
      out *= MASKED;
    } else if (out >= cfg.alert) {
      this.maskLeft = this.maskRows;
      this.maskLevel = out;
      this.sinceAlert = 0;
      this.alertPad = this.layers[0]?.pending() ?? 0;
    }
    // A stuck run is its own event, not an echo of the last alert: the mask does not hide it.
    if (stuck && cfg.stuck > out) out = cfg.stuck;
    return out;
  }

  snapshot(): DetectorSnapshot {
    return {
      kind: 'resonance',
      version: 1,
      config: { ...this.cfg },
      state: {
        n: this.n,
        lo: this.lo,
        hi: this.hi,
        maskLeft: this.maskLeft,
        maskLevel: this.maskLevel,
        meanEvidence: this.meanEvidence,
        sinceAlert: this.sinceAlert,
        alertPad: this.alertPad,
        layers: this.layers.map((l) => l.state()),
        stuck: this.stuck.state(),
      },
    };
  }
}
