/**
 * `twinloop status`: what the running server is (its URLs as actually bound, pilot, twins,
 * simulator); `--mqtt-port` / `--mqtt-url` print just that, for scripts:
 * `mosquitto_pub -p "$(twinloop status --mqtt-port)" …` reaches this server's broker whatever port
 * it had to take.
 */
import type { Command } from 'commander';
import { TwinloopError } from '../../core/errors/errors.js';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, withOutput, type CliKit } from './cli-kit.js';
import { printObject } from './output.js';

interface HomeJson {
  pilot?: string;
  twins?: number;
  models?: number;
  mqttUrl?: string;
  liveUrl?: string;
  simulator?: { assets: number; speed: number };
  shadow?: boolean;
  auth?: boolean;
}

/** The port of an MQTT URL (its scheme's default when it names none). */
export function portOf(url: string): number {
  const u = new URL(url);
  if (u.port) return Number(u.port);
  return u.protocol === 'mqtts:' || u.protocol === 'ssl:' ? 8883 : u.protocol.startsWith('ws') ? 80 : 1883;
}

export function registerStatus(program: Command, { run }: CliKit): void {
  withOutput(
    program
      .command('status')
      .description('the running server: its URLs (the ports actually bound), pilot, twins and simulator')
      .option('--mqtt-port', "print only the MQTT broker's port")
      .option('--mqtt-url', "print only the MQTT broker's URL"),
  ).action(
    run(async (o: { mqttPort?: boolean; mqttUrl?: boolean }, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      const home = (await client.request('GET', '/', { headers: { accept: 'application/json' } }))
        .body as HomeJson;
      if (o.mqttPort || o.mqttUrl) {
        if (!home.mqttUrl)
          throw new TwinloopError(
            'ServiceUnavailable',
            `The server at ${client.baseUrl} did not say its MQTT URL.`,
          );
        process.stdout.write(`${o.mqttPort ? portOf(home.mqttUrl) : home.mqttUrl}\n`);
        return;
      }
      printObject(
        {
          http: client.baseUrl,
          live: home.liveUrl,
          mqtt: home.mqttUrl,
          pilot: home.pilot,
          models: home.models,
          twins: home.twins,
          simulator: home.simulator
            ? `${home.simulator.assets} assets, speed ×${home.simulator.speed}`
            : 'off',
          shadow: home.shadow ? 'on' : 'off',
          token: home.auth ? 'required' : 'not needed',
        },
        formatOf(cmd),
      );
    }),
  );
}
