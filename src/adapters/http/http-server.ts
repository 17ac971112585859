/**
 * The HTTP server: Azure Digital Twins' data-plane REST API (api-version 2022-05-31 and 2023-10-31)
 * plus Twinloop's extensions (bulk telemetry, history, dead letters, health, metrics, OpenAPI).
 * Security and limits are options: a bearer token for every route but /healthz, TLS from PEM
 * strings, a body size limit, a query length limit. A busy port becomes TwinloopError('PortInUse').
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { TwinloopError } from '../../core/errors/errors.js';
import { QUERY_LIMITS } from '../../core/query/query-executor.js';
import type { HttpServerOptions } from './http-context.js';
import { checkApiVersion } from './http-adt-common.js';
import { installErrorHandlers } from './http-errors.js';
import { registerControlRoutes } from './http-control-routes.js';
import { registerSimulatorRoutes } from './http-simulator-routes.js';
import { registerHistoryRoutes } from './http-history-routes.js';
import { installHttpMetrics } from './http-metrics.js';
import { registerModelRoutes } from './http-model-routes.js';
import { registerOpsRoutes } from './http-ops-routes.js';
import { registerQueryRoutes } from './http-query-routes.js';
import { registerTelemetryRoutes } from './http-telemetry-routes.js';
import { registerTwinRoutes } from './http-twin-routes.js';

export type { HttpServerOptions, HttpWorkspace, HttpIngestPort } from './http-context.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body exactly as received (every content type). */
    rawBody?: Buffer;
  }
  interface FastifyContextConfig {
    /** The route wants the raw bytes, unparsed (telemetry). */
    rawBody?: boolean;
  }
}

export interface HttpServer {
  app: FastifyInstance;
  /** Starts listening. @throws TwinloopError('PortInUse') when the port is taken */
  listen(): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
}

export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;

/**
 * @example
 * const http = await createHttpServer({ workspace: { name: 'default', models, twins, graph }, ingest, history, deadLetters,
 *   metrics: registry, port: 8080, token: process.env.TOKEN, plugins: [liveStreamPlugin] });
 * const { url } = await http.listen();
 */
export async function createHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    routerOptions: { maxParamLength: 4096 },
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
    ajv: { customOptions: { coerceTypes: true, allErrors: true } },
  }) as unknown as FastifyInstance;

  installErrorHandlers(app);
  installBodyParser(app);
  if (options.token !== undefined) installBearerAuth(app, options.token);
  if (options.metrics) installHttpMetrics(app, options.metrics);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Twinloop API',
        description:
          'Azure Digital Twins data-plane REST API (2022-05-31, 2023-10-31) plus Twinloop extensions. See docs/api.md.',
        version: '0.1.0',
      },
      ...(options.token !== undefined
        ? {
            components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
            security: [{ bearer: [] }],
          }
        : {}),
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const ws = options.workspace;
  await app.register(async (adt) => {
    adt.addHook('preValidation', async (req) => checkApiVersion(req));
    registerModelRoutes(adt, ws);
    registerTwinRoutes(adt, ws);
    registerQueryRoutes(adt, ws, {
      maxQueryLength: options.maxQueryLength ?? QUERY_LIMITS.maxQueryLength,
      ...(options.maxQueryHops !== undefined ? { maxHops: options.maxQueryHops } : {}),
      ...(options.queryTokenSecret ? { tokenSecret: options.queryTokenSecret } : {}),
      ...options.query,
    });
    registerTelemetryRoutes(adt, ws, options.ingest);
  });
  registerHistoryRoutes(app, ws, options.history);
  if (options.control) registerControlRoutes(app, options.control);
  if (options.simulator) registerSimulatorRoutes(app, options.simulator);
  registerOpsRoutes(app, ws, options, options.metrics);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  await app.ready();

  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  return {
    app,
    async listen() {
      try {
        await app.listen({ host, port });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new TwinloopError(
            'PortInUse',
            `The HTTP port ${port} on ${host} is already in use. Pick another with --http-port N or TWINLOOP_HTTP_PORT=N (0 lets the system choose a free one).`,
            { cause: e },
          );
        }
        throw e;
      }
      const address = app.server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      const urlHost =
        host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
      return { port: actual, url: `${options.tls ? 'https' : 'http'}://${urlHost}:${actual}` };
    },
    async close() {
      await app.close();
    },
  };
}

/** One parser for every content type: keeps the raw bytes, parses JSON unless the route wants raw bytes. */
function installBodyParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req: FastifyRequest, body: Buffer | string, done) => {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    req.rawBody = buf;
    if (req.routeOptions.config.rawBody) return done(null, buf);
    if (buf.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(buf.toString('utf8')) as unknown);
    } catch (e) {
      done(
        new TwinloopError('BadRequest', `The request body is not valid JSON: ${(e as Error).message}`),
        undefined,
      );
    }
  });
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Every route except /healthz needs `Authorization: Bearer <token>` (compared in constant time). */
function installBearerAuth(app: FastifyInstance, token: string): void {
  const expected = digest(token);
  app.addHook('onRequest', async (req) => {
    if (req.url === '/healthz' || req.url.startsWith('/healthz?')) return;
    // WebSocket upgrades authenticate in their own plugin (browsers cannot set headers: ?token= there).
    if (req.headers.upgrade?.toLowerCase() === 'websocket') return;
    const auth = req.headers.authorization;
    const m = typeof auth === 'string' ? /^Bearer\s+(.+)$/i.exec(auth) : null;
    if (!m || !timingSafeEqual(digest(m[1]!.trim()), expected)) {
      throw new TwinloopError(
        'Unauthorized',
        'This server needs "Authorization: Bearer <token>" (see --token / TWINLOOP_TOKEN).',
      );
    }
  });
}
