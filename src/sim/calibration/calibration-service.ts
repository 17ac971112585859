/**
 * Calibration of a workspace's twins (docs/calibration.md): fit chosen parameters of a twin's
 * behaviour to its history, keep every result, apply one on request — the twin's simulation, shadow
 * and what-if runs then use those values instead of the model's — and reset to the model's.
 * Pure apart from the ports it is given: the history reader, the twin lookup, the behaviour catalog
 * and the BehaviourParameterStore.
 */
import { TwinloopError, errors, type Problem } from '../../core/errors/errors.js';
import type {
  BehaviourParameters,
  BehaviourParameterStore,
  CalibrationRecord,
} from '../../core/ports/behaviour-parameter-store.js';
import type { HistoryRawQuery, HistoryStore } from '../../core/ports/storage-ports.js';
import type { CatalogEntry } from '../behaviour/behaviour-catalog.js';
import { calibrateTwinCooperative } from './cooperative-fit.js';
import { type FitParameter, type HistorySample, type TelemetryHistory } from './twin-calibration.js';

/** Reads up to `limit` points of one series of a twin in [fromMs, toMs), ascending by time. */
export type CalibrationHistory = (
  twinId: string,
  name: string,
  fromMs: number,
  toMs: number,
  limit: number,
) => readonly HistorySample[] | Promise<readonly HistorySample[]>;

/** What the service needs to know of a twin. */
export interface CalibrationTwin {
  modelId: string;
  /** Its current property values: `property` inputs of the behaviour are held at them. */
  properties?: Readonly<Record<string, unknown>>;
}

export interface CalibrationServiceOptions {
  workspace: string;
  store: BehaviourParameterStore;
  history: CalibrationHistory;
  /** The twin, undefined when there is none with this id. */
  twin: (twinId: string) => CalibrationTwin | undefined;
  /** Which behaviour simulates a model (the BehaviourCatalog). */
  behaviours: { forModel(modelId: string): CatalogEntry | undefined };
  /**
   * The history time (ms) → simulated seconds mapping of a twin: the device simulator's for a twin
   * it simulates (its schedules run on simulated time). Undefined: the first point used is 0.
   */
  simTime?: (twinId: string) => ((tsMs: number) => number) | undefined;
  /** Called after apply and reset with the twin's effective values (every parameter of its behaviour). */
  onApplied?: (twinId: string, values: Readonly<Record<string, number>>) => void;
  /** Clock, ms since epoch (default Date.now). */
  now?: () => number;
  /** Ids of new calibrations (default: random UUIDs). */
  newId?: () => string;
  /** Most points read per telemetry (default 100 000); a longer window is cut there (data.truncated). */
  maxRead?: number;
  /** Budget of simulations per optimisation stage (default: the optimiser's own). */
  maxEvaluations?: number;
  /**
   * Gives the event loop back between slices of a fit (default: setImmediate), so ingest and
   * /healthz never wait behind a calibration (cooperative-fit.ts).
   */
  yieldNow?: () => Promise<void>;
  /** Time one slice of a fit may take, ms (default 10). */
  fitSliceMs?: number;
}

/** A calibration request (the HTTP body, times already in ms). */
export interface TwinCalibrationRequest {
  /** Names, or names with bounds and a start. */
  parameters: readonly (string | FitParameter)[];
  /** Telemetry names the behaviour maps. */
  telemetry: readonly string[];
  /** Window of history, ms since epoch: [from, to) (default: the 24 h before now). */
  from?: number;
  to?: number;
  method?: 'lm' | 'nelder-mead';
  /** Inputs held at these values (booleans as 0/1); `property` inputs default to the twin's properties. */
  inputs?: Readonly<Record<string, number | boolean>>;
  /** Most points per telemetry (default 2000). */
  maxPoints?: number;
  initialState?: 'estimated' | 'model';
}

/** A stored calibration as the API shows it. */
export interface CalibrationView extends CalibrationRecord {
  /** True when these are the values applied to the twin now. */
  applied: boolean;
}

export interface EffectiveParameter {
  value: number;
  unit?: string;
  /** The model's value. */
  default: number;
  source: 'model' | 'calibration';
  calibrationId?: string;
}

/** The parameters a twin's behaviour runs with. */
export interface EffectiveParameters {
  twinId: string;
  behaviour: string;
  /** The DTMI of the interface the behaviour simulates. */
  interface: string;
  /** The calibration applied, when one is. */
  calibrationId?: string;
  /** When it was applied (ISO 8601). */
  appliedAt?: string;
  parameters: Record<string, EffectiveParameter>;
}

const DAY_MS = 86_400_000;
export const DEFAULT_MAX_READ = 100_000;

/**
 * @example
 *   const calibration = new CalibrationService({
 *     workspace: 'default', store: storage.behaviour, history: historyFromStore(storage.history, 'default'),
 *     twin: (id) => graph.getTwin(id), behaviours: catalog, onApplied: (id) => shadow.forget(id),
 *   });
 *   await calibration.load();
 *   const r = await calibration.calibrate('pump-3a', { parameters: ['frictionLoss'], telemetry: ['temperature'] });
 *   await calibration.apply('pump-3a', r.id);
 *
 * The applied parameters are read on hot paths (every shadow twin started, every what-if run), so
 * they are kept in memory: loaded from the store by `load()` at start, and updated after each
 * write the store has committed. This node is the only writer of its workspace's parameters.
 */
export class CalibrationService {
  private readonly now: () => number;
  private readonly newId: () => string;
  /** The applied parameters of the workspace's twins, by twin id (see load()). */
  private readonly appliedByTwin = new Map<string, BehaviourParameters>();

  constructor(private readonly o: CalibrationServiceOptions) {
    this.now = o.now ?? Date.now;
    this.newId = o.newId ?? (() => globalThis.crypto.randomUUID());
  }

  /** Reads the applied parameters of every twin of the workspace into memory: call once at start. @throws StorageError */
  async load(): Promise<void> {
    const all = await this.o.store.listParameters(this.o.workspace);
    this.appliedByTwin.clear();
    for (const p of all) this.appliedByTwin.set(p.twinId, p);
  }

  /**
   * Fits the request's parameters to the twin's history, stores the result and returns it.
   * @throws TwinloopError DigitalTwinNotFound; BadRequest (every problem, with a pointer into the
   *   request) when the twin has no behaviour, a name is unknown, bounds are wrong or there are too
   *   few points (saying how many were found).
   */
  async calibrate(twinId: string, request: TwinCalibrationRequest): Promise<CalibrationView> {
    const { entry, twin } = this.behaviourOf(twinId, 'BadRequest');
    const model = entry.model;
    const req = checkShape(request, this.now());
    const applied = this.usableApplied(twinId, entry);
    const inputs: Record<string, number> = {};
    // `property` inputs: the twin's current value, unless the request says otherwise.
    for (const i of model.spec.inputs) {
      if (i.source.kind !== 'property') continue;
      const v = twin.properties?.[i.source.property];
      const n = typeof v === 'boolean' ? (v ? 1 : 0) : v;
      if (typeof n === 'number' && Number.isFinite(n)) inputs[i.name] = n;
    }
    Object.assign(inputs, req.inputs);

    const maxRead = this.o.maxRead ?? DEFAULT_MAX_READ;
    let truncated = false;
    const telemetry: TelemetryHistory[] = [];
    for (const name of req.telemetry) {
      const points = await this.o.history(twinId, name, req.from, req.to, maxRead);
      if (points.length >= maxRead) truncated = true;
      telemetry.push({ name, points });
    }
    const started = this.now();
    const simTime = this.o.simTime?.(twinId);
    const { pauses: _pauses, ...result } = await calibrateTwinCooperative(
      {
        model,
        telemetry,
        inputs,
        applied: applied?.values ?? {},
        ...(simTime ? { simTime } : {}),
        fit: {
          parameters: req.parameters,
          ...(req.method !== undefined ? { method: req.method } : {}),
          ...(req.maxPoints !== undefined ? { maxPoints: req.maxPoints } : {}),
          ...(req.initialState !== undefined ? { initialState: req.initialState } : {}),
          ...(this.o.maxEvaluations !== undefined ? { maxEvaluations: this.o.maxEvaluations } : {}),
        },
      },
      {
        ...(this.o.yieldNow ? { yieldNow: this.o.yieldNow } : {}),
        ...(this.o.fitSliceMs !== undefined ? { sliceMs: this.o.fitSliceMs } : {}),
      },
    );
    const record: CalibrationRecord = {
      id: this.newId(),
      workspace: this.o.workspace,
      twinId,
      behaviour: model.spec.behaviour,
      createdAt: this.now(),
      durationMs: Math.max(0, this.now() - started),
      ...result,
      data: { ...result.data, truncated },
    };
    await this.o.store.addCalibration(record);
    return { ...record, applied: false };
  }

  /**
   * The twin's calibrations, newest first.
   * @throws TwinloopError DigitalTwinNotFound
   */
  async list(twinId: string, limit?: number): Promise<CalibrationView[]> {
    this.twinOf(twinId);
    const current = this.appliedByTwin.get(twinId)?.calibrationId;
    return (await this.o.store.listCalibrations(this.o.workspace, twinId, limit)).map((c) => ({
      ...c,
      applied: c.id === current,
    }));
  }

  /** @throws TwinloopError DigitalTwinNotFound, NotFound (no such calibration of this twin) */
  async get(twinId: string, calibrationId: string): Promise<CalibrationView> {
    this.twinOf(twinId);
    const c = await this.recordOf(twinId, calibrationId);
    const current = this.appliedByTwin.get(twinId)?.calibrationId;
    return { ...c, applied: c.id === current };
  }

  /**
   * Applies a calibration: the twin's behaviour parameters become the ones the fit was made against
   * (its `base`) with the fitted values over them; then `onApplied` is called.
   * @throws TwinloopError DigitalTwinNotFound; NotFound (no such calibration, or no behaviour);
   *   Conflict when the twin's behaviour is no longer the one the calibration fitted.
   */
  async apply(twinId: string, calibrationId: string): Promise<EffectiveParameters> {
    const { entry } = this.behaviourOf(twinId, 'NotFound');
    const c = await this.recordOf(twinId, calibrationId);
    const behaviour = entry.model.spec.behaviour;
    if (c.behaviour !== behaviour) {
      throw new TwinloopError(
        'Conflict',
        `Calibration '${calibrationId}' fitted behaviour '${c.behaviour}'; twin '${twinId}' now has '${behaviour}'. Calibrate it again.`,
      );
    }
    const known = new Set(entry.model.layout.parameters);
    const values = Object.fromEntries(
      Object.entries({ ...c.base, ...c.values }).filter(([k, v]) => known.has(k) && Number.isFinite(v)),
    );
    const applied: BehaviourParameters = {
      workspace: this.o.workspace,
      twinId,
      behaviour,
      values,
      calibrationId,
      appliedAt: this.now(),
    };
    await this.o.store.put(applied);
    this.appliedByTwin.set(twinId, applied);
    const eff = this.effective(twinId, entry);
    this.o.onApplied?.(twinId, valuesOf(eff));
    return eff;
  }

  /**
   * The parameters the twin's behaviour runs with: the model's, overridden by an applied calibration.
   * @throws TwinloopError DigitalTwinNotFound; NotFound when no behaviour simulates the twin's model
   */
  parameters(twinId: string): EffectiveParameters {
    return this.effective(twinId, this.behaviourOf(twinId, 'NotFound').entry);
  }

  /**
   * Back to the model's parameters; then `onApplied` is called with them.
   * @throws TwinloopError DigitalTwinNotFound; NotFound when no behaviour simulates the twin's model
   */
  async reset(twinId: string): Promise<EffectiveParameters> {
    const { entry } = this.behaviourOf(twinId, 'NotFound');
    await this.o.store.delete(this.o.workspace, twinId);
    this.appliedByTwin.delete(twinId);
    const eff = this.effective(twinId, entry);
    this.o.onApplied?.(twinId, valuesOf(eff));
    return eff;
  }

  /**
   * The values applied to a twin (those that differ from its model), undefined when none are or the
   * twin has no behaviour: for the simulator, shadow mode and what-if runs. Never throws on a
   * missing twin. Synchronous: read from memory (see load()).
   */
  applied(twinId: string): Record<string, number> | undefined {
    const twin = this.o.twin(twinId);
    const entry = twin && this.o.behaviours.forModel(twin.modelId);
    return entry ? this.usableApplied(twinId, entry)?.values : undefined;
  }

  /** Forgets a deleted twin's applied parameters and calibrations. */
  async deleteTwin(twinId: string): Promise<void> {
    // Forgotten in memory first: a twin created again with this id starts from its model at once.
    this.appliedByTwin.delete(twinId);
    await this.o.store.deleteTwin(this.o.workspace, twinId);
  }

  // ---------------------------------------------------------------- internals

  private twinOf(twinId: string): CalibrationTwin {
    const twin = this.o.twin(twinId);
    if (!twin) throw errors.twinNotFound(twinId);
    return twin;
  }

  private behaviourOf(
    twinId: string,
    code: 'BadRequest' | 'NotFound',
  ): { twin: CalibrationTwin; entry: CatalogEntry } {
    const twin = this.twinOf(twinId);
    const entry = this.o.behaviours.forModel(twin.modelId);
    if (!entry) {
      throw new TwinloopError(
        code,
        `Twin '${twinId}' has no behaviour model: none simulates its model ${twin.modelId} or a model it extends.`,
        { details: { modelId: twin.modelId } },
      );
    }
    return { twin, entry };
  }

  private async recordOf(twinId: string, calibrationId: string): Promise<CalibrationRecord> {
    const c = await this.o.store.getCalibration(this.o.workspace, twinId, calibrationId);
    if (!c) throw new TwinloopError('NotFound', `Twin '${twinId}' has no calibration '${calibrationId}'.`);
    return c;
  }

  /** The stored values when they belong to the twin's current behaviour (a changed model drops them). */
  private usableApplied(twinId: string, entry: CatalogEntry) {
    const stored = this.appliedByTwin.get(twinId);
    if (!stored || stored.behaviour !== entry.model.spec.behaviour) return undefined;
    const known = new Set(entry.model.layout.parameters);
    return {
      ...stored,
      values: Object.fromEntries(Object.entries(stored.values).filter(([k]) => known.has(k))),
    };
  }

  private effective(twinId: string, entry: CatalogEntry): EffectiveParameters {
    const applied = this.usableApplied(twinId, entry);
    const parameters: Record<string, EffectiveParameter> = {};
    for (const p of entry.model.spec.parameters) {
      const v = applied?.values[p.name];
      const e: EffectiveParameter = {
        value: v ?? p.value,
        default: p.value,
        source: v === undefined ? 'model' : 'calibration',
      };
      if (p.unit !== undefined) e.unit = p.unit;
      if (v !== undefined && applied?.calibrationId !== undefined) e.calibrationId = applied.calibrationId;
      parameters[p.name] = e;
    }
    const out: EffectiveParameters = {
      twinId,
      behaviour: entry.model.spec.behaviour,
      interface: entry.interfaceId,
      parameters,
    };
    if (applied?.calibrationId !== undefined) out.calibrationId = applied.calibrationId;
    if (applied) out.appliedAt = new Date(applied.appliedAt).toISOString();
    return out;
  }
}

function valuesOf(eff: EffectiveParameters): Record<string, number> {
  return Object.fromEntries(Object.entries(eff.parameters).map(([k, p]) => [k, p.value]));
}

/** The request with its shapes checked (names and numbers are checked against the model later). */
function checkShape(
  request: TwinCalibrationRequest,
  now: number,
): Required<Pick<TwinCalibrationRequest, 'from' | 'to' | 'telemetry'>> &
  Omit<TwinCalibrationRequest, 'parameters' | 'inputs'> & {
    parameters: FitParameter[];
    inputs: Record<string, number>;
  } {
  const problems: Problem[] = [];
  const bad = (pointer: string, message: string): void => {
    problems.push({ code: 'calibration.request', pointer, message, source: 'calibration request' });
  };
  const r = (request ?? {}) as Partial<TwinCalibrationRequest>;
  const parameters: FitParameter[] = [];
  if (!Array.isArray(r.parameters) || r.parameters.length === 0) {
    bad(
      '/parameters',
      'parameters must list at least one parameter: a name, or { name, min?, max?, initial? }.',
    );
  } else {
    r.parameters.forEach((p, j) => {
      if (typeof p === 'string') parameters.push({ name: p });
      else if (typeof p === 'object' && p !== null && typeof p.name === 'string') parameters.push(p);
      else bad(`/parameters/${j}`, 'Each parameter is a name, or { name, min?, max?, initial? }.');
    });
  }
  const telemetry: string[] = [];
  if (!Array.isArray(r.telemetry) || r.telemetry.length === 0) {
    bad('/telemetry', 'telemetry must list at least one telemetry name to fit to.');
  } else {
    r.telemetry.forEach((t, k) =>
      typeof t === 'string' ? telemetry.push(t) : bad(`/telemetry/${k}`, 'A telemetry is named by a string.'),
    );
  }
  const time = (v: unknown, name: string): number | undefined => {
    if (v === undefined) return undefined;
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    bad(`/${name}`, `'${name}' must be a time: ms since epoch (or ISO 8601 over HTTP).`);
    return undefined;
  };
  const to = time(r.to, 'to') ?? now;
  const from = time(r.from, 'from') ?? to - DAY_MS;
  if (from >= to)
    bad(
      '/from',
      `'from' (${new Date(from).toISOString()}) must be before 'to' (${new Date(to).toISOString()}).`,
    );
  const inputs: Record<string, number> = {};
  if (
    r.inputs !== undefined &&
    (typeof r.inputs !== 'object' || r.inputs === null || Array.isArray(r.inputs))
  ) {
    bad('/inputs', 'inputs must be an object: { inputName: value }.');
  } else {
    for (const [k, v] of Object.entries(r.inputs ?? {})) {
      if (typeof v === 'boolean') inputs[k] = v ? 1 : 0;
      else if (typeof v === 'number' && Number.isFinite(v)) inputs[k] = v;
      else bad(`/inputs/${k}`, `Input '${k}' must be a number or a boolean.`);
    }
  }
  if (problems.length)
    throw errors.validation('BadRequest', 'The calibration request is not valid.', problems);
  const out: ReturnType<typeof checkShape> = { parameters, telemetry, from, to, inputs };
  if (r.method !== undefined) out.method = r.method;
  if (r.maxPoints !== undefined) out.maxPoints = r.maxPoints;
  if (r.initialState !== undefined) out.initialState = r.initialState;
  return out;
}

/** Page size used when reading history through a HistoryStore. */
const PAGE = 10_000;

/**
 * The history reader calibration needs, over a HistoryStore: pages through raw points of the series
 * `name` (a root telemetry of the twin) until `limit` points or the end of the window.
 * @example new CalibrationService({ ..., history: historyFromStore(storage.history, 'default') })
 */
export function historyFromStore(
  store: Pick<HistoryStore, 'queryRaw'>,
  workspace: string,
): CalibrationHistory {
  return async (twinId, name, from, to, limit) => {
    const out: HistorySample[] = [];
    let cursor: string | undefined;
    do {
      const q: HistoryRawQuery = {
        workspace,
        twinId,
        path: name,
        from,
        to,
        limit: Math.min(PAGE, limit - out.length),
        order: 'asc',
      };
      if (cursor !== undefined) q.cursor = cursor;
      const page = await store.queryRaw(q);
      for (const p of page.points) out.push({ t: p.ts, v: p.value });
      cursor = page.cursor;
    } while (cursor !== undefined && out.length < limit);
    return out;
  };
}
