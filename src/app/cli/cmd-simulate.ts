/**
 * `twinloop simulate`: plays a pilot's device behaviours against a running Twinloop over MQTT, in
 * its own process (models and twins from the pilot folder's files).
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { CliKit } from './cli-kit.js';

export function registerSimulate(program: Command, { run }: CliKit): void {
  program
    .command('simulate')
    .description(
      "play a pilot's device behaviours (behaviours/*.yaml) against a running Twinloop over MQTT; " +
        "the models and twins come from the pilot folder's own files",
    )
    .option('--pilot <name>', 'a folder under pilots/ or a path', 'pump-line')
    .option('--speed <x>', "simulated seconds per wall second (default: the pilot scenario's, else 1)")
    .option('--assets <n>', "how many assets the pilot scenario's fleet generates (default: its count)")
    .option('--seed <n>', "seed of the parameter spread and sensor noise (default: the scenario's, else 1)")
    .option(
      '--sample-interval <s>',
      'simulated seconds between readings of one device (default: the scenario’s, else 10)',
    )
    .option('--mqtt-url <url>', "broker URL (default: the running server's, from the data folder)")
    .option('--url <url>', "Twinloop HTTP URL, to create missing fleet twins (default: the running server's)")
    .option(
      '--token <token>',
      "MQTT password / API token (env TWINLOOP_TOKEN; default: the data folder's token file)",
    )
    .option('--data <dir>', 'data folder of the local server (to find its broker and token)')
    .option(
      '--device-connections <n>',
      'most twins given an MQTT connection of their own (client id = twin id, last will, presence); the rest share one (default 1000)',
    )
    .action(
      run(
        async (o: {
          pilot: string;
          speed?: string;
          assets?: string;
          seed?: string;
          sampleInterval?: string;
          mqttUrl?: string;
          url?: string;
          token?: string;
          data?: string;
          deviceConnections?: string;
        }) => {
          const { readRuntimeInfo, readToken } = await import('../runtime-files.js');
          const { startMqttSimulator } = await import('../../adapters/mqtt/mqtt-simulator-publisher.js');
          const { pilotWorkspace } = await import('../pilot-workspace.js');
          const { TwinloopError } = await import('../../core/errors/errors.js');
          const dataDir = path.resolve(o.data ?? process.env.TWINLOOP_DATA ?? './data');
          const mqttUrl = o.mqttUrl ?? readRuntimeInfo(dataDir)?.mqttUrl;
          if (!mqttUrl)
            throw new TwinloopError(
              'ServiceUnavailable',
              `No running Twinloop found in ${dataDir} (no runtime.json): start one, or give --mqtt-url / --data.`,
            );
          const numberOf = (v: string | undefined, what: string): number | undefined => {
            if (v === undefined) return undefined;
            const n = Number(v);
            if (!Number.isFinite(n) || n <= 0)
              throw new TwinloopError('BadRequest', `${what} must be a number > 0, got '${v}'.`);
            return n;
          };
          const log = (level: string) => (msg: string) =>
            process.stderr.write(`${new Date().toISOString()} ${level} ${msg}\n`);
          const assets = numberOf(o.assets, '--assets');
          const token = o.token ?? process.env.TWINLOOP_TOKEN ?? readToken(dataDir);
          const workspace = await pilotWorkspace(
            o.pilot,
            assets === undefined ? {} : { assets: Math.round(assets) },
          );
          if (assets !== undefined) {
            // A sized fleet has twins the server may not have yet: create the missing ones first.
            const { ApiClient } = await import('./api-client.js');
            const { ensurePilotTwins } = await import('./ensure-twins.js');
            const created = await ensurePilotTwins(
              new ApiClient({ url: o.url, token, data: o.data }),
              workspace.files,
            );
            if (created.twins || created.relationships)
              process.stdout.write(
                `created ${created.twins} twin(s) and ${created.relationships} relationship(s) for the fleet\n`,
              );
          }
          const speed = numberOf(o.speed, '--speed');
          const seed = numberOf(o.seed, '--seed');
          const sampleInterval = numberOf(o.sampleInterval, '--sample-interval');
          let deviceConnections: number | undefined;
          if (o.deviceConnections !== undefined) {
            deviceConnections = Number(o.deviceConnections);
            if (!Number.isSafeInteger(deviceConnections) || deviceConnections < 0)
              throw new TwinloopError(
                'BadRequest',
                `--device-connections must be a whole number ≥ 0, got '${o.deviceConnections}'.`,
              );
          }
          const sim = await startMqttSimulator({
            pilot: o.pilot,
            catalog: workspace.catalog,
            twins: workspace.twins,
            world: workspace.world,
            ...(workspace.scenario ? { scenario: workspace.scenario } : {}),
            mqttUrl,
            password: token,
            speed: speed ?? workspace.scenario?.simulation.speed ?? 1,
            ...(seed === undefined ? {} : { seed: Math.trunc(seed) }),
            ...(sampleInterval === undefined ? {} : { sampleInterval }),
            ...(deviceConnections === undefined ? {} : { deviceConnections }),
            logger: { info: log('info'), warn: log('warn'), error: log('error') },
          });
          const fleets = sim.fleets.map((f) => `${f.assets} × ${f.behaviour}`).join(', ');
          process.stdout.write(
            `Simulating ${fleets} of ${o.pilot} at speed ×${sim.speed} → ${mqttUrl}. Stop with Ctrl+C.\n`,
          );
          const stop = () => {
            void sim.stop().then(() => {
              const s = sim.stats();
              process.stdout.write(
                `stopped after ${s.simulatedSeconds} simulated s: ${s.published} published, ${s.failed} failed, ${s.skipped} skipped\n`,
              );
              process.exit(0);
            });
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        },
      ),
    );
}
