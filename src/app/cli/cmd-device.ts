/**
 * Talking to twins' devices: `twinloop send` (telemetry over HTTP), `twinloop command` (a command
 * to the device over MQTT) and `twinloop fault` (a fault of a simulated device, switched on now).
 */
import type { Command } from 'commander';
import { ApiClient } from './api-client.js';
import { clientOptions, withClient, type CliKit } from './cli-kit.js';

export function registerDevice(program: Command, { run }: CliKit): void {
  withClient(
    program
      .command('command <twinId> <command> [request]')
      .description(
        "send a command to a twin's device, e.g. command pump-3a setRunning false (request: JSON; a bare word is a string)",
      ),
  ).action(
    run(async (twinId: string, command: string, request: string | undefined, _o: unknown, cmd: Command) => {
      let body: unknown;
      if (request !== undefined) {
        try {
          body = JSON.parse(request);
        } catch {
          body = request;
        }
      }
      const r = await new ApiClient(clientOptions(cmd)).request(
        'POST',
        `/digitaltwins/${encodeURIComponent(twinId)}/commands/${encodeURIComponent(command)}`,
        body === undefined ? {} : { body },
      );
      const receipt = r.body as { requestId: string; topic: string };
      process.stdout.write(
        `sent ${command} to ${twinId} (request ${receipt.requestId}, topic ${receipt.topic})\n`,
      );
    }),
  );

  withClient(
    program
      .command('fault <twinId> <fault>')
      .description(
        "switch a fault of a simulated device on now, e.g. fault pump-3a bearingDamage (the server's simulator)",
      )
      .option('--off', 'switch it off instead'),
  ).action(
    run(async (twinId: string, fault: string, o: { off?: boolean }, cmd: Command) => {
      const r = await new ApiClient(clientOptions(cmd)).request('POST', '/simulator/faults', {
        body: { twinId, fault, on: !o.off },
      });
      const b = r.body as { behaviour: string; simulatedTime: number };
      process.stdout.write(
        `${fault} ${o.off ? 'off' : 'on'} for ${twinId} (behaviour ${b.behaviour}, simulated t = ${Math.round(b.simulatedTime)} s)\n`,
      );
    }),
  );

  withClient(
    program
      .command('send <twinId> <readings...>')
      .description('publish a telemetry reading set, e.g. send pump-3a vibration=7.4 temperature=61')
      .option('--component <name>', 'the component the telemetry belongs to')
      .option('--time <iso>', 'source time of the readings (default: now)'),
  ).action(
    run(
      async (twinId: string, readings: string[], o: { component?: string; time?: string }, cmd: Command) => {
        const body: Record<string, unknown> = {};
        for (const r of readings) {
          const eq = r.indexOf('=');
          if (eq <= 0) throw new Error(`'${r}' is not name=value`);
          const raw = r.slice(eq + 1);
          let v: unknown = raw;
          try {
            v = JSON.parse(raw);
          } catch {
            /* a bare string */
          }
          body[r.slice(0, eq)] = v;
        }
        const p = o.component
          ? `/digitaltwins/${encodeURIComponent(twinId)}/components/${encodeURIComponent(o.component)}/telemetry`
          : `/digitaltwins/${encodeURIComponent(twinId)}/telemetry`;
        const headers: Record<string, string> = { 'message-id': `cli-${Date.now()}` };
        if (o.time) headers['telemetry-source-time'] = o.time;
        await new ApiClient(clientOptions(cmd)).request('POST', p, { body, headers });
        process.stdout.write(
          `sent ${Object.keys(body).length} reading(s) to ${twinId}${o.component ? '/' + o.component : ''}\n`,
        );
      },
    ),
  );
}
