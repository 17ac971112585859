/**
 * One twin's shadow: its behaviour model run beside the live twin on the twin's real inputs, with no
 * faults and no noise, predicting what each mapped telemetry should read. `observe(t, measured)`
 * advances the model to the reading's time and returns measured − predicted for every numeric
 * telemetry the model maps: near zero while the asset behaves like its model, growing when it does
 * not (bearing wear, a stuck sensor, a blocked pipe...).
 *
 * Starting point: the model's initial states, except states a telemetry reads directly (`from:` a
 * bare state name), which start at the first measured value — a shadow joining a warm pump does
 * not report the warm-up it never saw as a residual.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { BehaviourRuntime, CompiledBehaviour } from '../behaviour/compile-behaviour.js';
import { idealTelemetry, type IdealProbe, type IdealTelemetry } from '../behaviour/ideal-telemetry.js';
import { createStepper } from '../solvers/solve-ivp.js';
import type { OdeStepper } from '../solvers/ode-types.js';

export interface ShadowObservation {
  /** Simulated time of the reading (s). */
  t: number;
  /** Noise-free model value of each numeric telemetry the reading carried. */
  predicted: Record<string, number>;
  /** measured − predicted, same names. */
  residuals: Record<string, number>;
}

export interface ShadowTwinOptions {
  /** Parameter values for this twin (e.g. an applied calibration); the model's defaults otherwise. */
  parameters?: Readonly<Record<string, number>>;
  /** Largest integration step (s), so schedules and cycles are not stepped over (default 60). */
  maxStep?: number;
}

export class ShadowTwin {
  private readonly rt: BehaviourRuntime;
  private readonly ideal: IdealTelemetry;
  /** Numeric telemetry only: residuals of booleans and integers say little. */
  private readonly probes: readonly IdealProbe[];
  private readonly maxStep: number;
  private stepper: OdeStepper | undefined;

  constructor(
    readonly model: CompiledBehaviour,
    readonly twinId: string,
    options: ShadowTwinOptions = {},
  ) {
    this.rt = model.createRuntime(options.parameters);
    this.rt.faultStart.fill(NaN); // the healthy model: faults the behaviour schedules itself stay off
    this.ideal = idealTelemetry(model);
    this.probes = this.ideal.probes.filter((p) => p.encoding === 'double');
    this.maxStep = options.maxStep ?? 60;
  }

  /** The model's time (s); NaN before the first observation. */
  get t(): number {
    return this.stepper?.t ?? NaN;
  }

  /** A copy of the model's states (layout.states order); empty before the first observation. */
  state(): Float64Array {
    return this.stepper ? Float64Array.from(this.stepper.y) : new Float64Array(0);
  }

  /** Sets an input (property, relationship value, external) from now on. */
  setInput(name: string, value: number): void {
    if (this.rt.inputs[this.model.layout.inputs.indexOf(name)] === value) return;
    this.model.setInput(this.rt, name, value);
    this.restart();
  }

  /** Sets a relationship input from the related twins' values (aggregated as the model says). */
  setRelationshipInput(name: string, values: readonly number[]): void {
    const k = this.model.layout.inputs.indexOf(name);
    const before = this.rt.inputs[k];
    this.model.setRelationshipInput(this.rt, name, values);
    if (this.rt.inputs[k] !== before) this.restart();
  }

  /**
   * Applies a command the twin's device was sent, to its inputs only: the shadow is the healthy
   * model, so commands that inject faults do not reach it. Returns how many inputs it set.
   */
  applyCommand(command: string, payload: unknown): number {
    let n = 0;
    for (const i of this.model.spec.inputs) {
      if (i.source.kind !== 'command' || i.source.command !== command) continue;
      // applyCommand also switches faults on: apply it to a scratch runtime and copy inputs only.
      const scratch = this.model.createRuntime();
      scratch.inputs.set(this.rt.inputs);
      this.model.applyCommand(scratch, this.t, command, payload);
      this.rt.inputs.set(scratch.inputs);
      n++;
      break;
    }
    if (n) this.restart();
    return n;
  }

  /**
   * Advances to time `t` and compares. Undefined when `t` is before the model's time (an old or
   * out-of-order reading: the model cannot go back) or the reading has no numeric mapped telemetry.
   * @throws TwinloopError BadRequest when the model cannot be integrated there (non-finite values).
   */
  observe(t: number, measured: Readonly<Record<string, unknown>>): ShadowObservation | undefined {
    const m = new Map<string, number>();
    for (const p of this.probes) {
      const v = measured[p.name];
      if (typeof v === 'number' && Number.isFinite(v)) m.set(p.name, v);
    }
    if (m.size === 0) return undefined;
    if (!this.stepper) {
      const y = this.model.initialState(this.rt);
      for (const p of this.probes) if (p.state >= 0 && m.has(p.name)) y[p.state] = m.get(p.name) as number;
      this.stepper = createStepper('dopri5', this.model.rhs(this.rt), t, y, {
        maxStep: this.maxStep,
        maxSteps: Number.MAX_SAFE_INTEGER,
      });
    }
    const s = this.stepper;
    if (t < s.t) return undefined;
    try {
      s.advanceTo(t);
    } catch (e) {
      throw new TwinloopError(
        'BadRequest',
        `Shadow of '${this.twinId}' cannot follow its model to t = ${t} s: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const ideal = this.ideal.values(t, s.y, this.rt);
    const predicted: Record<string, number> = {};
    const residuals: Record<string, number> = {};
    for (const p of this.probes) {
      const v = m.get(p.name);
      if (v === undefined) continue;
      const pred = ideal[p.name] as number;
      if (!Number.isFinite(pred)) continue;
      predicted[p.name] = pred;
      residuals[p.name] = v - pred;
    }
    return { t, predicted, residuals };
  }

  private restart(): void {
    const s = this.stepper;
    if (s) s.reset(s.t, Float64Array.from(s.y));
  }
}
