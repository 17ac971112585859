/**
 * Predictive maintenance (docs/predictive-maintenance.md): RUL training jobs (their learner in a
 * worker thread), predictions from a twin's history, and live inference kept on the registry's
 * active models (the analytics reload them whenever one is promoted or rolled back).
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { HistoryStore } from '../../core/ports/storage-ports.js';
import type { MlModelRegistry } from '../../analytics/ml/ml-model-registry.js';
import { RulPredictionService } from '../../analytics/rul/rul-prediction.js';
import { loadRulPredictor } from '../../analytics/rul/rul-predictor.js';
import { readRulTrainingRequest } from '../../analytics/rul/rul-training-request.js';
import { RulTrainingService } from '../../analytics/rul/rul-training-service.js';
import type { ActiveRulModel, RulArtefact } from '../../analytics/rul/rul-types.js';
import { workerRulTrainer } from '../../adapters/workers/rul-worker-trainer.js';
import type { HttpRulPort } from '../../adapters/http/http-rul-routes.js';

const NUMERIC = new Set(['double', 'float', 'integer', 'long']);

export interface RulSubsystem {
  training: RulTrainingService;
  prediction: RulPredictionService;
  http: HttpRulPort;
  /** The registry's active RUL models, with their artefacts (for live inference). */
  activeModels(): Promise<ActiveRulModel[]>;
  close(): Promise<void>;
}

function toActive(m: { target: string; id: string; version: number; artefact?: string }): ActiveRulModel {
  return {
    target: m.target,
    modelId: m.id,
    version: m.version,
    artefact: JSON.parse(m.artefact ?? '{}') as RulArtefact,
  };
}

export function startRul(o: {
  workspace: string;
  logger: Logger;
  history: HistoryStore;
  graph: InMemoryTwinGraph;
  models: ModelService;
  registry: MlModelRegistry;
}): RulSubsystem {
  const log = o.logger.child({ component: 'rul' });
  const numericTelemetry = (target: string): string[] | undefined => {
    const iface = o.models.getInterface(target);
    if (!iface) return undefined;
    const out: string[] = [];
    for (const c of iface.contents.values())
      if (c.kind === 'Telemetry' && c.schema.kind === 'primitive' && NUMERIC.has(c.schema.name))
        out.push(c.name);
    return out;
  };
  /** Parsed artefacts of the active models, by id and version (a promotion parses one more). */
  const parsed = new Map<string, ActiveRulModel>();
  const activeModels = async (): Promise<ActiveRulModel[]> => {
    const list = await o.registry.list({ kind: 'rul', status: 'active', limit: 1000 });
    const out: ActiveRulModel[] = [];
    for (const m of list) {
      const key = `${m.id}\u0000${m.version}`;
      let a = parsed.get(key);
      if (!a) {
        const full = await o.registry.get(m.id, { artefact: true });
        a = toActive(full);
        parsed.set(key, a);
      }
      out.push(a);
    }
    for (const k of parsed.keys())
      if (!out.some((a) => `${a.modelId}\u0000${a.version}` === k)) parsed.delete(k);
    return out;
  };
  const training = new RulTrainingService({
    workspace: o.workspace,
    history: o.history,
    twins: {
      twinsOf: (target) => [...o.graph.twinsOfModel(target, false)].map((t) => t.id),
      property: (id, name) => {
        const c = o.graph.getTwin(id)?.contents;
        return c && Object.prototype.hasOwnProperty.call(c, name) ? c[name] : undefined;
      },
    },
    trainer: workerRulTrainer(),
    // Reading a model's history is thousands of synchronous store reads: sliced, so devices are
    // acknowledged while it runs.
    yieldNow: () => new Promise((resolve) => setImmediate(resolve)),
    registry: {
      add: async (m) => {
        const r = await o.registry.add({
          kind: 'rul',
          target: m.target,
          features: m.features.spec,
          trainingRange: {
            from: m.trainingRange.from ?? 0,
            to: m.trainingRange.to ?? 0,
            assets: m.trainingRange.assets,
            rows: m.trainingRange.rows,
          },
          metrics: m.metrics,
          artefact: m.artefact,
          ...(m.note !== undefined ? { note: m.note } : {}),
        });
        return { id: r.id, version: r.version };
      },
      promote: async (id, reason) => {
        await o.registry.promote(id, { by: 'training', reason });
      },
    },
    newId: () => crypto.randomUUID(),
    onError: (err, jobId) => log.warn({ err, jobId }, 'a RUL training failed'),
  });
  const prediction = new RulPredictionService({
    workspace: o.workspace,
    history: o.history,
    models: {
      activeFor: async (modelId) => {
        for (const a of await activeModels()) if (o.models.matchesModel(modelId, a.target)) return a;
        return undefined;
      },
      byId: async (id) => {
        const m = await o.registry.get(id, { artefact: true }).catch(() => undefined);
        return m && m.kind === 'rul' ? toActive(m) : undefined;
      },
    },
    modelOfTwin: (id) => o.graph.getTwin(id)?.modelId,
    load: loadRulPredictor,
  });
  return {
    training,
    prediction,
    activeModels,
    http: { training, prediction, readRequest: (body) => readRulTrainingRequest(body, { numericTelemetry }) },
    close: () => training.close(),
  };
}
