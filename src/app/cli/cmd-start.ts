/**
 * `twinloop start`: runs the platform (HTTP API, live stream, MQTT, storage, simulator) until
 * SIGINT/SIGTERM, then stops it, flushing everything.
 */
import { Option, type Command } from 'commander';
import type { CliKit } from './cli-kit.js';

export function registerStart(program: Command, { run }: CliKit): void {
  program
    .command('start')
    .description(
      'Run the platform: HTTP API + WebSocket live stream + MQTT ingestion, with embedded storage.',
    )
    .option('--config <file>', 'JSON config file (env TWINLOOP_CONFIG)')
    .option('--data <dir>', 'data folder (env TWINLOOP_DATA)', undefined)
    .option('--host <host>', 'address to bind (env TWINLOOP_HOST); anything but loopback requires a token')
    .option('--http-port <n>', 'HTTP/WebSocket port (env TWINLOOP_HTTP_PORT)')
    .option('--mqtt-port <n>', 'embedded MQTT broker port (env TWINLOOP_MQTT_PORT)')
    .option(
      '--mqtt-url <url>',
      'use an external MQTT broker instead of the embedded one (env TWINLOOP_MQTT_URL)',
    )
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS, WSS and MQTTS (env TWINLOOP_TLS_CERT)')
    .option('--tls-key <file>', 'PEM private key (env TWINLOOP_TLS_KEY)')
    .addOption(
      new Option('--auth <mode>', 'token auth: auto (off on loopback only), on, off').choices([
        'auto',
        'on',
        'off',
      ]),
    )
    .option(
      '--cors-origin <url>',
      'allow cross-origin browser access from this origin, e.g. https://app.example.com (repeatable or a comma list; env TWINLOOP_CORS_ORIGINS; default none)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--allowed-host <name>',
      'also answer to this Host name (name or name:port; repeatable or a comma list; env TWINLOOP_ALLOWED_HOSTS)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--pilot <name>', 'pilot loaded on first start: a folder under pilots/, a path, or "none"')
    .option('--no-pilot', 'load no pilot on first start')
    .option('--sim', "simulate the pilot's devices live over MQTT (default; env TWINLOOP_SIM=on|off)")
    .option('--no-sim', 'do not simulate devices')
    .option(
      '--sim-speed <x>',
      "simulated seconds per wall second (default: the pilot scenario's, else 1; env TWINLOOP_SIM_SPEED)",
    )
    .option(
      '--shadow',
      'shadow mode: residuals of each twin against its behaviour model (default; env TWINLOOP_SHADOW=on|off)',
    )
    .option('--no-shadow', 'no shadow mode')
    .option('--retention-days <n>', 'days of history kept (0 = forever)')
    .option(
      '--role <role>',
      'all (one process), api (HTTP, WebSocket, MQTT; telemetry to the bus) or worker (ingest from the bus); env TWINLOOP_ROLE',
    )
    .option(
      '--bus <url>',
      'NATS JetStream of a cluster: nats://host:4222 (env TWINLOOP_BUS; roles api and worker)',
    )
    .option(
      '--store <url>',
      'keep state and history in PostgreSQL: postgres://user:password@host:5432/db[?schema=name] (env TWINLOOP_STORE; default: SQLite in the data folder)',
    )
    .option(
      '--query-max-visits <n>',
      'twins and relationships one query may visit (env TWINLOOP_QUERY_MAX_VISITS)',
    )
    .option('--query-timeout-ms <n>', 'wall time one query may take, ms (env TWINLOOP_QUERY_TIMEOUT_MS)')
    .option('--query-max-hops <n>', 'hop cap of [*] conditions, default none (env TWINLOOP_QUERY_MAX_HOPS)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .action(
      run(async (opts: Record<string, string | boolean | undefined>) => {
        const { loadConfig } = await import('../config.js');
        const { startPlatform } = await import('../platform.js');
        const cli = { ...opts } as Record<string, string | undefined>;
        if (opts.pilot === false) cli.pilot = 'none';
        if (opts.pilot === true) delete cli.pilot;
        if (typeof opts.sim === 'boolean') cli.sim = opts.sim ? 'on' : 'off';
        if (typeof opts.shadow === 'boolean') cli.shadow = opts.shadow ? 'on' : 'off';
        const config = loadConfig(cli);
        const platform =
          config.role === 'worker'
            ? await (await import('../worker-node.js')).startWorkerNode(config)
            : await startPlatform(config);
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          platform.logger.info({ signal }, 'shutting down: flushing everything');
          platform
            .stop()
            .then(() => process.exit(0))
            .catch((e: unknown) => {
              platform.logger.error({ err: e }, 'shutdown failed');
              process.exit(1);
            });
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      }),
    );
}
