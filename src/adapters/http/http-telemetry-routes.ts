/**
 * Telemetry in over HTTP: ADT's POST /digitaltwins/{id}/telemetry and
 * /digitaltwins/{id}/components/{c}/telemetry (204 only once the readings are durable; as ADT, any
 * JSON body is accepted, a JSON string holding JSON included: values the model does not take are
 * kept as a dead letter, not refused — IngestService.ingestAdt), and our
 * POST /telemetry/bulk (NDJSON, many twins in one request, per-line outcomes). The raw bytes go to
 * the ingest service untouched, so a bad payload is dead-lettered exactly as it was received.
 *
 * The wait for durability is bounded (TELEMETRY_WAIT_MS): when storage cannot commit in time (PostgreSQL
 * unreachable, docs/scaling.md), the request is answered 503 with Retry-After instead of hanging. The
 * readings stay queued and may still be stored when storage returns: a resend with
 * Telemetry-Source-Time and Message-Id is stored once.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_STATUS, TwinloopError, quote, type ErrorCode } from '../../core/errors/errors.js';
import type { IncomingMessage } from '../../core/telemetry/telemetry-types.js';
import type { HttpIngestPort, HttpWorkspace } from './http-context.js';
import { header } from './http-adt-common.js';
import { NDJSON_BODY_TYPES } from './http-body-parser.js';

const str = { type: 'string' } as const;

/** Longest wait for readings to become durable before answering 503, ms. */
export const TELEMETRY_WAIT_MS = 10_000;

/** `p`, or ServiceUnavailable (503, Retry-After) when it has not settled within `ms`. */
export async function boundedWait<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new TwinloopError(
            'ServiceUnavailable',
            `The readings are not durable after ${ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`}: storage is unreachable or overloaded. They may still be stored; resend later (with Telemetry-Source-Time and Message-Id a resend is stored once).`,
            { details: { retryAfterSeconds: 5 } },
          ),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Set on a 204 whose message had values kept as a dead letter instead of stored. */
export const TELEMETRY_WARNING_HEADER = 'Twinloop-Warning';

/** Telemetry-Source-Time (RFC 3339) → ms; absent → undefined. */
export function sourceTime(request: FastifyRequest): number | undefined {
  const raw = header(request, 'telemetry-source-time');
  if (raw === undefined || raw === '') return undefined;
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) {
    throw new TwinloopError(
      'InvalidArgument',
      `The Telemetry-Source-Time header '${quote(raw, 60)}' is not an RFC 3339 date-time (e.g. 2024-05-01T12:00:00Z).`,
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
  const time = sourceTime(req);
  const msg: IncomingMessage = {
    source,
    workspace: ws.name,
    topic: `${req.method} ${quote(req.url.split('?')[0] ?? '', 300)}`,
    receivedAt: time ?? Date.now(),
    payload: req.rawBody ?? Buffer.alloc(0),
    ...extra,
  };
  // A message with its own id and source time is stored at most once (a resend stores nothing).
  const messageId = header(req, 'message-id');
  if (time !== undefined && messageId !== undefined && messageId !== '') msg.once = true;
  return msg;
}

/** ADT's codes for a refused telemetry message: 404s by name, 400 ValidationFailed otherwise. */
function refusal(code: string, reason: string): TwinloopError {
  const text = `${reason} (kept in the dead letters: GET /deadletters)`;
  if (code === 'DigitalTwinNotFound' || code === 'ComponentNotFound' || code === 'PayloadTooLarge') {
    return new TwinloopError(code, text);
  }
  const inner: ErrorCode = code in ERROR_STATUS ? (code as ErrorCode) : 'InvalidTelemetry';
  return new TwinloopError('ValidationFailed', text, { innerCode: inner });
}

export function registerTelemetryRoutes(
  app: FastifyInstance,
  ws: HttpWorkspace,
  ingest: HttpIngestPort,
  waitMs = TELEMETRY_WAIT_MS,
): void {
  const single = async (
    req: FastifyRequest,
    reply: FastifyReply,
    twinId: string,
    component?: string,
  ): Promise<FastifyReply> => {
    const outcome = await boundedWait(
      ingest.ingestAdt(
        message(req, ws, 'http', component === undefined ? { twinId } : { twinId, component }),
      ),
      waitMs,
    );
    if (!outcome.ok) throw refusal(outcome.code, outcome.reason);
    // ADT answers 204 whatever the model says; Twinloop's own clients (the CLI) read this header.
    if (outcome.deadLettered) {
      void reply.header(
        TELEMETRY_WARNING_HEADER,
        `InvalidTelemetry: ${outcome.deadLettered} value(s) not stored, ${outcome.readings} stored; kept in the dead letters (GET /deadletters).`,
      );
    }
    return reply.status(204).send();
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
    async (req, reply) => single(req, reply, (req.params as { id: string }).id),
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
      return single(req, reply, id, component);
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
    async (req) => boundedWait(ingest.ingestBulk(message(req, ws, 'http-bulk', {})), waitMs),
  );
}
