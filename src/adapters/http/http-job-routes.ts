/**
 * ADT's jobs over HTTP (2023-10-31), a Fastify plugin given to the server's `plugins`:
 * - import jobs: GET /jobs/imports (paged), PUT /jobs/imports/{id} → 201, GET /jobs/imports/{id},
 *   POST /jobs/imports/{id}/cancel → 200, DELETE /jobs/imports/{id} → 204;
 * - delete jobs: POST /jobs/deletions → 202 with Operation-Location (header `operation-id` names the
 *   job, query `timeoutInMinutes`), GET /jobs/deletions (paged), GET /jobs/deletions/{id};
 * - Twinloop extensions: PUT /jobs/imports/{id}/input (the import file as an NDJSON body, streamed
 *   into the imports folder; answers its file URI) and GET /jobs/imports/{id}/output (the log).
 * See docs/import-jobs.md. History import jobs (/jobs/history-imports, docs/history-import.md) are
 * registered here too (http-history-import-routes.ts).
 */
import fs from 'node:fs';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { TwinloopError } from '../../core/errors/errors.js';
import type { JobService } from '../../core/jobs/job-service.js';
import { checkJobId, jobToJson, type JobKind } from '../../core/jobs/job-state.js';
import type { FileImportIo } from '../files/file-import-io.js';
import { checkApiVersion, header, nextLink, pageSize } from './http-adt-common.js';
import { mediaType, NDJSON_BODY_TYPES } from './http-body-parser.js';
import { historyImportRoutes } from './http-history-import-routes.js';

export interface JobRoutesOptions {
  jobs: JobService;
  io: FileImportIo;
}

const tags = ['Jobs'];
const idParams = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;
const pagedQuery = {
  type: 'object',
  properties: { continuationToken: { type: 'string' } },
} as const;

interface Position {
  c: number;
  i: string;
  n: number;
}

function readPosition(req: FastifyRequest): Position | undefined {
  const raw = (req.query as Record<string, unknown> | undefined)?.continuationToken;
  if (raw === undefined) return undefined;
  try {
    const p = JSON.parse(Buffer.from(String(raw), 'base64url').toString('utf8')) as Position;
    if (Number.isSafeInteger(p.c) && typeof p.i === 'string' && Number.isSafeInteger(p.n) && p.n >= 1)
      return p;
  } catch {
    // reported below
  }
  throw new TwinloopError(
    'InvalidContinuationToken',
    'The continuationToken of this list is not valid; start again from the first page.',
  );
}

async function listPage(req: FastifyRequest, jobs: JobService, kind: JobKind) {
  const pos = readPosition(req);
  const n = pos?.n ?? pageSize(req);
  const page = await jobs.list(kind, n, pos ? { createdAt: pos.c, id: pos.i } : undefined);
  const value = page.jobs.map(jobToJson);
  if (!page.next) return { value };
  const token = Buffer.from(JSON.stringify({ c: page.next.createdAt, i: page.next.id, n })).toString(
    'base64url',
  );
  return { value, nextLink: nextLink(req, { continuationToken: token }) };
}

export function jobRoutesPlugin(options: JobRoutesOptions): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const { jobs, io } = options;
    app.addHook('preValidation', async (req) => checkApiVersion(req));

    app.get(
      '/jobs/imports',
      { schema: { tags, summary: 'Lists import jobs (paged).', querystring: pagedQuery } },
      async (req) => listPage(req, jobs, 'import'),
    );

    app.put(
      '/jobs/imports/:id',
      {
        schema: {
          tags,
          summary: 'Creates an import job (inputBlobUri: file: in the imports folder, or http(s):).',
          params: idParams,
          body: {
            type: 'object',
            properties: { inputBlobUri: { type: 'string' }, outputBlobUri: { type: 'string' } },
          },
        },
      },
      async (req, reply) => {
        const { id } = req.params as { id: string };
        const job = await jobs.createImport(id, req.body);
        return reply.status(201).send(jobToJson(job));
      },
    );

    app.get(
      '/jobs/imports/:id',
      { schema: { tags, summary: 'Gets an import job.', params: idParams } },
      async (req) => jobToJson(await jobs.getImport((req.params as { id: string }).id)),
    );

    app.delete(
      '/jobs/imports/:id',
      {
        schema: { tags, summary: 'Deletes a finished import job (its id can be reused).', params: idParams },
      },
      async (req, reply) => {
        await jobs.deleteImport((req.params as { id: string }).id);
        return reply.status(204).send();
      },
    );

    app.post(
      '/jobs/imports/:id/cancel',
      { schema: { tags, summary: 'Cancels an import job (it stops at its next batch).', params: idParams } },
      async (req) => jobToJson(await jobs.cancelImport((req.params as { id: string }).id)),
    );

    app.get(
      '/jobs/imports/:id/output',
      {
        schema: {
          tags: ['Jobs (Twinloop)'],
          summary: "The import job's output log (NDJSON).",
          params: idParams,
        },
      },
      async (req, reply) => {
        const job = await jobs.getImport((req.params as { id: string }).id);
        const file = io.logPath(job.id, job.outputBlobUri);
        let stream: fs.ReadStream;
        try {
          const handle = await fs.promises.open(file, 'r');
          stream = handle.createReadStream();
        } catch {
          // Not written yet (the job has not started) or removed by hand.
          return reply.type('application/x-ndjson').send('');
        }
        return reply.type('application/x-ndjson').send(stream);
      },
    );

    // The upload takes the body as a stream (never buffered whole): its own parser, NDJSON only.
    await app.register(async (upload) => {
      upload.removeAllContentTypeParsers();
      upload.addContentTypeParser('*', (req, payload, done) => {
        const { type, charset } = mediaType(req.headers['content-type']);
        if (
          !(NDJSON_BODY_TYPES as readonly string[]).includes(type) ||
          (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
        ) {
          payload.resume();
          done(
            new TwinloopError(
              'UnsupportedMediaType',
              `An import file is sent as ${NDJSON_BODY_TYPES.join(' or ')} (UTF-8).`,
              {
                details: { accepted: NDJSON_BODY_TYPES },
              },
            ),
            undefined,
          );
          return;
        }
        done(null, payload);
      });
      upload.put(
        '/jobs/imports/:id/input',
        {
          schema: {
            tags: ['Jobs (Twinloop)'],
            summary:
              'Uploads an import file (NDJSON body, streamed); answers the inputBlobUri to create the job with.',
            params: idParams,
          },
        },
        async (req, reply) => {
          const { id } = req.params as { id: string };
          checkJobId('import', id);
          const body = req.body as AsyncIterable<Uint8Array> | undefined;
          if (
            !body ||
            typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== 'function'
          ) {
            throw new TwinloopError(
              'BadRequest',
              'Send the import file as the request body (application/x-ndjson).',
            );
          }
          const saved = await io.saveUpload(id, body);
          return reply.status(201).send({ inputBlobUri: saved.uri, bytes: saved.bytes });
        },
      );
    });

    app.post(
      '/jobs/deletions',
      {
        schema: {
          tags,
          summary: 'Starts a job that deletes every model, twin and relationship.',
          querystring: { type: 'object', properties: { timeoutInMinutes: { type: 'integer' } } },
        },
      },
      async (req, reply) => {
        const q = req.query as { timeoutInMinutes?: number };
        const job = await jobs.createDelete(header(req, 'operation-id') || undefined, q.timeoutInMinutes);
        const location = new URL(
          `/jobs/deletions/${encodeURIComponent(job.id)}`,
          `${req.protocol}://${req.host}`,
        );
        const apiVersion = (req.query as Record<string, unknown>)['api-version'];
        if (typeof apiVersion === 'string') location.searchParams.set('api-version', apiVersion);
        return reply
          .status(202)
          .header('operation-location', location.toString())
          .header('operation-id', job.id)
          .send(jobToJson(job));
      },
    );

    app.get(
      '/jobs/deletions',
      { schema: { tags, summary: 'Lists delete jobs (paged).', querystring: pagedQuery } },
      async (req) => listPage(req, jobs, 'delete'),
    );

    app.get(
      '/jobs/deletions/:id',
      { schema: { tags, summary: 'Gets a delete job.', params: idParams } },
      async (req) => jobToJson(await jobs.getDelete((req.params as { id: string }).id)),
    );

    await historyImportRoutes(app, { jobs, io, listPage: (req, kind) => listPage(req, jobs, kind) });
  };
}
