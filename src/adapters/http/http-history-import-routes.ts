/**
 * History import jobs over HTTP (Twinloop's own, beside ADT's /jobs/imports; docs/history-import.md):
 * - PUT /jobs/history-imports/{id}/input: the CSV (or whitespace-separated) file as the body
 *   (text/csv, text/tab-separated-values or application/octet-stream), streamed into the imports
 *   folder under jobs.maxInputMiB; answers its inputBlobUri;
 * - PUT /jobs/history-imports/{id} { inputBlobUri, mapping, fileName? } → 201 with the job;
 * - GET /jobs/history-imports (paged), GET /jobs/history-imports/{id};
 * - POST /jobs/history-imports/{id}/cancel; DELETE /jobs/history-imports/{id} → 204;
 * - GET /jobs/history-imports/{id}/bad-rows: the refused rows with their reasons (text/plain).
 * Registered by jobRoutesPlugin, so it shares its api-version check and paging.
 */
import fs from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TwinloopError } from '../../core/errors/errors.js';
import type { JobService } from '../../core/jobs/job-service.js';
import { checkJobId, jobToJson } from '../../core/jobs/job-state.js';
import type { FileImportIo } from '../files/file-import-io.js';
import { mediaType } from './http-body-parser.js';

/** Media types a history file is uploaded as (no text/plain: a browser may send that cross-site). */
export const HISTORY_UPLOAD_TYPES = [
  'text/csv',
  'text/tab-separated-values',
  'application/octet-stream',
] as const;

const tags = ['Jobs (Twinloop)'];
const idParams = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;

export async function historyImportRoutes(
  app: FastifyInstance,
  o: {
    jobs: JobService;
    io: FileImportIo;
    listPage: (req: FastifyRequest, kind: 'history-import') => Promise<unknown>;
  },
): Promise<void> {
  const { jobs, io } = o;
  const id = (req: FastifyRequest) => (req.params as { id: string }).id;

  app.get(
    '/jobs/history-imports',
    {
      schema: {
        tags,
        summary: 'Lists history import jobs (paged).',
        querystring: { type: 'object', properties: { continuationToken: { type: 'string' } } },
      },
    },
    async (req) => o.listPage(req, 'history-import'),
  );

  app.put(
    '/jobs/history-imports/:id',
    {
      schema: {
        tags,
        summary: "Creates a history import job: a delimited file's rows into twins' history, by a mapping.",
        params: idParams,
        body: {
          type: 'object',
          properties: {
            inputBlobUri: { type: 'string' },
            mapping: { type: 'object' },
            fileName: { type: 'string' },
          },
          required: ['inputBlobUri', 'mapping'],
        },
      },
    },
    async (req, reply) => {
      const job = await jobs.createHistoryImport(id(req), req.body);
      return reply.status(201).send(jobToJson(job));
    },
  );

  app.get(
    '/jobs/history-imports/:id',
    { schema: { tags, summary: 'Gets a history import job.', params: idParams } },
    async (req) => jobToJson(await jobs.getHistoryImport(id(req))),
  );

  app.delete(
    '/jobs/history-imports/:id',
    {
      schema: {
        tags,
        summary: 'Deletes a finished history import job, its bad rows and its upload.',
        params: idParams,
      },
    },
    async (req, reply) => {
      await jobs.deleteHistoryImport(id(req));
      return reply.status(204).send();
    },
  );

  app.post(
    '/jobs/history-imports/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancels a history import job (it stops at its next chunk).',
        params: idParams,
      },
    },
    async (req) => jobToJson(await jobs.cancelHistoryImport(id(req))),
  );

  app.get(
    '/jobs/history-imports/:id/bad-rows',
    {
      schema: {
        tags,
        summary: "The job's refused rows, each after its reasons (# file:line:column Code: reason).",
        params: idParams,
      },
    },
    async (req, reply) => {
      const job = await jobs.getHistoryImport(id(req));
      let stream: fs.ReadStream;
      try {
        const handle = await fs.promises.open(io.badRowsPath(job.id), 'r');
        stream = handle.createReadStream();
      } catch {
        return reply.type('text/plain; charset=utf-8').send(''); // not started yet
      }
      return reply.type('text/plain; charset=utf-8').send(stream);
    },
  );

  // The upload takes the body as a stream (never buffered whole): its own parser.
  await app.register(async (upload) => {
    upload.removeAllContentTypeParsers();
    upload.addContentTypeParser('*', (req, payload, done) => {
      const { type } = mediaType(req.headers['content-type']);
      if (!(HISTORY_UPLOAD_TYPES as readonly string[]).includes(type)) {
        payload.resume();
        done(
          new TwinloopError(
            'UnsupportedMediaType',
            `A history file is sent as ${HISTORY_UPLOAD_TYPES.join(', ')}.`,
            { details: { accepted: HISTORY_UPLOAD_TYPES } },
          ),
          undefined,
        );
        return;
      }
      done(null, payload);
    });
    upload.put(
      '/jobs/history-imports/:id/input',
      {
        schema: {
          tags,
          summary: 'Uploads a history file (streamed); answers the inputBlobUri to create the job with.',
          params: idParams,
        },
      },
      async (req, reply) => {
        checkJobId('history-import', id(req));
        const body = req.body as AsyncIterable<Uint8Array> | undefined;
        if (
          !body ||
          typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== 'function'
        ) {
          throw new TwinloopError('BadRequest', 'Send the file as the request body (text/csv).');
        }
        const saved = await io.saveUpload(id(req), body, 'history-import');
        return reply.status(201).send({ inputBlobUri: saved.uri, bytes: saved.bytes });
      },
    );
  });
}
