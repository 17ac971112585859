/**
 * What-if runs over HTTP (docs/what-if.md):
 * - POST /simulations → 201 the job (queued or running) with links; `?wait=MS` waits up to MS for
 *   it to finish and answers with the job as it is then (200 when finished, 201 otherwise);
 * - GET /simulations, GET /simulations/{id} → jobs with status and progress;
 * - DELETE /simulations/{id} → cancels a queued or running job (200 with the job);
 * - GET /simulations/{id}/trajectories → JSON (409 until it has succeeded);
 * - GET /simulations/{id}/trajectories.csv (or Accept: text/csv) → long CSV
 *   `twin,time,kind,name,value` (time in simulated seconds after the fork), streamed.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { WhatIfJob, WhatIfResult } from '../../../sim/whatif/what-if-types.js';

/** What the routes need of the WhatIfService. */
export interface SimulationsPort {
  create(request: unknown): WhatIfJob;
  get(id: string): WhatIfJob;
  list(): WhatIfJob[];
  cancel(id: string): WhatIfJob;
  wait(id: string, ms: number): Promise<WhatIfJob>;
  result(id: string): WhatIfResult;
}

const MAX_WAIT_MS = 120_000;

const jobSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'] },
    progress: { type: 'number' },
    simulatedSeconds: { type: 'number' },
    horizon: { type: 'number' },
    sampleInterval: { type: 'number' },
    method: { type: 'string' },
    twins: { type: 'array', items: { type: 'string' } },
    skipped: { type: 'array', items: { type: 'object', additionalProperties: true } },
    createdAt: { type: 'string' },
    startedAt: { type: 'string' },
    finishedAt: { type: 'string' },
    error: { type: 'object', additionalProperties: true },
    links: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

const withLinks = (job: WhatIfJob) => ({
  ...job,
  links: {
    self: `/simulations/${job.id}`,
    trajectories: `/simulations/${job.id}/trajectories`,
    csv: `/simulations/${job.id}/trajectories.csv`,
  },
});

const finished = (j: WhatIfJob): boolean =>
  j.status === 'succeeded' || j.status === 'failed' || j.status === 'cancelled';

/** One CSV line per value, in chunks of about 64 KiB; numbers in their shortest round-trip form. */
function* csvLines(result: WhatIfResult): Generator<string> {
  yield 'twin,time,kind,name,value\n';
  for (const tr of result.twins) {
    const twin = csvField(tr.twinId);
    const groups = [
      ['telemetry', tr.telemetry],
      ['state', tr.states],
      ['output', tr.outputs],
    ] as const;
    let chunk = '';
    for (let i = 0; i < tr.times.length; i++) {
      const t = tr.times[i] as number;
      for (const [kind, series] of groups)
        for (const [name, values] of Object.entries(series))
          chunk += `${twin},${t},${kind},${csvField(name)},${values[i]}\n`;
      if (chunk.length > 64 * 1024) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
  }
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function sendCsv(reply: FastifyReply, id: string, result: WhatIfResult): FastifyReply {
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="simulation-${id}.csv"`)
    .send(Readable.from(csvLines(result)));
}

export function simulationsPlugin(service: SimulationsPort): FastifyPluginAsync {
  return async (app) => {
    const tags = ['What-if simulations (Twinloop)'];
    const idParam = { type: 'object', properties: { id: { type: 'string' } } };

    app.post(
      '/simulations',
      {
        schema: {
          tags,
          summary:
            'Starts a what-if run: forks twins or a subgraph, runs a horizon with changes, keeps trajectories.',
          description: 'Body and semantics: docs/what-if.md. Live twins are never touched.',
          querystring: {
            type: 'object',
            properties: { wait: { type: 'integer', minimum: 0, description: 'ms to wait for the result' } },
          },
          body: { type: 'object', additionalProperties: true },
          response: { 200: jobSchema, 201: jobSchema },
        },
      },
      async (req, reply) => {
        const job = service.create(req.body);
        const wait = (req.query as { wait?: number }).wait;
        if (wait) {
          const after = await service.wait(job.id, Math.min(wait, MAX_WAIT_MS));
          return reply
            .code(finished(after) ? 200 : 201)
            .header('location', `/simulations/${job.id}`)
            .send(withLinks(after));
        }
        return reply.code(201).header('location', `/simulations/${job.id}`).send(withLinks(job));
      },
    );

    app.get(
      '/simulations',
      {
        schema: { tags, summary: 'Recent what-if runs, newest first (finished ones are kept for a while).' },
      },
      async () => ({ value: service.list().map(withLinks) }),
    );

    app.get(
      '/simulations/:id',
      {
        schema: {
          tags,
          summary: 'One what-if run: status, progress, errors.',
          params: idParam,
          response: { 200: jobSchema },
        },
      },
      async (req) => withLinks(service.get((req.params as { id: string }).id)),
    );

    app.delete(
      '/simulations/:id',
      {
        schema: {
          tags,
          summary: 'Cancels a queued or running what-if run.',
          params: idParam,
          response: { 200: jobSchema },
        },
      },
      async (req) => withLinks(service.cancel((req.params as { id: string }).id)),
    );

    app.get(
      '/simulations/:id/trajectories',
      {
        schema: {
          tags,
          summary:
            "A finished run's trajectories (JSON; CSV with Accept: text/csv). 409 until it has succeeded.",
          params: idParam,
        },
      },
      async (req, reply) => {
        const id = (req.params as { id: string }).id;
        const result = service.result(id);
        if (/\btext\/csv\b/.test(req.headers.accept ?? '')) return sendCsv(reply, id, result);
        return { id, ...result };
      },
    );

    app.get(
      '/simulations/:id/trajectories.csv',
      {
        schema: {
          tags,
          summary: "A finished run's trajectories as CSV: twin,time,kind,name,value.",
          params: idParam,
        },
      },
      async (req, reply) => {
        const id = (req.params as { id: string }).id;
        return sendCsv(reply, id, service.result(id));
      },
    );
  };
}
