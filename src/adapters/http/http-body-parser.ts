/**
 * Request bodies: which media types a route takes, and the one untrusted-JSON parser for them.
 *
 * - Every route takes `application/json` (any `charset` but UTF-8 is refused) and ADT's
 *   `application/json-patch+json`; a route lists other types in `config.bodyTypes`
 *   (POST /telemetry/bulk: `application/x-ndjson`, `application/ndjson`).
 * - Anything else — `text/plain`, forms, multipart, or a body without a Content-Type — is
 *   415 `UnsupportedMediaType`. Browsers may send those three "simple" types cross-site without a
 *   preflight, so this closes the classic CSRF hole.
 * - JSON goes through src/core/json (hostile keys, depth, non-finite numbers, UTF-8, position of
 *   syntax errors) → 400 `BadRequest` with the problem and its pointer.
 * Routes with `config.rawBody` get the bytes untouched (telemetry: bad bytes are dead-lettered as
 * received); every route can read them as `request.rawBody`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TwinloopError } from '../../core/errors/errors.js';
import { parseUntrustedJson } from '../../core/json/untrusted-json.js';

/** Media types every route with a body takes. */
export const JSON_BODY_TYPES = ['application/json', 'application/json-patch+json'] as const;
/** The NDJSON types of POST /telemetry/bulk. */
export const NDJSON_BODY_TYPES = ['application/x-ndjson', 'application/ndjson'] as const;

/** Media type (lower case, no parameters) and charset of a Content-Type header. */
export function mediaType(contentType: string | undefined): { type: string; charset: string | undefined } {
  if (!contentType) return { type: '', charset: undefined };
  const [type, ...params] = contentType.split(';');
  let charset: string | undefined;
  for (const p of params) {
    const m = /^\s*charset\s*=\s*"?([^";\s]+)"?\s*$/i.exec(p);
    if (m) charset = m[1]!.toLowerCase();
  }
  return { type: type!.trim().toLowerCase(), charset };
}

/** Installs the body parser on the root instance. */
export function installBodyParser(app: FastifyInstance, options: { maxJsonDepth?: number } = {}): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req: FastifyRequest, body: Buffer | string, done) => {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    const config = req.routeOptions.config;
    const accepted: readonly string[] = [...JSON_BODY_TYPES, ...(config.bodyTypes ?? [])];
    const { type, charset } = mediaType(req.headers['content-type']);
    if (!accepted.includes(type) || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')) {
      const what =
        type === ''
          ? 'A request body needs a Content-Type'
          : `The content type '${req.headers['content-type']}' is not accepted here`;
      return done(
        new TwinloopError('UnsupportedMediaType', `${what}; send ${accepted.join(' or ')} (UTF-8).`, {
          details: { accepted },
        }),
        undefined,
      );
    }
    req.rawBody = buf;
    if (config.rawBody) return done(null, buf);
    if (buf.length === 0) return done(null, undefined);
    const r = parseUntrustedJson(buf, {
      what: 'The request body',
      source: 'request body',
      ...(options.maxJsonDepth !== undefined ? { maxDepth: options.maxJsonDepth } : {}),
    });
    if (r.ok) return done(null, r.value);
    const p = r.problem;
    const reason = p.code === 'json.syntax' ? `The request body is not valid JSON. ${p.message}` : p.message;
    done(new TwinloopError('BadRequest', reason, { problems: [p] }), undefined);
  });
}
