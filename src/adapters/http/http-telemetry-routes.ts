/**
 * Telemetry in over HTTP: ADT's POST /digitaltwins/{id}/telemetry and
 * /digitaltwins/{id}/components/{c}/telemetry (204 only once the readings are durable), and our
 * POST /telemetry/bulk (NDJSON, many twins in one request, per-line outcomes). The raw bytes go to
 * the ingest service untouched, so a bad payload is dead-lettered exactly as it was received.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ERROR_STATUS, TwinloopError, type ErrorCode } from '../../core/errors/errors.js';
import type { IncomingMessage } from '../../core/telemetry/telemetry-types.js';
import type { HttpIngestPort, HttpWorkspace } from './http-context.js';
import { header } from './http-adt-common.js';
import { NDJSON_BODY_TYPES } from './http-body-parser.js';

const str = { type: 'string' } as const;

/** Telemetry-Source-Time (RFC 3339) → ms; absent → undefined. */
export function sourceTime(request: FastifyRequest): number | undefined {
  const raw = header(request, 'telemetry-source-time');
  if (raw === undefined || raw === '') return undefined;
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) {
    throw new TwinloopError(
      'BadRequest',
      `The Telemetry-Source-Time header '${raw}' is not an RFC 3339 date-time (e.g. 2024-05-01T12:00:00Z).`,
    );
  }
  return ms;
}

function message(
  req: FastifyRequest,
  ws: HttpWorkspace,
  source: string,
  extra: Partial<IncomingMessage>,
): IncomingMessage {
  const msg: IncomingMessage = {
    source,
    workspace: ws.name,
    topic: `${req.method} ${req.url.split('?')[0]}`,
    receivedAt: sourceTime(req) ?? Date.now(),
    payload: req.rawBody ?? Buffer.alloc(0),
    ...extra,
  };
  return msg;
}

export function registerTelemetryRoutes(
  app: FastifyInstance,
  ws: HttpWorkspace,
  ingest: HttpIngestPort,
): void {
  const single = async (req: FastifyRequest, twinId: string, component?: string): Promise<void> => {
    const outcome = await ingest.ingest(
      message(req, ws, 'http', component === undefined ? { twinId } : { twinId, component }),
    );
    if (!outcome.ok) {
      const code: ErrorCode = outcome.code in ERROR_STATUS ? (outcome.code as ErrorCode) : 'InvalidTelemetry';
      throw new TwinloopError(code, `${outcome.reason} (kept in the dead letters: GET /deadletters)`);
    }
  };

  app.post(
    '/digitaltwins/:id/telemetry',
    {
      config: { rawBody: true },
      schema: {
        tags: ['Telemetry'],
        summary: 'Publishes telemetry of a twin; 204 once durable.',
        params: { type: 'object', properties: { id: str } },
      },
    },
    async (req, reply) => {
      await single(req, (req.params as { id: string }).id);
      return reply.status(204).send();
    },
  );

  app.post(
    '/digitaltwins/:id/components/:component/telemetry',
    {
      config: { rawBody: true },
      schema: {
        tags: ['Telemetry'],
        summary: "Publishes telemetry of a twin's component; 204 once durable.",
        params: { type: 'object', properties: { id: str, component: str } },
      },
    },
    async (req, reply) => {
      const { id, component } = req.params as { id: string; component: string };
      await single(req, id, component);
      return reply.status(204).send();
    },
  );

  app.post(
    '/telemetry/bulk',
    {
      config: { rawBody: true, bodyTypes: NDJSON_BODY_TYPES },
      schema: {
        tags: ['Telemetry (Twinloop)'],
        summary:
          'NDJSON: one reading set per line ({"$dtId": "...", "temperature": 21}); returns counts and per-line outcomes.',
      },
    },
    async (req) => ingest.ingestBulk(message(req, ws, 'http-bulk', {})),
  );
}
