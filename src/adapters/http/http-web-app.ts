/**
 * The web app (web/, built by Vite into dist/web) as the HTTP server serves it: the shell
 * (index.html) for `/` and the app's client routes under `/app/`, and the hashed assets under
 * `/assets/`. Everything is read once at start and kept in memory with its gzip form (a few hundred
 * KB): an asset is found by its exact name in a map, so no request path ever reaches the file system.
 * The shell and the assets need no token (they are the same for everyone and hold no data; the app
 * asks for the token and sends it as a header); `/` answers the running platform's facts only to a
 * request that carries the token when one is needed (http-home-routes.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { TwinloopError } from '../../core/errors/errors.js';

/** One asset kept in memory. */
export interface WebAsset {
  body: Buffer;
  /** The gzip form, when smaller by enough to matter. */
  gzip?: Buffer;
  type: string;
}

/** The built app: its shell and its assets by name (relative to assets/, '/' separators). */
export interface WebAppFiles {
  indexHtml: string;
  assets: ReadonlyMap<string, WebAsset>;
}

/** Where the shell's boot content goes (web/index.html): replaced by React when the app starts. */
export const BOOT_MARKER = '<!--twinloop:boot-->';

/**
 * The one inline style sheet the app needs: Cytoscape.js (the relationship graph) adds it to <head>
 * when it draws its first graph. It is allowed by its hash, nothing else inline.
 */
export const CYTOSCAPE_STYLE = '.__________cytoscape_container { position: relative; }';

/**
 * The Content-Security-Policy of the shell: scripts, styles, images and connections from this
 * origin only ('self' covers ws:/wss: to the same host in CSP Level 3 browsers); no inline script,
 * no inline style but Cytoscape's one sheet (by hash), no framing, no plugins, no <base>.
 */
export const WEB_APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  `style-src 'self' 'sha256-${createHash('sha256').update(CYTOSCAPE_STYLE).digest('base64')}'`,
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

function walk(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full, `${prefix}${name}/`));
    else out.push(`${prefix}${name}`);
  }
  return out;
}

/**
 * Reads a built app (`dir/index.html` and `dir/assets/**`); undefined when there is none (a
 * checkout that was not built: `/` then shows the plain home page).
 * @throws Error when index.html exists but lacks the boot marker (a broken build)
 */
export function loadWebApp(dir: string): WebAppFiles | undefined {
  const index = path.join(dir, 'index.html');
  if (!existsSync(index)) return undefined;
  const indexHtml = readFileSync(index, 'utf8');
  if (!indexHtml.includes(BOOT_MARKER))
    throw new Error(`${index} has no ${BOOT_MARKER} marker: rebuild the web app (npm run build).`);
  const assets = new Map<string, WebAsset>();
  const assetDir = path.join(dir, 'assets');
  if (existsSync(assetDir)) {
    for (const name of walk(assetDir)) {
      const body = readFileSync(path.join(assetDir, name));
      const type = TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
      const compressible = /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 1024;
      const gz = compressible ? gzipSync(body, { level: 9 }) : undefined;
      assets.set(name, { body, type, ...(gz && gz.length < body.length * 0.9 ? { gzip: gz } : {}) });
    }
  }
  return { indexHtml, assets };
}

/** True when an Accept-Encoding header takes gzip (`gzip` or `*`, with a q above 0). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    if (coding !== 'gzip' && coding !== '*') continue;
    const q = params.find((x) => x.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

/** Sends the shell with `boot` (escaped HTML made by the caller) in place of the marker. */
export function sendShell(reply: FastifyReply, app: WebAppFiles, boot: string): FastifyReply {
  return reply
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-cache')
    .header('content-security-policy', WEB_APP_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .send(app.indexHtml.replace(BOOT_MARKER, () => boot));
}

/** The boot content of client routes (the app replaces it at once; shown only without scripts). */
const NOSCRIPT_BOOT = '<p class="boot">Loading Twinloop… (this page needs JavaScript)</p>';

/**
 * Registers GET /assets/* (hashed, cached for a year) and GET /app, /app/* (the shell: the app's
 * client routes). `/` itself belongs to the home routes, which call sendShell.
 */
export function registerWebAppRoutes(app: FastifyInstance, files: WebAppFiles): void {
  const shellRoute = { schema: { hide: true }, config: { public: true } } as const;
  app.get('/app', shellRoute, async (_req, reply) => sendShell(reply, files, NOSCRIPT_BOOT));
  app.get('/app/*', shellRoute, async (_req, reply) => sendShell(reply, files, NOSCRIPT_BOOT));
  app.get('/assets/*', shellRoute, async (req, reply) => {
    const name = (req.params as { '*': string })['*'];
    const asset = files.assets.get(name);
    // The name is not echoed: an asset path is whatever a link said, not something to show back.
    if (!asset)
      throw new TwinloopError('NotFound', 'No such asset of the web app (rebuilt since? reload the page).');
    void reply
      .header('content-type', asset.type)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .header('vary', 'accept-encoding');
    if (asset.gzip && acceptsGzip(req.headers['accept-encoding']))
      return reply.header('content-encoding', 'gzip').send(asset.gzip);
    return reply.send(asset.body);
  });
}
