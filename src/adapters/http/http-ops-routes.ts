/**
 * Operator routes (Twinloop's own): /healthz (liveness: the process answers; no token needed),
 * /ingest/stats (the ingest counters since start, with the server's time: a client gets rates from
 * two reads),
 * /readyz (readiness: 200 when writes work, else 503 with the reason; the token like any route when
 * one is required), /metrics (Prometheus text), /deadletters (newest first, paged by id and bounded
 * in bytes; the payload as text when it is UTF-8, else base64), POST /deadletters/{id}/reingest (the
 * stored payload through the ingest path again, at most once: dead-letter-reingest.ts).
 */
import type { FastifyInstance } from 'fastify';
import { TwinloopError, quote } from '../../core/errors/errors.js';
import type { DeadLetter } from '../../core/ports/storage-ports.js';
import { reingestDeadLetter } from '../../core/telemetry/dead-letter-reingest.js';
import { TopicScheme } from '../../core/telemetry/topic-scheme.js';
import type { HttpMetrics, HttpServerOptions, HttpWorkspace, ReadinessCheck } from './http-context.js';
import { nextLink } from './http-adt-common.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Default byte budget of one /deadletters page (payload bytes; the JSON is at most ~4/3 of it). A
 * page is built and serialised in one go on the event loop: measured 35-50 ms for 4 MiB on this
 * 2-core machine, so 1 MiB keeps each page to about 10 ms.
 */
export const DEFAULT_DEAD_LETTER_PAGE_BYTES = 1024 * 1024;

/** A dead letter as JSON: the payload as text when it decodes as UTF-8, else base64. */
export function deadLetterJson(d: DeadLetter): Record<string, unknown> {
  let payload: string;
  let payloadEncoding: 'utf8' | 'base64';
  try {
    payload = utf8.decode(d.payload);
    payloadEncoding = 'utf8';
  } catch {
    payload = d.payload.toString('base64');
    payloadEncoding = 'base64';
  }
  return {
    id: d.id,
    time: new Date(d.time).toISOString(),
    source: d.source,
    ...(d.topic !== undefined ? { topic: d.topic } : {}),
    ...(d.clientId !== undefined ? { clientId: d.clientId } : {}),
    ...((d as { twinId?: string }).twinId !== undefined ? { twinId: (d as { twinId?: string }).twinId } : {}),
    code: d.code,
    reason: d.reason,
    problems: d.problems ?? [],
    payloadBytes: d.payload.length,
    ...(d.receivedBytes !== undefined && d.receivedBytes > d.payload.length
      ? { payloadTruncated: true, receivedBytes: d.receivedBytes }
      : {}),
    payloadEncoding,
    payload,
  };
}

/** The answer of /readyz: ready only when every check is. */
export function readinessJson(checks: Record<string, ReadinessCheck>): {
  ready: boolean;
  body: Record<string, unknown>;
} {
  const entries = Object.entries(checks);
  const ready = entries.every(([, c]) => c.ready);
  return {
    ready,
    body: {
      status: ready ? 'ready' : 'unavailable',
      checks: Object.fromEntries(
        entries.map(([name, c]) => [
          name,
          {
            status: c.ready ? 'ok' : 'failing',
            ...(c.reason !== undefined ? { reason: c.reason } : {}),
            ...(c.since !== undefined ? { since: new Date(c.since).toISOString() } : {}),
          },
        ]),
      ),
    },
  };
}

export function registerOpsRoutes(
  app: FastifyInstance,
  ws: HttpWorkspace,
  options: Pick<
    HttpServerOptions,
    | 'deadLetters'
    | 'health'
    | 'readiness'
    | 'maxDeadLetterPageBytes'
    | 'ingestStats'
    | 'ingest'
    | 'telemetryTopics'
  >,
  metrics: HttpMetrics | undefined,
): void {
  const started = Date.now();
  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: { tags: ['Operations (Twinloop)'], summary: 'Liveness and a few counts; needs no token.' },
    },
    async () => ({
      status: 'ok',
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      workspace: ws.name,
      models: ws.models.count,
      twins: ws.graph.twinCount,
      relationships: ws.graph.relationshipCount,
      ...(options.health?.() ?? {}),
    }),
  );

  app.get(
    '/ingest/stats',
    {
      schema: {
        tags: ['Operations (Twinloop)'],
        summary:
          'Ingest counters since start (messages, readings, dead letters by code) and the server time: rates come from two reads.',
      },
    },
    async () => {
      if (!options.ingestStats) throw new TwinloopError('NotFound', 'Ingest statistics are not kept here.');
      const s = options.ingestStats();
      return {
        time: new Date().toISOString(),
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
        acceptedMessages: s.acceptedMessages,
        acceptedReadings: s.acceptedReadings,
        acceptedReadingSets: s.acceptedReadingSets,
        derivedReadings: s.derivedReadings,
        deadLetters: s.deadLetters,
        deadLettersByCode: s.deadLettersByCode,
        storageFailures: s.storageFailures,
      };
    },
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['Operations (Twinloop)'],
        summary: 'Readiness: 200 when writes work, else 503 with the failing check and its reason.',
      },
    },
    async (_req, reply) => {
      const { ready, body } = readinessJson(options.readiness?.() ?? {});
      return reply.status(ready ? 200 : 503).send(body);
    },
  );

  app.get(
    '/metrics',
    { schema: { tags: ['Operations (Twinloop)'], summary: 'Prometheus metrics.' } },
    async (_req, reply) => {
      if (!metrics) throw new TwinloopError('NotFound', 'Metrics are not enabled on this server.');
      return reply.type(metrics.contentType).send(await metrics.metrics());
    },
  );

  app.get(
    '/deadletters',
    {
      schema: {
        tags: ['Operations (Twinloop)'],
        summary: 'Rejected input, newest first.',
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
            before: { type: 'integer', minimum: 1, description: 'only ids lower than this (from nextLink)' },
            source: { type: 'string' },
            twinId: { type: 'string' },
          },
        },
      },
    },
    async (req) => {
      const q = req.query as { limit?: number; before?: number; source?: string; twinId?: string };
      const limit = q.limit ?? 100;
      const letters = await options.deadLetters.list({
        workspace: ws.name,
        limit,
        maxBytes: options.maxDeadLetterPageBytes ?? DEFAULT_DEAD_LETTER_PAGE_BYTES,
        ...(q.before !== undefined ? { beforeId: q.before } : {}),
        ...(q.source ? { source: q.source } : {}),
        ...(q.twinId ? { twinId: q.twinId } : {}),
      });
      const out: Record<string, unknown> = {
        total: await options.deadLetters.count(ws.name),
        value: letters.map(deadLetterJson),
      };
      // A page ends at `limit` letters or at the byte budget: either way there may be more.
      const last = letters[letters.length - 1];
      const more =
        letters.length === limit ||
        (last?.id !== undefined &&
          (
            await options.deadLetters.list({
              workspace: ws.name,
              limit: 1,
              beforeId: last.id,
              ...(q.source ? { source: q.source } : {}),
              ...(q.twinId ? { twinId: q.twinId } : {}),
            })
          ).length > 0);
      if (more && last?.id !== undefined)
        out.nextLink = nextLink(req, { before: String(last.id), limit: String(limit) });
      return out;
    },
  );

  const scheme = new TopicScheme(options.telemetryTopics);
  app.post(
    '/deadletters/:id/reingest',
    {
      schema: {
        tags: ['Operations (Twinloop)'],
        summary:
          'Runs a dead letter through the ingest path again (once its cause is fixed): accepted (the letter is gone) or rejected again (kept with the new problems).',
        description:
          'At most once: the letter is taken before it is ingested, so a second request answers 404. 409 when the letter cannot be re-ingested (its payload was truncated, or its source or topic names no twin).',
        params: { type: 'object', properties: { id: { type: 'string' } } },
      },
    },
    async (req) => {
      const raw = (req.params as { id: string }).id;
      if (!/^[1-9]\d{0,14}$/.test(raw))
        throw new TwinloopError(
          'BadRequest',
          `A dead letter id is a positive whole number, not '${quote(raw, 40)}'.`,
          {
            problems: [
              { code: 'request.params', message: 'not a dead letter id', pointer: '/id', source: 'params' },
            ],
          },
        );
      return reingestDeadLetter(
        { store: options.deadLetters, ingest: options.ingest, scheme },
        ws.name,
        Number(raw),
      );
    },
  );
}
