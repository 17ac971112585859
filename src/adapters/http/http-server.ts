/**
 * The HTTP server: Azure Digital Twins' data-plane REST API (the four GA api-versions: 2020-10-31, 2022-05-31, 2023-06-30, 2023-10-31)
 * plus Twinloop's extensions (bulk telemetry, history, dead letters, health, metrics, OpenAPI).
 * The edge every request passes (http-edge-guard.ts): Host checked against the bound names, the
 * bearer token on every route but GET /healthz, Origin checked on writes and WebSocket upgrades;
 * CORS only for configured origins; bodies only in the accepted media types, parsed as untrusted
 * JSON (http-body-parser.ts). TLS from PEM strings, a body size limit, a query length limit.
 * A busy port becomes TwinloopError('PortInUse').
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { TwinloopError } from '../../core/errors/errors.js';
import { QUERY_LIMITS } from '../../core/query/query-executor.js';
import type { HttpServerOptions } from './http-context.js';
import { checkApiVersion } from './http-adt-common.js';
import { installBodyParser } from './http-body-parser.js';
import { installEdgeGuard } from './http-edge-guard.js';
import { MAX_PATH_PARAM_LENGTH, frameworkError, installErrorHandlers } from './http-errors.js';
import { registerAlarmRoutes } from './http-alarm-routes.js';
import { registerControlRoutes } from './http-control-routes.js';
import { registerRulRoutes } from './http-rul-routes.js';
import { registerSimulatorRoutes } from './http-simulator-routes.js';
import { registerForecastRoutes } from './http-forecast-routes.js';
import { registerHistoryRoutes } from './http-history-routes.js';
import { installHttpMetrics } from './http-metrics.js';
import { registerModelRoutes } from './http-model-routes.js';
import { registerOpsRoutes } from './http-ops-routes.js';
import { registerQueryRoutes } from './http-query-routes.js';
import { registerTelemetryRoutes } from './http-telemetry-routes.js';
import { registerTwinRoutes } from './http-twin-routes.js';
import { registerWebAppRoutes } from './http-web-app.js';

export type { HttpServerOptions, HttpWorkspace, HttpIngestPort } from './http-context.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body exactly as received (every content type). */
    rawBody?: Buffer;
    /** True when the server needs no token or the request carried the valid one (edge guard). */
    authenticated?: boolean;
  }
  interface FastifyContextConfig {
    /** The route wants the raw bytes, unparsed (telemetry). */
    rawBody?: boolean;
    /** Media types this route takes besides JSON (http-body-parser.ts). */
    bodyTypes?: readonly string[];
    /** GET/HEAD of this route need no token (/healthz, the web app's shell and hashed assets). */
    public?: boolean;
    /** The WebSocket upgrade of this route may carry the token as `?token=` (only /live). */
    tokenInQuery?: boolean;
  }
}

export interface HttpServer {
  app: FastifyInstance;
  /** Every route registered (method and URL pattern), plugins' included. */
  routes: readonly { method: string; url: string }[];
  /** Starts listening. @throws TwinloopError('PortInUse') when the port is taken */
  listen(): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
}

export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;

/**
 * @example
 * const http = await createHttpServer({ workspace: { name: 'default', models, twins, graph }, ingest, history, deadLetters,
 *   metrics: prometheusHttpMetrics(registry), port: 8080, token: process.env.TOKEN, plugins: [liveStreamPlugin] });
 * const { url } = await http.listen();
 */
export async function createHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const app = Fastify({
    ...(options.loggerInstance
      ? { loggerInstance: options.loggerInstance }
      : { logger: options.logger ?? false }),
    // No line per request (the metrics count them); errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    frameworkErrors: frameworkError,
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
    ajv: { customOptions: { coerceTypes: true, allErrors: true } },
  }) as unknown as FastifyInstance;

  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url });
  });
  installErrorHandlers(app);
  installBodyParser(app, options.maxJsonDepth !== undefined ? { maxJsonDepth: options.maxJsonDepth } : {});
  const host = options.host ?? '127.0.0.1';
  installEdgeGuard(app, {
    ...(options.token !== undefined ? { token: options.token } : {}),
    host,
    allowedHosts: options.allowedHosts ?? [],
    corsOrigins: options.corsOrigins ?? [],
    tls: options.tls !== undefined,
    boundPort: () => {
      const a = app.server.listening ? app.server.address() : null;
      return typeof a === 'object' && a ? a.port : undefined;
    },
    hostname: hostname(),
  });
  if (options.corsOrigins?.length) {
    await app.register(cors, {
      origin: [...options.corsOrigins],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      exposedHeaders: [
        'etag',
        'location',
        'query-charge',
        'x-ms-error-code',
        'x-request-id',
        'twinloop-warning',
      ],
      maxAge: 600,
    });
  }
  if (options.metrics) installHttpMetrics(app, options.metrics);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Twinloop API',
        description:
          'Azure Digital Twins data-plane REST API (2020-10-31, 2022-05-31, 2023-06-30, 2023-10-31) plus Twinloop extensions. See docs/api.md.',
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
  registerForecastRoutes(app, ws, options.history);
  if (options.control) registerControlRoutes(app, options.control);
  if (options.rul) registerRulRoutes(app, options.rul);
  if (options.simulator) registerSimulatorRoutes(app, options.simulator);
  if (options.alarms) registerAlarmRoutes(app, ws.name, options.alarms);
  if (options.webApp) registerWebAppRoutes(app, options.webApp);
  registerOpsRoutes(app, ws, options, options.metrics);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  await app.ready();

  const port = options.port ?? 0;
  return {
    app,
    routes,
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
