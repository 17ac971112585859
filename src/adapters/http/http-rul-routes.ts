/**
 * Remaining-useful-life routes (docs/predictive-maintenance.md):
 * - POST /ml/training: starts a training (body: the options of docs/predictive-maintenance.md);
 *   202 with the job and its Location.
 * - GET /ml/training: the training jobs, newest first. GET /ml/training/{id}: one, with its progress
 *   (phase, fraction, time left) and, when it has finished, the model it stored and its metrics.
 * - DELETE /ml/training/{id}: cancels a waiting or running training.
 * - GET /digitaltwins/{id}/rul[?model=]: the twin's remaining useful life now, from its history,
 *   by its model's active RUL model (or the one named).
 */
import type { FastifyInstance } from 'fastify';
import type { RulPredictionService } from '../../analytics/rul/rul-prediction.js';
import type { RulTrainingRequest } from '../../analytics/rul/rul-training-request.js';
import type { RulTrainingService } from '../../analytics/rul/rul-training-service.js';

/** What the routes need of predictive maintenance. */
export interface HttpRulPort {
  training: Pick<RulTrainingService, 'start' | 'get' | 'list' | 'cancel'>;
  /** Checks a training request against the models. @throws ValidationFailed, ModelNotFound */
  readRequest(body: unknown): RulTrainingRequest;
  prediction: Pick<RulPredictionService, 'predict'>;
}

const TAG = 'Predictive maintenance (Twinloop)';
const jobParams = { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } } as const;

export function registerRulRoutes(app: FastifyInstance, rul: HttpRulPort): void {
  app.post(
    '/ml/training',
    {
      schema: {
        tags: [TAG],
        summary: 'Trains a remaining-useful-life model from the history of twins that ran to failure.',
        description:
          'Runs in the background (one training at a time); 202 with the job. Follow it with ' +
          'GET /ml/training/{id}. The model is stored in the registry as a new version (GET /ml/models).',
      },
    },
    async (req, reply) => {
      const job = rul.training.start(rul.readRequest(req.body));
      return reply
        .code(202)
        .header('location', `/ml/training/${encodeURIComponent(job.id)}`)
        .send(job);
    },
  );

  app.get(
    '/ml/training',
    { schema: { tags: [TAG], summary: 'The training jobs kept, newest first.' } },
    async () => ({ value: rul.training.list() }),
  );

  app.get(
    '/ml/training/:id',
    {
      schema: { tags: [TAG], summary: 'One training job, with its progress and result.', params: jobParams },
    },
    async (req) => rul.training.get((req.params as { id: string }).id),
  );

  app.delete(
    '/ml/training/:id',
    { schema: { tags: [TAG], summary: 'Cancels a waiting or running training.', params: jobParams } },
    async (req) => rul.training.cancel((req.params as { id: string }).id),
  );

  app.get(
    '/digitaltwins/:id/rul',
    {
      schema: {
        tags: [TAG],
        summary: "The twin's remaining useful life now, predicted from its history.",
        description:
          "By the active RUL model of the twin's model (or `model`, a registry id). In steps of the " +
          'model (the step is in the answer of GET /ml/models/{id}).',
        params: { type: 'object', properties: { id: { type: 'string' } } },
        querystring: {
          type: 'object',
          properties: { model: { type: 'string', maxLength: 200 } },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const { model } = req.query as { model?: string };
      return rul.prediction.predict(id, model);
    },
  );
}
