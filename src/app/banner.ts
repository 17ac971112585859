/**
 * The "where to look" banner `twinloop start` prints once everything is up: the URLs actually bound
 * (a busy default port moves to the next free one), ready-to-paste commands that reach this very
 * server (`--data DIR` when the data folder is not the default, the MQTT port really bound), what is
 * simulated, and the token when one is needed.
 */
import path from 'node:path';
import type { HomeInfo } from '../adapters/http/http-home-routes.js';

export interface BannerInfo {
  httpUrl: string;
  liveUrl: string;
  mqttUrl: string;
  mqttMode: 'embedded' | 'external';
  dataDir: string;
  /** The working directory the CLI's default `./data` is relative to. */
  cwd: string;
  twins: number;
  pilot: string;
  /** A twin of the pilot to show in the MQTT example (else a placeholder). */
  exampleTwin?: string;
  /** A telemetry name of that twin's model for the example (else `value`). */
  exampleTelemetry?: string;
  simulator?: { assets: number; speed: number };
  shadow: boolean;
  token?: { value: string; created: boolean };
  /** The default HTTP and MQTT ports, to say when a busy one was skipped. */
  defaultPorts?: { http: number; mqtt: number };
}

/** The CLI's default data folder: `./data` in the working directory. */
export const DEFAULT_DATA_DIR = './data';

/** Quotes a shell word when it needs it (POSIX single quotes). */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** ` --data DIR` when the CLI would not find this data folder by default, else ''. */
export function dataFlag(dataDir: string, cwd: string): string {
  if (path.resolve(cwd, DEFAULT_DATA_DIR) === path.resolve(dataDir)) return '';
  const rel = path.relative(cwd, dataDir);
  const shown = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? `./${rel}` : dataDir;
  return ` --data ${shellQuote(shown)}`;
}

/** host and port of an mqtt:// or mqtts:// URL (undefined for other schemes). */
function mqttEndpoint(url: string): { host: string; port: number; tls: boolean } | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== 'mqtt:' && u.protocol !== 'mqtts:') return undefined;
    const tls = u.protocol === 'mqtts:';
    return {
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port ? Number(u.port) : tls ? 8883 : 1883,
      tls,
    };
  } catch {
    return undefined;
  }
}

/** A `mosquitto_pub` line that publishes one reading to this server's broker (token as password). */
export function mosquittoPubLine(
  info: Pick<BannerInfo, 'mqttUrl' | 'exampleTwin' | 'exampleTelemetry' | 'token'>,
): string | undefined {
  const ep = mqttEndpoint(info.mqttUrl);
  if (!ep) return undefined;
  const twin = info.exampleTwin ?? 'TWIN';
  const parts = ['mosquitto_pub', '-h', ep.host, '-p', String(ep.port)];
  if (ep.tls) parts.push('--capath', '/etc/ssl/certs');
  if (info.token) parts.push('-u', 'device', '-P', '"$(cat TOKEN_FILE)"');
  const name = JSON.stringify(info.exampleTelemetry ?? 'value');
  parts.push('-q', '1', '-t', `'twins/${twin}/telemetry'`, '-m', `'{${name}: 1}'`);
  return parts.join(' ');
}

/** The banner's lines (without the surrounding blank lines). */
export function bannerLines(info: BannerInfo): string[] {
  const cli = `npm run -s twinloop --`;
  const data = dataFlag(info.dataDir, info.cwd);
  const mqttPort = mqttEndpoint(info.mqttUrl)?.port;
  const lines = [
    'Twinloop is running',
    `  Home page                  ${info.httpUrl}/`,
    `  HTTP API (ADT-compatible)  ${info.httpUrl}   docs: ${info.httpUrl}/docs`,
    `  Live stream (WebSocket)    ${info.liveUrl}`,
    `  MQTT (${info.mqttMode === 'embedded' ? 'embedded broker' : 'external broker'})     ${info.mqttUrl}   topics: twins/{twinId}/telemetry`,
  ];
  if (
    info.mqttMode === 'embedded' &&
    info.defaultPorts &&
    info.defaultPorts.mqtt !== 0 &&
    mqttPort !== undefined &&
    mqttPort !== info.defaultPorts.mqtt
  )
    lines.push(
      `                             (port ${info.defaultPorts.mqtt} is taken, by another broker perhaps: use port ${mqttPort} for this one)`,
    );
  const pub = mosquittoPubLine({
    mqttUrl: info.mqttUrl,
    ...(info.exampleTwin ? { exampleTwin: info.exampleTwin } : {}),
    ...(info.exampleTelemetry ? { exampleTelemetry: info.exampleTelemetry } : {}),
    ...(info.token ? { token: info.token } : {}),
  });
  if (pub)
    lines.push(
      `    try: ${info.token ? pub.replace('TOKEN_FILE', shellQuote(path.join(info.dataDir, 'token'))) : pub}`,
    );
  lines.push(
    `  Data                       ${info.dataDir}`,
    `  Twins                      ${info.twins} of ${info.pilot}`,
    `    try: ${cli} query "SELECT * FROM DIGITALTWINS"${data}`,
  );
  if (data) lines.push(`    (this data folder is not ./data: give every twinloop command${data})`);
  if (info.simulator)
    lines.push(
      `  Simulation                 ${info.simulator.assets} assets of ${info.pilot}, speed ×${info.simulator.speed} (--no-sim to turn off)`,
      `                             a value you send to a simulated twin wins over the simulator for 10 min`,
    );
  if (info.shadow)
    lines.push(
      `  Shadow mode                residuals as <telemetry>Residual on each twin with a behaviour (--no-shadow to turn off)`,
    );
  if (info.token)
    lines.push(
      info.token.created
        ? `  Access token (shown once; kept in ${path.join(info.dataDir, 'token')}):\n    ${info.token.value}`
        : `  Access token: in ${path.join(info.dataDir, 'token')}`,
    );
  lines.push('  Stop with Ctrl+C (everything is flushed).');
  return lines;
}

export function formatBanner(info: BannerInfo): string {
  return ['', ...bannerLines(info), ''].join('\n') + '\n';
}

/**
 * A twin and telemetry for the banner's MQTT example: the first twin (by id) that has a behaviour,
 * and the first numeric telemetry the behaviour publishes.
 */
export function exampleReading(
  twins: Iterable<{ id: string; modelId: string }>,
  behaviours: {
    forModel(
      modelId: string,
    ): { model: { spec: { telemetry: readonly { name: string; encoding: string }[] } } } | undefined;
  },
): { exampleTwin?: string; exampleTelemetry?: string } {
  let best: { id: string; modelId: string } | undefined;
  for (const t of twins) if (behaviours.forModel(t.modelId) && (!best || t.id < best.id)) best = t;
  if (!best) return {};
  const telemetry = behaviours
    .forModel(best.modelId)
    ?.model.spec.telemetry.find((m) => m.encoding === 'double')?.name;
  return { exampleTwin: best.id, ...(telemetry ? { exampleTelemetry: telemetry } : {}) };
}

/** What the home page (GET /) says, read at each request. */
export function homeInfo(p: {
  pilot: string;
  graph: { readonly twinCount: number; allTwins(): Iterable<{ id: string; modelId: string }> };
  models: { readonly count: number };
  behaviours: Parameters<typeof exampleReading>[1];
  mqttUrl: string;
  simulator: { speed: number; stats(): { assets: number } } | undefined;
  shadow: unknown;
  token: string | undefined;
}): HomeInfo {
  return {
    pilot: p.pilot,
    twins: p.graph.twinCount,
    models: p.models.count,
    mqttUrl: p.mqttUrl,
    shadow: p.shadow !== undefined,
    auth: p.token !== undefined,
    ...(p.simulator ? { simulator: { assets: p.simulator.stats().assets, speed: p.simulator.speed } } : {}),
    ...exampleReading(p.graph.allTwins(), p.behaviours),
  };
}
