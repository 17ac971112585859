/**
 * Calibration over HTTP (docs/calibration.md), a Fastify plugin given to the server's `plugins`:
 * - POST /digitaltwins/{id}/calibrations → 201 the fit (parameters with intervals, RMSE, R², data used);
 * - GET /digitaltwins/{id}/calibrations → { value: [...] }, newest first;
 * - GET /digitaltwins/{id}/calibrations/{cid} → one calibration;
 * - POST /digitaltwins/{id}/calibrations/{cid}/apply → 200 the twin's effective parameters;
 * - GET /digitaltwins/{id}/behaviour → the twin's behaviour and effective parameters;
 * - DELETE /digitaltwins/{id}/behaviour/parameters → back to the model's parameters (200, effective).
 * Twinloop extensions beside the ADT routes: no api-version needed. Errors go through the server's
 * one error handler (TwinloopError codes).
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { errors, type Problem } from '../../../core/errors/errors.js';
import type {
  CalibrationView,
  EffectiveParameters,
  TwinCalibrationRequest,
} from '../../../sim/calibration/calibration-service.js';

/** What the routes need of the CalibrationService. */
export interface HttpCalibrationPort {
  calibrate(twinId: string, request: TwinCalibrationRequest): Promise<CalibrationView>;
  list(twinId: string, limit?: number): Promise<CalibrationView[]>;
  get(twinId: string, calibrationId: string): Promise<CalibrationView>;
  apply(twinId: string, calibrationId: string): Promise<EffectiveParameters>;
  parameters(twinId: string): EffectiveParameters;
  reset(twinId: string): Promise<EffectiveParameters>;
}

export interface CalibrationPluginOptions {
  calibration: HttpCalibrationPort;
}

const TAGS = ['Calibration (Twinloop)'];
const idParams = { type: 'object', properties: { id: { type: 'string' } } } as const;
const calParams = {
  type: 'object',
  properties: { id: { type: 'string' }, cid: { type: 'string' } },
} as const;

const timeSchema = {
  anyOf: [{ type: 'string' }, { type: 'integer' }],
  description: 'ISO 8601 or epoch ms',
} as const;

const bodySchema = {
  type: 'object',
  required: ['parameters', 'telemetry'],
  properties: {
    parameters: {
      type: 'array',
      minItems: 1,
      description: 'Parameters to fit: names, or { name, min?, max?, initial? }.',
      items: {
        anyOf: [
          { type: 'string' },
          {
            type: 'object',
            required: ['name'],
            properties: {
              name: { type: 'string' },
              min: { type: 'number' },
              max: { type: 'number' },
              initial: { type: 'number' },
            },
          },
        ],
      },
    },
    telemetry: {
      type: 'array',
      minItems: 1,
      items: { type: 'string' },
      description: 'Telemetry names the behaviour maps; several are fitted together.',
    },
    from: { ...timeSchema, description: 'Start of the window, ISO 8601 or epoch ms (default: to − 24 h).' },
    to: { ...timeSchema, description: 'End of the window, exclusive, ISO 8601 or epoch ms (default: now).' },
    method: { type: 'string', enum: ['lm', 'nelder-mead'] },
    inputs: {
      type: 'object',
      additionalProperties: { anyOf: [{ type: 'number' }, { type: 'boolean' }] },
      description: 'Inputs held constant during the fit, e.g. { "running": true }.',
    },
    maxPoints: { type: 'integer', description: 'Most points per telemetry (default 2000).' },
    initialState: { type: 'string', enum: ['estimated', 'model'] },
  },
} as const;

const fittedParameter = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    value: { type: 'number' },
    initial: { type: 'number' },
    min: { type: 'number' },
    max: { type: 'number' },
    stdError: { type: 'number' },
    low: { type: 'number' },
    high: { type: 'number' },
    unit: { type: 'string' },
  },
} as const;

const numberMap = { type: 'object', additionalProperties: { type: 'number' } } as const;

const calibrationSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    twinId: { type: 'string' },
    behaviour: { type: 'string' },
    createdAt: { type: 'number', description: 'ms since epoch' },
    applied: { type: 'boolean' },
    method: { type: 'string' },
    converged: { type: 'boolean' },
    reason: { type: 'string' },
    iterations: { type: 'integer' },
    evaluations: { type: 'integer' },
    durationMs: { type: 'number' },
    rmse: { type: 'number' },
    r2: { type: 'number', nullable: true },
    parameters: { type: 'array', items: fittedParameter },
    values: numberMap,
    base: numberMap,
    inputs: numberMap,
    initialState: { type: 'string' },
    initialStates: { type: 'array', items: fittedParameter },
    data: {
      type: 'object',
      properties: {
        from: { type: 'number' },
        to: { type: 'number' },
        points: { type: 'integer' },
        simFrom: { type: 'number' },
        simTo: { type: 'number' },
        truncated: { type: 'boolean' },
        telemetry: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              from: { type: 'number' },
              to: { type: 'number' },
              points: { type: 'integer' },
              read: { type: 'integer' },
              skipped: { type: 'integer' },
              std: { type: 'number' },
              rmse: { type: 'number' },
              r2: { type: 'number', nullable: true },
              bias: { type: 'number' },
            },
          },
        },
      },
    },
  },
} as const;

const effectiveSchema = {
  type: 'object',
  properties: {
    twinId: { type: 'string' },
    behaviour: { type: 'string' },
    interface: { type: 'string' },
    calibrationId: { type: 'string' },
    appliedAt: { type: 'string' },
    parameters: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        properties: {
          value: { type: 'number' },
          unit: { type: 'string' },
          default: { type: 'number' },
          source: { type: 'string', enum: ['model', 'calibration'] },
          calibrationId: { type: 'string' },
        },
      },
    },
  },
} as const;

/** ISO 8601 or epoch ms (a number or a string of digits) → ms; a problem otherwise. */
function parseTime(v: unknown, name: string, problems: Problem[]): number | undefined {
  if (v === undefined) return undefined;
  const ms =
    typeof v === 'number' ? v : typeof v === 'string' ? (/^-?\d+$/.test(v) ? Number(v) : Date.parse(v)) : NaN;
  if (Number.isSafeInteger(ms)) return ms;
  problems.push({
    code: 'calibration.time',
    message: `'${name}' must be an ISO 8601 date-time or epoch milliseconds, not ${JSON.stringify(v)}.`,
    pointer: `/${name}`,
    source: 'request body',
  });
  return undefined;
}

/**
 * @example
 *   const calibration = new CalibrationService({ ... });
 *   await calibration.load(); // the applied parameters, kept in memory
 *   await createHttpServer({ ..., plugins: [calibrationPlugin({ calibration })] });
 */
export function calibrationPlugin(options: CalibrationPluginOptions): FastifyPluginAsync {
  const cal = options.calibration;
  return async function calibrationRoutes(app: FastifyInstance): Promise<void> {
    app.post(
      '/digitaltwins/:id/calibrations',
      {
        schema: {
          tags: TAGS,
          summary: "Fits parameters of the twin's behaviour to its history and keeps the result.",
          description:
            'Levenberg–Marquardt (default, with standard errors and intervals) or Nelder–Mead. ' +
            'Several telemetry are fitted together, each weighted so that its unit does not dominate. ' +
            'Nothing changes on the twin until the calibration is applied.',
          params: idParams,
          body: bodySchema,
          response: { 201: calibrationSchema },
        },
      },
      async (req, reply) => {
        const { id } = req.params as { id: string };
        const body = req.body as Record<string, unknown>;
        const problems: Problem[] = [];
        const from = parseTime(body.from, 'from', problems);
        const to = parseTime(body.to, 'to', problems);
        if (problems.length)
          throw errors.validation('BadRequest', 'The calibration request is not valid.', problems);
        const request = { ...body } as unknown as TwinCalibrationRequest;
        delete request.from;
        delete request.to;
        if (from !== undefined) request.from = from;
        if (to !== undefined) request.to = to;
        const result = await cal.calibrate(id, request);
        return reply.code(201).send(result);
      },
    );

    app.get(
      '/digitaltwins/:id/calibrations',
      {
        schema: {
          tags: TAGS,
          summary: "The twin's calibrations, newest first.",
          params: idParams,
          querystring: {
            type: 'object',
            properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } },
          },
          response: {
            200: { type: 'object', properties: { value: { type: 'array', items: calibrationSchema } } },
          },
        },
      },
      async (req) => {
        const { id } = req.params as { id: string };
        const { limit } = req.query as { limit?: number };
        return { value: await cal.list(id, limit) };
      },
    );

    app.get(
      '/digitaltwins/:id/calibrations/:cid',
      {
        schema: {
          tags: TAGS,
          summary: 'One calibration of the twin.',
          params: calParams,
          response: { 200: calibrationSchema },
        },
      },
      async (req) => {
        const { id, cid } = req.params as { id: string; cid: string };
        return cal.get(id, cid);
      },
    );

    app.post(
      '/digitaltwins/:id/calibrations/:cid/apply',
      {
        schema: {
          tags: TAGS,
          summary:
            "Applies a calibration's values to the twin's behaviour; returns its effective parameters.",
          params: calParams,
          response: { 200: effectiveSchema },
        },
      },
      async (req) => {
        const { id, cid } = req.params as { id: string; cid: string };
        return cal.apply(id, cid);
      },
    );

    app.get(
      '/digitaltwins/:id/behaviour',
      {
        schema: {
          tags: TAGS,
          summary: "The twin's behaviour model and the parameters it runs with (model or calibration).",
          params: idParams,
          response: { 200: effectiveSchema },
        },
      },
      async (req) => {
        const { id } = req.params as { id: string };
        return cal.parameters(id);
      },
    );

    app.delete(
      '/digitaltwins/:id/behaviour/parameters',
      {
        schema: {
          tags: TAGS,
          summary: "Resets the twin's behaviour to the model's parameters; returns them.",
          params: idParams,
          response: { 200: effectiveSchema },
        },
      },
      async (req) => {
        const { id } = req.params as { id: string };
        return cal.reset(id);
      },
    );
  };
}
