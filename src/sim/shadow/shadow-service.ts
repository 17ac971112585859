/**
 * Shadow mode for a workspace: every twin whose model has a behaviour gets a ShadowTwin when its
 * first reading arrives; each later reading advances the model on the twin's real inputs (its
 * properties, the latest values of the twins it is related to, the commands it was sent) and the
 * residuals (measured − predicted) and predictions are written back as the twin's derived telemetry
 * `{name}Residual` and `{name}Predicted` — in history, in the graph (queryable:
 * `WHERE T.$telemetry.vibrationResidual > 2`) and on the live stream, for the analytics to flag a twin that
 * stops behaving like its model.
 */
import type { GraphView } from '../../core/graph/graph-types.js';
import type { LiveEvent, LiveEventBus } from '../../core/live/live-events.js';
import type { BehaviourCatalog } from '../behaviour/behaviour-catalog.js';
import { ShadowTwin } from './shadow-twin.js';

export interface ShadowServiceOptions {
  workspace: string;
  graph: GraphView;
  catalog: BehaviourCatalog;
  /** Stores derived values as the twin's telemetry (IngestService.ingestDerived). */
  writeDerived: (twinId: string, time: number, values: Record<string, number>) => Promise<void>;
  /** The simulated time (s) of a reading's wall time (ms); schedules in behaviours run on it. */
  simTime: (wallMs: number) => number;
  /** Parameter values applied to a twin (calibration), if any. */
  parameters?: (twinId: string) => Readonly<Record<string, number>> | undefined;
  /** Twins to shadow (default: every twin with a behaviour). */
  include?: (twinId: string) => boolean;
  onError?: (error: unknown, twinId: string) => void;
}

export interface ShadowStats {
  twins: number;
  /** Readings compared with the model. */
  observations: number;
  /** Readings skipped (older than the model's time, or none of the model's telemetry). */
  skipped: number;
  errors: number;
}

/** Suffixes of the derived telemetry names. */
export const RESIDUAL_SUFFIX = 'Residual';
export const PREDICTED_SUFFIX = 'Predicted';

const asNumber = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'boolean' ? (v ? 1 : 0) : undefined;

export class ShadowService {
  private readonly twins = new Map<string, ShadowTwin>();
  /** Twins found to have no behaviour (not looked up again). */
  private readonly without = new Set<string>();
  private readonly stats_: ShadowStats = { twins: 0, observations: 0, skipped: 0, errors: 0 };
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly o: ShadowServiceOptions) {}

  start(bus: LiveEventBus): void {
    this.unsubscribe ??= bus.subscribe((events) => this.onEvents(events));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  stats(): ShadowStats {
    return { ...this.stats_, twins: this.twins.size };
  }

  /** The shadow of a twin, once it has one. */
  shadowOf(twinId: string): ShadowTwin | undefined {
    return this.twins.get(twinId);
  }

  /** A command sent to a twin's device: the shadow follows its input part (see ShadowTwin). */
  onCommand(twinId: string, command: string, request: unknown): void {
    try {
      this.twins.get(twinId)?.applyCommand(command, request);
    } catch (e) {
      this.stats_.errors++;
      this.o.onError?.(e, twinId);
    }
  }

  /** Drops a twin's shadow (its parameters changed, or it was deleted); the next reading starts anew. */
  forget(twinId: string): void {
    this.twins.delete(twinId);
    this.without.delete(twinId);
  }

  private onEvents(events: readonly LiveEvent[]): void {
    for (const e of events) {
      if (e.workspace !== this.o.workspace) continue;
      if (e.type === 'twinDeleted' || e.type === 'twinReplaced') this.forget(e.twinId);
      else if (e.type === 'telemetry' && e.component === undefined) this.observe(e.twinId, e.time, e.values);
    }
  }

  private shadowFor(twinId: string): ShadowTwin | undefined {
    const known = this.twins.get(twinId);
    if (known || this.without.has(twinId)) return known;
    const twin = this.o.graph.getTwin(twinId);
    const entry =
      twin && (this.o.include?.(twinId) ?? true) ? this.o.catalog.forModel(twin.modelId) : undefined;
    if (!entry) {
      this.without.add(twinId);
      return undefined;
    }
    const parameters = this.o.parameters?.(twinId);
    const shadow = new ShadowTwin(entry.model, twinId, parameters ? { parameters } : {});
    this.twins.set(twinId, shadow);
    return shadow;
  }

  /** Refreshes property and relationship inputs from the live graph. */
  private refreshInputs(shadow: ShadowTwin, twinId: string): void {
    const g = this.o.graph;
    const twin = g.getTwin(twinId);
    for (const input of shadow.model.spec.inputs) {
      const src = input.source;
      if (src.kind === 'property') {
        const v = asNumber(twin?.contents[src.property]);
        if (v !== undefined) shadow.setInput(input.name, v);
      } else if (src.kind === 'relationship') {
        const ids =
          src.direction === 'outgoing'
            ? [...g.outgoing(twinId, src.relationship)].map((r) => r.targetId)
            : [...g.incoming(twinId, src.relationship)].map((r) => r.sourceId);
        const values: number[] = [];
        for (const id of ids) {
          const other = g.getTwin(id);
          const v = asNumber(other?.telemetry[src.source]?.value ?? other?.contents[src.source]);
          if (v !== undefined) values.push(v);
        }
        shadow.setRelationshipInput(input.name, values);
      }
    }
  }

  private observe(twinId: string, time: number, values: Record<string, unknown>): void {
    // Our own derived values come back on the bus as telemetry: not readings to compare.
    if (Object.keys(values).every((k) => k.endsWith(RESIDUAL_SUFFIX) || k.endsWith(PREDICTED_SUFFIX))) return;
    const shadow = this.shadowFor(twinId);
    if (!shadow) return;
    try {
      this.refreshInputs(shadow, twinId);
      const obs = shadow.observe(this.o.simTime(time), values);
      if (!obs) {
        this.stats_.skipped++;
        return;
      }
      this.stats_.observations++;
      const derived: Record<string, number> = {};
      for (const [name, r] of Object.entries(obs.residuals)) {
        derived[name + RESIDUAL_SUFFIX] = r;
        derived[name + PREDICTED_SUFFIX] = obs.predicted[name] as number;
      }
      this.o.writeDerived(twinId, time, derived).catch((e: unknown) => {
        this.stats_.errors++;
        this.o.onError?.(e, twinId);
      });
    } catch (e) {
      this.stats_.errors++;
      this.o.onError?.(e, twinId);
      this.forget(twinId); // start afresh from the next reading rather than fail on every one
    }
  }
}
