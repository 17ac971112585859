/**
 * GET / — the first URL the banner shows: until the web app exists, a short HTML page saying what
 * runs (pilot, twins, simulator, shadow mode, MQTT and live-stream URLs) with links to the API docs,
 * the OpenAPI document, the live stream and the README's sections; a client that asks for JSON
 * (`Accept: application/json`) gets the same facts as JSON. Everything shown is escaped; the page
 * loads nothing from anywhere (no scripts, no external styles or images).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';

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

/** The page: plain HTML and an inline style sheet, every value escaped. */
export function homeHtml(info: HomeView): string {
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
  const port = mqttPort(info.mqttUrl);
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
table { border-collapse: collapse; } td { padding: .25rem .8rem .25rem 0; vertical-align: top; }
td:first-child { font-weight: 600; white-space: nowrap; }
code, pre { font: 13px/1.45 ui-monospace, monospace; background: #f1f3f6; border-radius: 4px; }
code { padding: .05rem .3rem; } pre { padding: .7rem .9rem; overflow-x: auto; }
a { color: #1456b8; }
</style>
</head>
<body>
<h1>Twinloop is running</h1>
<p class="sub">The web app is coming; until then, this page says what runs and where to go.</p>
<table>
${rows.map(([k, v]) => `<tr><td>${e(k)}</td><td>${v}</td></tr>`).join('\n')}
</table>
<h2>Where to go</h2>
<ul>
${links.map(([href, text]) => `<li><a href="${e(href)}">${e(text)}</a></li>`).join('\n')}
<li>Live stream: connect a WebSocket client to <code>${e(info.liveUrl)}</code></li>
</ul>
<h2>Try it</h2>
<pre>alias twinloop='npm run -s twinloop --'
twinloop query "SELECT * FROM DIGITALTWINS"
twinloop history ${e(twin)}
mosquitto_pub -p ${e(port)} -q 1 -t 'twins/${e(twin)}/telemetry' -m '{${e(JSON.stringify(info.exampleTelemetry ?? 'value'))}: 1}'</pre>
<h2>Read next</h2>
<p>In <code>README.md</code> of your clone: ${README_SECTIONS.map((s) => `“${e(s)}”`).join(', ')}.
Then <code>docs/api.md</code>, <code>docs/query.md</code>, <code>docs/mqtt.md</code>, <code>docs/live.md</code>, <code>docs/event-routes.md</code>, <code>docs/import-jobs.md</code>, <code>docs/simulation.md</code>, <code>docs/what-if.md</code>; coming from Azure Digital Twins, <code>docs/migrating-from-adt.md</code>.</p>
</body>
</html>
`;
}

/**
 * @example
 *   await createHttpServer({ ..., plugins: [homePlugin({ info: () => ({ ... }) })] });
 */
export function homePlugin(options: HomePluginOptions): FastifyPluginAsync {
  return async function homeRoutes(app: FastifyInstance): Promise<void> {
    app.get('/', { schema: { hide: true } }, async (req, reply) => {
      const host = req.headers.host ?? `${req.hostname}`;
      const info: HomeView = {
        ...options.info(),
        liveUrl: `${req.protocol === 'https' ? 'wss' : 'ws'}://${host}/live`,
      };
      if (wantsJson(req))
        return reply.header('content-type', 'application/json; charset=utf-8').send(homeJson(info));
      return reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'")
        .header('x-content-type-options', 'nosniff')
        .send(homeHtml(info));
    });
  };
}
