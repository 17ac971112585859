/**
 * The one place where errors become HTTP responses: TwinloopError codes map to statuses through
 * ERROR_STATUS, and Fastify's own errors (schema validation, unparsable or oversize bodies, unknown
 * routes) are turned into the same ADT body shape `{ error: { code, message, details? } }`.
 * No route writes an error status by hand.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  ERROR_STATUS,
  TwinloopError,
  isTwinloopError,
  quote,
  type ErrorCode,
  wireCode,
  type Problem,
} from '../../core/errors/errors.js';

/**
 * ADT's ErrorResponse body: `code` and `message` always; `innererror.code` when Twinloop has a finer
 * code under ADT's (e.g. `ValidationFailed` / `InvalidTelemetry`); `details` lists every problem
 * with where it is (Twinloop's own fields `pointer`, `source`, `line`, `column` beside ADT's Error
 * `code` and `message`).
 */
export interface AdtErrorBody {
  error: {
    code: string;
    message: string;
    innererror?: { code: string };
    /** On 5xx: the request id (also in `x-request-id`), as logged. */
    requestId?: string;
    details?: {
      code: string;
      message: string;
      pointer?: string;
      source?: string;
      line?: number;
      column?: number;
    }[];
  };
}

export function errorBody(e: TwinloopError): AdtErrorBody {
  const code = wireCode(e.code);
  const body: AdtErrorBody = { error: { code, message: e.message } };
  const inner = e.innerCode ?? (code === e.code ? undefined : e.code);
  if (inner !== undefined) body.error.innererror = { code: inner };
  if (e.problems.length) {
    body.error.details = e.problems.map((p) => {
      const d: NonNullable<AdtErrorBody['error']['details']>[number] = { code: p.code, message: p.message };
      if (p.pointer !== undefined) d.pointer = p.pointer;
      if (p.source !== undefined) d.source = p.source;
      if (p.line !== undefined) d.line = p.line;
      if (p.column !== undefined) d.column = p.column;
      return d;
    });
  }
  return body;
}

/** Turns anything thrown into a TwinloopError (Fastify's errors included). */
export function toTwinloopError(err: unknown): TwinloopError {
  if (isTwinloopError(err)) return err;
  const fe = err as Partial<FastifyError> & {
    validation?: { instancePath?: string; message?: string; params?: Record<string, unknown> }[];
  };
  if (fe && Array.isArray(fe.validation)) {
    const where = fe.validationContext ?? 'request';
    const problems: Problem[] = fe.validation.map((v) => {
      const missing = typeof v.params?.missingProperty === 'string' ? `/${v.params.missingProperty}` : '';
      return {
        code: `request.${where}`,
        message: `${where}${v.instancePath ?? ''}${missing ? missing : ''} ${v.message ?? 'is not valid'}`,
        pointer: `${v.instancePath ?? ''}${missing}`,
        source: where,
      };
    });
    return new TwinloopError('BadRequest', `The request ${where} is not valid.`, { problems, cause: err });
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new TwinloopError(
        'PayloadTooLarge',
        'The request body is larger than the server accepts (see the bodyLimit option / --http-body-limit).',
        { cause: err },
      );
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new TwinloopError('BadRequest', `The request body is not valid JSON: ${fe.message ?? ''}`, {
        cause: err,
      });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new TwinloopError(
        'UnsupportedMediaType',
        'The Content-Type header is not a media type; send application/json.',
        { cause: err },
      );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new TwinloopError('BadRequest', fe.message ?? 'The request body cannot be read.', {
        cause: err,
      });
  }
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code =
      (Object.keys(ERROR_STATUS) as ErrorCode[]).find((c) => ERROR_STATUS[c] === status) ?? 'BadRequest';
    return new TwinloopError(code, fe?.message ?? 'Bad request.', { cause: err });
  }
  return new TwinloopError('InternalError', 'An internal error occurred; it has been logged.', {
    cause: err,
  });
}

/** `details.retryAfterSeconds` of a 5xx: the failure is temporary (e.g. the database is unreachable). */
export function retryAfterSeconds(e: TwinloopError): number | undefined {
  const v = e.details?.retryAfterSeconds;
  return e.status >= 500 && typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

/**
 * The HTTP status of an error: ERROR_STATUS, except that a failure that says it is temporary (a
 * StorageError because PostgreSQL is unreachable) is 503 with Retry-After: the request may be repeated.
 */
export function statusOf(e: TwinloopError): number {
  return retryAfterSeconds(e) === undefined ? e.status : 503;
}

/** Sends a TwinloopError as ADT does (status, x-ms-error-code header, ErrorResponse body). */
export function sendError(reply: FastifyReply, e: TwinloopError): FastifyReply {
  if (e.code === 'Unauthorized') void reply.header('www-authenticate', 'Bearer');
  const body = errorBody(e);
  const status = statusOf(e);
  // A 5xx names its request id, so a user's report leads to the log line.
  if (status >= 500) body.error.requestId = reply.request.id;
  const retryAfter = retryAfterSeconds(e);
  if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
  return reply
    .status(status)
    .header('x-ms-error-code', wireCode(e.code))
    .header('x-request-id', reply.request.id)
    .type('application/json; charset=utf-8')
    .send(body);
}

/** Longest path segment the router reads (Fastify's maxParamLength); longer is InvalidArgument. */
export const MAX_PATH_PARAM_LENGTH = 4096;

/**
 * Fastify's own refusals before routing (`frameworkErrors`): a path parameter longer than the
 * router takes (a 5 KB twin id) or a URL that does not decode. Answered as ADT does, 400
 * `InvalidArgument` in ADT's body, never echoing the path.
 */
export function frameworkError(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const e =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new TwinloopError(
          'InvalidArgument',
          `An id in the path is longer than the ${MAX_PATH_PARAM_LENGTH} characters a path segment may have (twin and relationship ids are at most 1024).`,
        )
      : new TwinloopError(
          'InvalidArgument',
          'The URL is not valid: a path segment is not well-formed percent-encoded UTF-8.',
        );
  void sendError(reply, e);
}

/** Installs the error and not-found handlers on the root instance. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const e = toTwinloopError(err);
    // Every 5xx is logged here, the one place, with its request id (pino adds reqId too).
    if (e.status >= 500) {
      request.log.error(
        { err: e.cause ?? e, code: e.code, requestId: request.id, method: request.method, url: request.url },
        `HTTP ${statusOf(e)} ${e.code} (request ${request.id}): ${e.message}`,
      );
    }
    return sendError(reply, e);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new TwinloopError(
        'NotFound',
        `There is no route ${request.method} ${quote(request.url.split('?')[0] ?? '', 200)}.`,
      ),
    ),
  );
}
