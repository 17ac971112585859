/**
 * A twin's remaining useful life now, from its history (GET /digitaltwins/{id}/rul): the same rows
 * live inference sees (rul-history.ts resampling, steps numbered from the twin's first step), the
 * last `window` of them, given to the twin's active RUL model (or a chosen version). Used to
 * answer "what does the model say about this engine" for twins whose readings were imported, not
 * streamed (bench:rul predicts NASA's test engines this way).
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { HistoryStore } from '../../core/ports/storage-ports.js';
import { readRulAssets } from './rul-history.js';
import type { ActiveRulModel, RulArtefact, RulPrediction, RulPredictor } from './rul-types.js';

/** Where RUL models come from (the model registry). */
export interface RulModelSource {
  /** The active RUL model for twins of `modelId` (its own or an ancestor's), or undefined. */
  activeFor(modelId: string): Promise<ActiveRulModel | undefined>;
  /** A stored RUL model by registry id, or undefined. */
  byId(id: string): Promise<ActiveRulModel | undefined>;
}

export interface RulPredictionOptions {
  workspace: string;
  history: Pick<HistoryStore, 'queryRaw' | 'queryAggregate'>;
  models: RulModelSource;
  /** The twin's model id, or undefined when there is no such twin. */
  modelOfTwin: (twinId: string) => string | undefined;
  load: (artefact: RulArtefact) => RulPredictor;
  /** Loaded predictors kept (default 8). */
  cacheSize?: number;
}

export interface TwinRulAnswer extends RulPrediction {
  twinId: string;
  modelId: string;
  version: number;
  /** The twin's step the prediction is for (1 = its first step), and that step's start time. */
  step: number;
  time: string;
  /** One step, in seconds (the model's): `rul` steps are `rul × stepSeconds` seconds. */
  stepSeconds: number;
}

export class RulPredictionService {
  private readonly cache = new Map<string, RulPredictor>();

  constructor(private readonly o: RulPredictionOptions) {}

  /**
   * @throws DigitalTwinNotFound; NotFound when no RUL model is active for the twin's model (or the
   * chosen one does not exist); ValidationFailed when the twin has no reading of the model's inputs
   */
  async predict(twinId: string, modelId?: string): Promise<TwinRulAnswer> {
    const twinModel = this.o.modelOfTwin(twinId);
    if (twinModel === undefined)
      throw new TwinloopError('DigitalTwinNotFound', `There is no twin '${twinId}'.`);
    const m =
      modelId !== undefined ? await this.o.models.byId(modelId) : await this.o.models.activeFor(twinModel);
    if (!m)
      throw new TwinloopError(
        'NotFound',
        modelId !== undefined
          ? `There is no RUL model '${modelId}'.`
          : `No RUL model is active for ${twinModel}: train one (twinloop train rul) and promote it.`,
      );
    const predictor = this.predictor(m);
    const stepMs = m.artefact.stepMs;
    if (typeof stepMs !== 'number' || stepMs <= 0)
      throw new TwinloopError(
        'ValidationFailed',
        `The RUL model '${m.modelId}' has no step: it cannot read history.`,
      );
    const read = await readRulAssets({
      history: this.o.history,
      workspace: this.o.workspace,
      twinIds: [twinId],
      columns: predictor.inputs,
      stepMs,
      maxStepsPerAsset: Math.max(1, predictor.spec.window),
    });
    const asset = read.assets[0];
    if (!asset)
      throw new TwinloopError(
        'ValidationFailed',
        `'${twinId}' has no reading of the model's inputs (${predictor.inputs.slice(0, 5).join(', ')}${predictor.inputs.length > 5 ? ', …' : ''}).`,
      );
    const p = predictor.predict(asset);
    const n = asset.steps.length;
    const step = asset.steps[n - 1]!;
    const lastStart = read.range.to ?? 0;
    return {
      twinId,
      modelId: m.modelId,
      version: m.version,
      ...p,
      step,
      time: new Date(lastStart).toISOString(),
      stepSeconds: stepMs / 1000,
    };
  }

  private predictor(m: ActiveRulModel): RulPredictor {
    const key = `${m.modelId}\u0000${m.version}`;
    let p = this.cache.get(key);
    if (p === undefined) {
      p = this.o.load(m.artefact);
      if (this.cache.size >= (this.o.cacheSize ?? 8)) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, p);
    }
    return p;
  }
}
