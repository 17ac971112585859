/**
 * `twinloop devices …`: device credentials through the running server's API (docs/mqtt.md,
 * "Devices as principals"). add-credential prints the token once: it is stored hashed.
 */
import type { Command } from 'commander';
import { ApiClient, type ClientOptions } from './api-client.js';
import { clientOptions, withClient, type RegisterCommands } from './cli-kit.js';

/** The `devices` commands, registered by main.ts. */
export const registerDevices: RegisterCommands = (program, kit) =>
  registerDeviceCommands(program, { run: kit.run, withClient, clientOptions });

/** The helpers the commands use (client options, error handling). */
export interface CliHelpers {
  withClient(cmd: Command): Command;
  run<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void>;
  clientOptions(cmd: Command): ClientOptions;
}

interface CredentialView {
  id: string;
  twinId: string;
  label?: string;
  createdAt: string;
}

const path = (twinId: string) => `/devices/${encodeURIComponent(twinId)}/credentials`;

export function registerDeviceCommands(program: Command, h: CliHelpers): void {
  const devices = program
    .command('devices')
    .description('device credentials (MQTT passwords scoped to one twin)');

  h.withClient(
    devices
      .command('add-credential <twinId>')
      .description("create a credential for the twin's device; prints its token once")
      .option('--label <text>', 'a note to recognise it by'),
  ).action(
    h.run(async (twinId: string, o: { label?: string }, cmd: Command) => {
      const res = await new ApiClient(h.clientOptions(cmd)).request('POST', path(twinId), {
        body: o.label !== undefined ? { label: o.label } : {},
      });
      const c = res.body as CredentialView & { token: string };
      process.stdout.write(
        [
          `created device credential ${c.id} for twin ${c.twinId}${c.label ? ` (${c.label})` : ''}`,
          '',
          `  token: ${c.token}`,
          '',
          'Shown this once (Twinloop keeps only a hash). The device connects with:',
          `  client id: ${c.twinId}   user name: ${c.twinId}   password: the token`,
          `  e.g. mosquitto_pub -i '${c.twinId}' -u '${c.twinId}' -P '<token>' -t 'twins/${c.twinId}/telemetry' -m '{"temperature": 21}'`,
          '',
        ].join('\n'),
      );
    }),
  );

  h.withClient(
    devices.command('credentials <twinId>').description("list the twin's device credentials"),
  ).action(
    h.run(async (twinId: string, _o: unknown, cmd: Command) => {
      const res = await new ApiClient(h.clientOptions(cmd)).request('GET', path(twinId));
      const list = (res.body as { value: CredentialView[] }).value;
      if (list.length === 0) process.stdout.write(`twin ${twinId} has no device credentials\n`);
      for (const c of list) process.stdout.write(`${c.id}  ${c.createdAt}  ${c.label ?? ''}\n`);
    }),
  );

  h.withClient(
    devices
      .command('revoke-credential <twinId> <credentialId>')
      .description('revoke a credential (a device connected with it is disconnected)'),
  ).action(
    h.run(async (twinId: string, id: string, _o: unknown, cmd: Command) => {
      await new ApiClient(h.clientOptions(cmd)).request(
        'DELETE',
        `${path(twinId)}/${encodeURIComponent(id)}`,
      );
      process.stdout.write(`revoked ${id}\n`);
    }),
  );
}
