/**
 * The checks every request passes before any route sees it (one onRequest hook, in this order):
 *
 * 1. **Host** must be one of the names the server is bound to (DNS rebinding: a hostile page whose
 *    name resolves to 127.0.0.1 sends its own name as Host) → 421 `HostNotAllowed`.
 * 2. **Token**: when the server has one, every route needs `Authorization: Bearer <token>`, decided by
 *    the route Fastify matched, never by the URL text or other headers. Only routes marked `public`
 *    (GET /healthz, the web app's shell and assets) skip it, and only routes marked `tokenInQuery`
 *    (the /live WebSocket upgrade) also take `?token=` or the `Sec-WebSocket-Protocol` entry
 *    `twinloop.bearer.<base64url token>` (browsers cannot set headers on a WebSocket; the web app
 *    uses the subprotocol, so its token never lands in a URL). → 401 `Unauthorized`. Whether a
 *    request carried the valid token is left on `req.authenticated` (a public route may answer
 *    less without it: the home page's JSON needs it).
 * 3. **Origin** on every state-changing request (POST, PUT, PATCH, DELETE) and on WebSocket
 *    upgrades: a browser's cross-origin request (an `Origin` that is not this server, or
 *    `Sec-Fetch-Site: cross-site`) is refused unless its origin is configured (--cors-origin).
 *    → 403 `OriginNotAllowed`. Clients that are not browsers (curl, SDKs, the CLI) send neither.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TwinloopError } from '../../core/errors/errors.js';

export interface EdgeGuardOptions {
  /** The bearer token; undefined: no token needed. */
  token?: string;
  /** The interface the server binds (its name is an allowed Host). */
  host: string;
  /** Extra allowed Host names (`name` or `name:port`), e.g. the name of a reverse proxy. */
  allowedHosts?: readonly string[];
  /** Origins allowed to make cross-origin requests (`https://app.example.com`). */
  corsOrigins?: readonly string[];
  /** True when serving HTTPS (same-origin compares the scheme). */
  tls: boolean;
  /** The port actually bound (undefined before listen): a Host naming another port is refused. */
  boundPort: () => number | undefined;
  /** This machine's name (accepted as Host when bound to every interface). */
  hostname?: string;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** `name[:port]` of a Host header, lower-cased; undefined when it is not a host. */
export function splitHost(host: string): { name: string; port: string | undefined } | undefined {
  const h = host.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]/\s@]+)(?::(\d{1,5}))?$/.exec(h);
  if (!m) return undefined;
  return { name: m[1]!.replace(/\.$/, ''), port: m[2] };
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

function isLoopbackBind(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
}

function bracketed(name: string): string {
  return name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
}

/** Builds the Host check: true when `hostHeader` names this server. */
export function hostMatcher(o: EdgeGuardOptions): (hostHeader: string | undefined) => boolean {
  const bound = bracketed(o.host.toLowerCase());
  const names = new Set<string>([bound]);
  if (isLoopbackBind(o.host) || isWildcard(o.host)) for (const n of LOOPBACK_NAMES) names.add(n);
  if (isWildcard(o.host) && o.hostname) names.add(o.hostname.toLowerCase());
  const extra = (o.allowedHosts ?? []).map((h) => splitHost(h)).filter((h) => h !== undefined);
  return (hostHeader) => {
    if (hostHeader === undefined) return true; // HTTP/1.0 without Host: not a browser
    const h = splitHost(hostHeader);
    if (!h) return false;
    if (extra.some((e) => e.name === h.name && (e.port === undefined || e.port === h.port))) return true;
    const ipLiteral = isIP(h.name.replace(/^\[|\]$/g, '')) !== 0;
    if (!names.has(h.name) && !(isWildcard(o.host) && ipLiteral)) return false;
    // On loopback the port must be ours too (another local port is another server). A wildcard
    // bind is typically reached through a port mapping (a container), so only the name counts.
    if (!isLoopbackBind(o.host)) return true;
    const port = o.boundPort();
    return h.port === undefined || port === undefined || Number(h.port) === port;
  };
}

/** What a request without the valid token is told (here and by public routes that answer more with it). */
export const UNAUTHORIZED_MESSAGE = `This server needs "Authorization: Bearer <token>". The token is in the data folder's "token" file (DATA/token), written at the first start.`;

/** The WebSocket subprotocol prefix that carries a token (base64url after it). */
export const BEARER_PROTOCOL_PREFIX = 'twinloop.bearer.';

/**
 * The token in a `Sec-WebSocket-Protocol` header: exactly one `twinloop.bearer.<base64url>` entry,
 * decoded; undefined when there is none, several, or the encoding is not canonical base64url.
 */
export function tokenFromProtocols(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const found = header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.startsWith(BEARER_PROTOCOL_PREFIX));
  if (found.length !== 1) return undefined;
  const b64 = found[0]!.slice(BEARER_PROTOCOL_PREFIX.length);
  if (!/^[A-Za-z0-9_-]{1,1400}$/.test(b64)) return undefined;
  const decoded = Buffer.from(b64, 'base64url');
  if (decoded.toString('base64url') !== b64) return undefined;
  return decoded.toString('utf8');
}

/**
 * The token presented: the Authorization header, or, where the route allows it (the /live upgrade),
 * `?token=` or a `twinloop.bearer.` WebSocket subprotocol.
 */
export function presentedToken(req: FastifyRequest, queryAllowed: boolean): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
    return m ? m[1] : undefined;
  }
  if (!queryAllowed) return undefined;
  const q = new URLSearchParams(req.url.slice(req.url.indexOf('?') + 1 || req.url.length)).getAll('token');
  const fromProtocol = tokenFromProtocols(req.headers['sec-websocket-protocol']);
  if (q.length > 0 && fromProtocol !== undefined) return undefined; // two tokens: take neither
  if (fromProtocol !== undefined) return fromProtocol;
  return q.length === 1 ? q[0] : undefined;
}

/** A header value quoted in a message, cut to a readable length. */
function clip(v: string): string {
  return v.length > 100 ? `${v.slice(0, 100)}…` : v;
}

function isWebSocketUpgrade(req: FastifyRequest): boolean {
  return req.method === 'GET' && req.headers.upgrade?.toLowerCase() === 'websocket';
}

/** Installs the Host, token and Origin checks on the root instance (before any route). */
export function installEdgeGuard(app: FastifyInstance, o: EdgeGuardOptions): void {
  const hostOk = hostMatcher(o);
  const expected = o.token === undefined ? undefined : digest(o.token);
  const allowedOrigins = new Set((o.corsOrigins ?? []).map((x) => x.toLowerCase().replace(/\/$/, '')));
  const scheme = o.tls ? 'https' : 'http';
  app.decorateRequest('authenticated', false);

  // An upgrade request that got an HTTP answer (refused, or a route that is not a WebSocket) owns a
  // raw socket Node no longer manages: close it, or every refused upgrade leaks a connection (and
  // server.close() waits for it forever). Accepted upgrades are hijacked and never get here.
  app.addHook('onResponse', async (req) => {
    if ((req.raw as { upgrade?: boolean }).upgrade === true) {
      const socket = req.raw.socket;
      socket.end(() => socket.destroy());
    }
  });

  app.addHook('onRequest', async (req) => {
    if (!hostOk(req.headers.host)) {
      throw new TwinloopError(
        'HostNotAllowed',
        `This server does not answer to the host '${clip(String(req.headers.host))}'. Use the address it printed at start, or allow the name with --allowed-host (TWINLOOP_ALLOWED_HOSTS).`,
      );
    }
    const origin = typeof req.headers.origin === 'string' ? req.headers.origin.toLowerCase() : undefined;
    const config = req.routeOptions.config;
    const preflight =
      req.method === 'OPTIONS' &&
      origin !== undefined &&
      allowedOrigins.has(origin) &&
      req.headers['access-control-request-method'] !== undefined;
    req.authenticated = expected === undefined;
    if (expected && !preflight) {
      const isPublic = config.public === true && (req.method === 'GET' || req.method === 'HEAD');
      const given = presentedToken(req, config.tokenInQuery === true && isWebSocketUpgrade(req));
      req.authenticated = given !== undefined && timingSafeEqual(digest(given), expected);
      if (!isPublic) {
        if (!req.authenticated) {
          throw new TwinloopError('Unauthorized', UNAUTHORIZED_MESSAGE);
        }
      }
    }
    if (STATE_CHANGING.has(req.method) || isWebSocketUpgrade(req)) {
      const sameOrigin =
        origin !== undefined && origin === `${scheme}://${String(req.headers.host).toLowerCase()}`;
      const crossSite = origin !== undefined ? !sameOrigin : req.headers['sec-fetch-site'] === 'cross-site';
      if (crossSite && !(origin !== undefined && allowedOrigins.has(origin))) {
        throw new TwinloopError(
          'OriginNotAllowed',
          origin !== undefined
            ? `Cross-origin requests from ${clip(origin)} are refused. Allow that origin with --cors-origin ${clip(origin)} (TWINLOOP_CORS_ORIGINS).`
            : "Cross-site requests are refused (Sec-Fetch-Site: cross-site). Allow the page's origin with --cors-origin.",
        );
      }
    }
  });
}
