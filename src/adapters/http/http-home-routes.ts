/**
 * GET / — the first URL the banner shows. A browser gets the web app (http-web-app.ts) whose shell
 * already holds what runs (pilot, twins, simulator, shadow mode, MQTT and live-stream URLs, commands
 * to paste) as plain HTML, shown until the app starts and to clients without scripts; without a
 * build of the app (a checkout run from src/), the same facts as a plain page with links to the API
 * docs, the OpenAPI document, the live stream and the README's sections. A client that asks for
 * JSON (`Accept: application/json`) gets the same facts as JSON. When the server needs a token, the
 * shell is public (it holds no data, and the app asks for the token) but the facts, as HTML or JSON,
 * are given only to a request that carries the token. Everything shown is escaped; the plain page
 * loads nothing from anywhere (no scripts, no external styles or images).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { TwinloopError } from '../../core/errors/errors.js';
import { UNAUTHORIZED_MESSAGE } from './http-edge-guard.js';
import { sendShell, type WebAppFiles } from './http-web-app.js';

/** What the home page says about the running platform (read at each request). */
export interface HomeInfo {
  pilot: string;
  twins: number;
  models: number;
  mqttUrl: string;
  simulator?: { assets: number; speed: number };
  shadow: boolean;
  /** True when the API needs a token. */
  auth: boolean;
  /** A twin and one of its telemetry names to use in the examples. */
  exampleTwin?: string;
  exampleTelemetry?: string;
}

export interface HomePluginOptions {
  info: () => HomeInfo;
  /** The built web app, served at / (else the plain page). */
  webApp?: WebAppFiles;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** The README's sections a newcomer wants first (README.md of the clone). */
export const README_SECTIONS = [
  'The two commands',
  'A five-minute walk-through',
  'Configuration',
  'Architecture',
] as const;

/** True when the client prefers JSON to HTML (an explicit Accept: application/json). */
function wantsJson(req: FastifyRequest): boolean {
  const accept = (req.headers.accept ?? '').toLowerCase();
  const json = accept.indexOf('application/json');
  const html = accept.indexOf('text/html');
  return json >= 0 && (html < 0 || json < html);
}

function mqttPort(url: string): string {
  try {
    const u = new URL(url);
    return u.port || (u.protocol === 'mqtts:' ? '8883' : '1883');
  } catch {
    return '';
  }
}

/** The page's facts plus the live-stream URL (from the address the client used). */
export type HomeView = HomeInfo & { liveUrl: string };

export function homeJson(info: HomeView) {
  return {
    name: 'Twinloop',
    ...info,
    commands: tryCommands(info, info.exampleTwin ?? 'TWIN', mqttPort(info.mqttUrl)),
    links: {
      docs: '/docs',
      openapi: '/openapi.json',
      health: '/healthz',
      metrics: '/metrics',
      models: '/models?api-version=2023-10-31',
      query: 'POST /query?api-version=2023-10-31',
      simulator: '/simulator',
      simulations: '/simulations',
      live: info.liveUrl,
    },
  };
}

/** What runs and what to try, as an HTML fragment (every value escaped): the plain page and the app's boot content. */
export function homeFactsHtml(info: HomeView): string {
  const e = escapeHtml;
  const twin = info.exampleTwin ?? 'TWIN';
  const rows: [string, string][] = [
    ['Pilot', `${e(info.pilot)}: ${e(info.models)} models, ${e(info.twins)} twins`],
    [
      'Simulation',
      info.simulator
        ? `${e(info.simulator.assets)} simulated devices at speed ×${e(info.simulator.speed)}; a value you send to a simulated twin wins over the simulator for 10 minutes`
        : 'off',
    ],
    [
      'Shadow mode',
      info.shadow ? 'on: residuals as &lt;telemetry&gt;Residual on each twin with a behaviour' : 'off',
    ],
    ['MQTT', `<code>${e(info.mqttUrl)}</code> — topics <code>twins/{twinId}/telemetry</code>`],
    ['Live stream', `<code>${e(info.liveUrl)}</code> (WebSocket, see docs/live.md)`],
    [
      'Access',
      info.auth ? 'a token is required (Authorization: Bearer …; DATA/token)' : 'no token needed (loopback)',
    ],
  ];
  const port = mqttPort(info.mqttUrl);
  return `<table>
${rows.map(([k, v]) => `<tr><th scope="row">${e(k)}</th><td>${v}</td></tr>`).join('\n')}
</table>
<h2>Try it</h2>
<pre>${e(tryCommands(info, twin, port).join('\n'))}</pre>`;
}

/** The commands the home page offers to paste (the MQTT port actually bound). */
export function tryCommands(info: HomeInfo, twin: string, port: string): string[] {
  return [
    "alias twinloop='npm run -s twinloop --'",
    'twinloop query "SELECT * FROM DIGITALTWINS"',
    `twinloop history ${twin}`,
    `mosquitto_pub -p ${port} -q 1 -t 'twins/${twin}/telemetry' -m '{${JSON.stringify(info.exampleTelemetry ?? 'value')}: 1}'`,
  ];
}

/** The page: plain HTML and an inline style sheet, every value escaped. */
export function homeHtml(info: HomeView): string {
  const e = escapeHtml;
  const links: [string, string][] = [
    ['/docs', 'API documentation (OpenAPI, try it out)'],
    ['/openapi.json', 'OpenAPI document'],
    ['/models?api-version=2023-10-31', 'Models (JSON)'],
    ['/simulator', 'Device simulator status (JSON)'],
    ['/simulations', 'What-if runs (JSON)'],
    ['/eventroutes?api-version=2023-10-31', 'Event routes (JSON; endpoints at /endpoints)'],
    ['/jobs/imports?api-version=2023-10-31', 'Import jobs (JSON)'],
    ['/healthz', 'Health'],
    ['/metrics', 'Metrics (Prometheus)'],
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Twinloop</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 58rem; margin: 2rem auto; padding: 0 1rem; color: #1d2430; }
h1 { font-size: 1.6rem; margin-bottom: 0; } h2 { font-size: 1.1rem; margin-top: 1.8rem; }
.sub { color: #5a6474; margin-top: .2rem; }
table { border-collapse: collapse; } td, th { padding: .25rem .8rem .25rem 0; vertical-align: top; text-align: left; }
th { font-weight: 600; white-space: nowrap; }
code, pre { font: 13px/1.45 ui-monospace, monospace; background: #f1f3f6; border-radius: 4px; }
code { padding: .05rem .3rem; } pre { padding: .7rem .9rem; overflow-x: auto; }
a { color: #1456b8; }
</style>
</head>
<body>
<h1>Twinloop is running</h1>
<p class="sub">The web app is not built in this checkout (<code>npm run build</code> builds it); this page says what runs and where to go.</p>
${homeFactsHtml(info)}
<h2>Where to go</h2>
<ul>
${links.map(([href, text]) => `<li><a href="${e(href)}">${e(text)}</a></li>`).join('\n')}
<li>Live stream: connect a WebSocket client to <code>${e(info.liveUrl)}</code></li>
</ul>
<h2>Read next</h2>
<p>In <code>README.md</code> of your clone: ${README_SECTIONS.map((s) => `“${e(s)}”`).join(', ')}.
Then <code>docs/api.md</code>, <code>docs/query.md</code>, <code>docs/mqtt.md</code>, <code>docs/live.md</code>, <code>docs/event-routes.md</code>, <code>docs/import-jobs.md</code>, <code>docs/simulation.md</code>, <code>docs/what-if.md</code>; coming from Azure Digital Twins, <code>docs/migrating-from-adt.md</code>.</p>
</body>
</html>
`;
}

/** The web app's boot content: the facts (when the request may see them), replaced when the app starts. */
export function bootHtml(info: HomeView | undefined): string {
  if (!info)
    return '<section class="boot"><h1>Twinloop</h1><p>This server needs a token: the app asks for it (it is in DATA/token).</p></section>';
  return `<section class="boot"><h1>Twinloop is running</h1>\n${homeFactsHtml(info)}</section>`;
}

/**
 * @example
 *   await createHttpServer({ ..., plugins: [homePlugin({ info: () => ({ ... }) })] });
 */
export function homePlugin(options: HomePluginOptions): FastifyPluginAsync {
  return async function homeRoutes(app: FastifyInstance): Promise<void> {
    // Public for the shell (the edge guard still sets req.authenticated): the facts need the token.
    app.get('/', { schema: { hide: true }, config: { public: true } }, async (req, reply) => {
      // undefined: no edge guard (a bare test server); the platform's guard always sets it.
      const allowed = req.authenticated !== false;
      const view = (): HomeView => ({
        ...options.info(),
        liveUrl: `${req.protocol === 'https' ? 'wss' : 'ws'}://${req.headers.host ?? req.hostname}/live`,
      });
      if (wantsJson(req)) {
        if (!allowed) throw new TwinloopError('Unauthorized', UNAUTHORIZED_MESSAGE);
        return reply.header('content-type', 'application/json; charset=utf-8').send(homeJson(view()));
      }
      if (options.webApp) return sendShell(reply, options.webApp, bootHtml(allowed ? view() : undefined));
      if (!allowed) throw new TwinloopError('Unauthorized', UNAUTHORIZED_MESSAGE);
      const info = view();
      return reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'")
        .header('x-content-type-options', 'nosniff')
        .send(homeHtml(info));
    });
  };
}
