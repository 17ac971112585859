/**
 * What-if runs over HTTP (docs/what-if.md), a Fastify plugin given to the server's `plugins`:
 * - POST /simulations → 201 the job (queued or running) with links; `?wait=MS` waits up to MS
 *   (at most 2 min) for it to finish and answers 200 with the finished job (201 if still running);
 * - GET /simulations, GET /simulations/{id} → jobs with status and progress;
 * - DELETE /simulations/{id} → 200, the job cancelled (a finished job is returned as it is);
 * - GET /simulations/{id}/trajectories → JSON per twin: times and series by name, with units
 *   (409 until the job has succeeded); with `Accept: text/csv`, the CSV;
 * - GET /simulations/{id}/trajectories.csv → long CSV `twin,time,kind,name,value`;
 * - GET /simulations/{id}/answer → the answer in words ("pump-3a crosses its vibrationLimit … in
 *   21 h") and every limit checked (what-if-answer.ts; 409 until the job has succeeded).
 * Both documents are streamed as the client reads them (simulations-download.ts).
 * The request body is checked by the service (every problem at once, with pointers); the schema
 * here documents it. Errors go through the server's one error handler (TwinloopError codes).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { TwinloopError } from '../../../core/errors/errors.js';
import type { KeptResult } from '../../../sim/whatif/what-if-kept.js';
import type { WhatIfJob } from '../../../sim/whatif/what-if-types.js';
import type { WhatIfAnswer } from '../../../sim/whatif/what-if-answer.js';
import { csvDownload, jsonDownload } from './simulations-download.js';

/** What the routes need of the WhatIfService. */
export interface SimulationsPort {
  create(request: unknown): WhatIfJob;
  get(id: string): WhatIfJob;
  list(): WhatIfJob[];
  cancel(id: string): WhatIfJob;
  wait(id: string, ms: number): Promise<WhatIfJob>;
  result(id: string): KeptResult;
  answer(id: string): WhatIfAnswer;
}

export interface SimulationsPluginOptions {
  /** Longest `?wait=` honoured, ms (default 120,000). */
  maxWaitMs?: number;
}

const TAGS = ['What-if simulations (Twinloop)'];
const idParams = { type: 'object', properties: { id: { type: 'string' } } } as const;
/** Series by name; a value that is not a finite number is null (fast-json-stringify would refuse NaN). */
const numbers = {
  type: 'object',
  additionalProperties: { type: 'array', items: { description: 'a number, or null when not finite' } },
} as const;
/** The request's maps of numbers by name. */
const numberMap = { type: 'object', additionalProperties: { type: 'number' } } as const;
const duration = {
  anyOf: [{ type: 'number' }, { type: 'string' }],
  description: "seconds, or a duration: '500ms', '90s', '15min', '24h', '7d', '2w'",
} as const;

const requestSchema = {
  type: 'object',
  description: 'Checked by the service: every problem is reported at once with its JSON pointer.',
  properties: {
    name: { type: 'string', description: 'A label for the run.' },
    twins: { type: 'array', items: { type: 'string' }, description: 'Twins to run (each with a behaviour).' },
    root: {
      type: 'string',
      description: 'A twin; the twins reachable from it over outgoing relationships run.',
    },
    follow: {
      type: 'array',
      items: { type: 'string' },
      description: "With 'root': only these relationships.",
    },
    depth: { type: 'integer', description: "With 'root': most hops (default: unlimited)." },
    horizon: { ...duration, description: `Simulated time to run: ${duration.description}.` },
    sampleInterval: {
      ...duration,
      description: 'Between samples (default: horizon / 500, at least the step).',
    },
    method: { type: 'string', enum: ['rk4', 'dopri5'] },
    step: { ...duration, description: 'RK4 step (default 1 s) or DOPRI5 largest step (default 60 s).' },
    changes: {
      type: 'object',
      description: "By twin id ('*': every twin of the run): values set at the fork.",
      additionalProperties: {
        type: 'object',
        properties: { parameters: numberMap, inputs: numberMap, states: numberMap },
      },
    },
    events: {
      type: 'array',
      items: {
        type: 'object',
        description:
          "Exactly one of 'command' (with 'payload'), 'fault' (with 'off'), 'input' (with 'value').",
        properties: {
          at: duration,
          twin: { type: 'string' },
          command: { type: 'string' },
          payload: {},
          fault: { type: 'string' },
          off: { type: 'boolean' },
          input: { type: 'string' },
          value: { type: 'number' },
        },
      },
    },
  },
  required: ['horizon'],
} as const;

const jobSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'] },
    progress: { type: 'number', description: '0..1 of the horizon simulated' },
    simulatedSeconds: { type: 'number' },
    horizon: { type: 'number', description: 'seconds' },
    sampleInterval: { type: 'number', description: 'seconds' },
    method: { type: 'string', enum: ['rk4', 'dopri5'] },
    step: { type: 'number', description: 'seconds' },
    twins: { type: 'array', items: { type: 'string' } },
    skipped: {
      type: 'array',
      items: { type: 'object', properties: { twinId: { type: 'string' }, reason: { type: 'string' } } },
    },
    createdAt: { type: 'string', format: 'date-time' },
    startedAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: 'string', format: 'date-time' },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
    links: {
      type: 'object',
      properties: { self: { type: 'string' }, trajectories: { type: 'string' }, csv: { type: 'string' } },
    },
  },
} as const;

const trajectorySchema = {
  type: 'object',
  properties: {
    twinId: { type: 'string' },
    behaviour: { type: 'string' },
    fork: { type: 'string', enum: ['simulator', 'shadow', 'model'] },
    forkTime: { type: 'number', description: "the twin's model time (s) at sample time 0" },
    times: { type: 'array', items: { type: 'number' }, description: 'seconds after the fork' },
    telemetry: numbers,
    properties: numbers,
    states: numbers,
    outputs: numbers,
    units: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

const resultSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    horizon: { type: 'number' },
    sampleInterval: { type: 'number' },
    twins: { type: 'array', items: trajectorySchema },
  },
} as const;

const withLinks = (job: WhatIfJob) => ({
  ...job,
  links: {
    self: `/simulations/${encodeURIComponent(job.id)}`,
    trajectories: `/simulations/${encodeURIComponent(job.id)}/trajectories`,
    csv: `/simulations/${encodeURIComponent(job.id)}/trajectories.csv`,
  },
});

const finished = (j: WhatIfJob): boolean =>
  j.status === 'succeeded' || j.status === 'failed' || j.status === 'cancelled';

function sendCsv(reply: FastifyReply, id: string, result: KeptResult): FastifyReply {
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="simulation-${id.replace(/[^\w.-]/g, '_')}.csv"`)
    .send(csvDownload(result));
}

/** True when the client prefers CSV to JSON. */
function wantsCsv(req: FastifyRequest): boolean {
  const accept = (req.headers.accept ?? '').toLowerCase();
  const csv = accept.indexOf('text/csv');
  const json = accept.indexOf('application/json');
  return csv >= 0 && (json < 0 || csv < json);
}

/**
 * @example
 *   const whatIf = new WhatIfService({ catalog, world, yieldNow });
 *   await createHttpServer({ ..., plugins: [simulationsPlugin(whatIf)] });
 */
export function simulationsPlugin(
  service: SimulationsPort,
  options: SimulationsPluginOptions = {},
): FastifyPluginAsync {
  const maxWaitMs = options.maxWaitMs ?? 120_000;
  return async function simulationRoutes(app: FastifyInstance): Promise<void> {
    app.post(
      '/simulations',
      {
        schema: {
          tags: TAGS,
          summary: 'Starts a what-if run: forks twins or a subgraph, runs a horizon with changes.',
          description:
            'Live twins are never touched. 201 with the job; with ?wait=MS, waits up to MS (at most ' +
            `${maxWaitMs} ms) and answers 200 with the finished job. See docs/what-if.md.`,
          querystring: {
            type: 'object',
            properties: { wait: { type: 'integer', minimum: 0, description: 'ms to wait for the end' } },
          },
          body: requestSchema,
          response: { 200: jobSchema, 201: jobSchema },
        },
        // The service checks the body (all problems at once) and the query is read below: the
        // schema above is documentation, not a second, different validator.
        validatorCompiler: () => () => true,
      },
      async (req, reply) => {
        const raw = (req.query as Record<string, unknown>).wait;
        let wait = 0;
        if (raw !== undefined) {
          wait = typeof raw === 'string' && /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
          if (!Number.isFinite(wait))
            throw new TwinloopError('BadRequest', "'wait' is a number of milliseconds.", {
              problems: [
                {
                  code: 'request.querystring',
                  message: `'wait' must be a whole number of milliseconds, not ${JSON.stringify(raw)}.`,
                  pointer: '/wait',
                  source: 'querystring',
                },
              ],
            });
        }
        const job = service.create(req.body);
        const location = `/simulations/${encodeURIComponent(job.id)}`;
        const after = wait > 0 ? await service.wait(job.id, Math.min(wait, maxWaitMs)) : job;
        return reply
          .code(finished(after) ? 200 : 201)
          .header('location', location)
          .send(withLinks(after));
      },
    );

    app.get(
      '/simulations',
      {
        schema: {
          tags: TAGS,
          summary: 'What-if runs kept, newest first (finished ones for a while only).',
          response: { 200: { type: 'object', properties: { value: { type: 'array', items: jobSchema } } } },
        },
      },
      async () => ({ value: service.list().map(withLinks) }),
    );

    app.get(
      '/simulations/:id',
      {
        schema: {
          tags: TAGS,
          summary: 'One what-if run: status, progress, error.',
          params: idParams,
          response: { 200: jobSchema },
        },
      },
      async (req) => withLinks(service.get((req.params as { id: string }).id)),
    );

    app.delete(
      '/simulations/:id',
      {
        schema: {
          tags: TAGS,
          summary: 'Cancels a queued or running what-if run (at once); a finished one is left as it is.',
          params: idParams,
          response: { 200: jobSchema },
        },
      },
      async (req) => withLinks(service.cancel((req.params as { id: string }).id)),
    );

    app.get(
      '/simulations/:id/trajectories',
      {
        schema: {
          tags: TAGS,
          summary:
            "A finished run's trajectories (JSON; CSV with Accept: text/csv). 409 until it has succeeded.",
          params: idParams,
          response: { 200: resultSchema },
        },
      },
      async (req, reply) => {
        const id = (req.params as { id: string }).id;
        const result = service.result(id);
        if (wantsCsv(req)) return sendCsv(reply, id, result);
        const job = service.get(id);
        const head = {
          id,
          ...(job.name !== undefined ? { name: job.name } : {}),
          horizon: job.horizon,
          sampleInterval: job.sampleInterval,
        };
        return reply.type('application/json; charset=utf-8').send(jsonDownload(head, result));
      },
    );

    app.get(
      '/simulations/:id/answer',
      {
        schema: {
          tags: TAGS,
          summary:
            'The answer of a finished run in words, and every limit (<telemetry>Limit/Max/Min) checked: crossed or not, when, peak. 409 until it has succeeded.',
          params: idParams,
        },
      },
      async (req) => service.answer((req.params as { id: string }).id),
    );

    app.get(
      '/simulations/:id/trajectories.csv',
      {
        schema: {
          tags: TAGS,
          summary: "A finished run's trajectories as CSV, one value a line: twin,time,kind,name,value.",
          description:
            'time: seconds after the fork; kind: telemetry, property, state or output. 409 until it has succeeded.',
          params: idParams,
          produces: ['text/csv'],
        },
      },
      async (req, reply) => {
        const id = (req.params as { id: string }).id;
        return sendCsv(reply, id, service.result(id));
      },
    );
  };
}
