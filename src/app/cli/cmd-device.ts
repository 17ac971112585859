/**
 * Talking to twins' devices: `twinloop send` (telemetry over HTTP), `twinloop command` (a command
 * to the device over MQTT, stored and followed with --wait) and `twinloop fault` (a fault of a simulated device, switched on now).
 */
import type { Command } from 'commander';
import { TwinloopError } from '../../core/errors/errors.js';
import { telemetryTopic } from '../../core/telemetry/topic-scheme.js';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, withClient, withOutput, type CliKit } from './cli-kit.js';
import { printRows, type Row } from './output.js';

export function registerDevice(program: Command, { run }: CliKit): void {
  withClient(
    program
      .command('command <twinId> <command> [request]')
      .description(
        "send a command to a twin's device, e.g. command pump-3a setRunning false (request: JSON; a bare word is a string)",
      )
      .option(
        '--expiry <seconds>',
        "how long the command may wait for its device and answer (default: the server's, 600)",
      )
      .option(
        '--wait',
        'follow the command, printing each step, until it is finished (exit 1 unless it succeeded)',
      )
      .option(
        '--timeout <seconds>',
        'with --wait: stop waiting after this long (default: until the command expires)',
      ),
  ).action(
    run(
      async (
        twinId: string,
        command: string,
        request: string | undefined,
        o: { expiry?: string; wait?: boolean; timeout?: string },
        cmd: Command,
      ) => {
        let body: unknown;
        if (request !== undefined) {
          try {
            body = JSON.parse(request);
          } catch {
            body = request;
          }
        }
        const expiry = o.expiry === undefined ? undefined : positiveSeconds('--expiry', o.expiry);
        const timeout = o.timeout === undefined ? undefined : positiveSeconds('--timeout', o.timeout);
        const client = new ApiClient(clientOptions(cmd));
        const path = `/digitaltwins/${encodeURIComponent(twinId)}/commands/${encodeURIComponent(command)}`;
        const r = await client.request(
          'POST',
          expiry === undefined ? path : `${path}?expirySeconds=${expiry}`,
          body === undefined ? {} : { body },
        );
        let c = r.body as CommandJson;
        process.stdout.write(`${command} to ${twinId}: request ${c.requestId}\n`);
        for (const step of c.steps) process.stdout.write(stepLine(step));
        if (!o.wait) return;
        const deadline = timeout !== undefined ? Date.now() + timeout * 1000 : Date.parse(c.expiresAt) + 2000;
        let shown = c.steps.length;
        const url = `/digitaltwins/${encodeURIComponent(twinId)}/commands/${encodeURIComponent(c.requestId)}`;
        while (OPEN.has(c.state) && Date.now() < deadline) {
          const wait = Math.max(1, Math.min(30, Math.ceil((deadline - Date.now()) / 1000)));
          c = (await client.request('GET', `${url}?afterSteps=${shown}&waitSeconds=${wait}`))
            .body as CommandJson;
          for (const step of c.steps.slice(shown)) process.stdout.write(stepLine(step));
          shown = c.steps.length;
        }
        if (c.state === 'succeeded') {
          if (c.response !== undefined) process.stdout.write(`response: ${JSON.stringify(c.response)}\n`);
          return;
        }
        if (OPEN.has(c.state))
          throw new TwinloopError('ServiceUnavailable', `Stopped waiting: the command is still ${c.state}.`);
        throw new TwinloopError(
          'Conflict',
          `The command ${c.state}${c.status !== undefined ? ` (status ${c.status})` : ''}: ${c.reason ?? ''}`.trim(),
        );
      },
    ),
  );

  const commands = program.command('commands').description("a twin's commands and their state: list, cancel");
  withOutput(
    commands
      .command('list <twinId>', { isDefault: true })
      .description("a twin's commands, newest first, with their state and the device's answer")
      .option(
        '--state <states>',
        'queued, sent, acknowledged, succeeded, failed, expired, cancelled (comma-separated)',
      )
      .option('--limit <n>', 'how many', '20'),
  ).action(
    run(async (twinId: string, o: { state?: string; limit: string }, cmd: Command) => {
      const r = await new ApiClient(clientOptions(cmd)).request(
        'GET',
        `/digitaltwins/${encodeURIComponent(twinId)}/commands`,
        { query: { state: o.state, limit: o.limit } },
      );
      const body = r.body as { value: Row[] };
      const rows = body.value.map((c) => ({
        ...c,
        request: c.request === undefined ? '' : JSON.stringify(c.request),
        response: c.response === undefined ? '' : JSON.stringify(c.response),
      }));
      printRows(rows, formatOf(cmd), { columns: COMMAND_COLUMNS, json: body.value });
    }),
  );
  withClient(commands.command('cancel <twinId> <requestId>').description('cancel a queued command')).action(
    run(async (twinId: string, requestId: string, _o: unknown, cmd: Command) => {
      await new ApiClient(clientOptions(cmd)).request(
        'DELETE',
        `/digitaltwins/${encodeURIComponent(twinId)}/commands/${encodeURIComponent(requestId)}`,
      );
      process.stdout.write(`cancelled ${requestId}\n`);
    }),
  );

  withClient(
    program
      .command('fault <twinId> <fault>')
      .description(
        "switch a fault of a simulated device on now, e.g. fault pump-3a bearingDamage (the server's simulator); " +
          'fault pump-3a offline cuts the device off the broker (its last will goes out, no telemetry), fault pump-3a online brings it back',
      )
      .option('--off', 'switch it off instead'),
  ).action(
    run(async (twinId: string, fault: string, o: { off?: boolean }, cmd: Command) => {
      const r = await new ApiClient(clientOptions(cmd)).request('POST', '/simulator/faults', {
        body: { twinId, fault, on: !o.off },
      });
      const b = r.body as { behaviour?: string; simulatedTime?: number; state?: string };
      if (b.state !== undefined) {
        process.stdout.write(`${twinId} is ${b.state}\n`);
        return;
      }
      process.stdout.write(
        `${fault} ${o.off ? 'off' : 'on'} for ${twinId} (behaviour ${b.behaviour ?? '?'}, simulated t = ${Math.round(b.simulatedTime ?? 0)} s)\n`,
      );
    }),
  );

  withClient(
    program
      .command('send <twinId> <readings...>')
      .description('publish a telemetry reading set, e.g. send pump-3a vibration=7.4 temperature=61')
      .option('--component <name>', 'the component the telemetry belongs to')
      .option('--time <iso>', 'source time of the readings (default: now)')
      .option(
        '--mqtt',
        "publish over MQTT (QoS 1) to the server's broker, as a device would, instead of HTTP (a reading the model refuses is then acknowledged and dead-lettered: see twinloop dead-letters)",
      ),
  ).action(
    run(
      async (
        twinId: string,
        readings: string[],
        o: { component?: string; time?: string; mqtt?: boolean },
        cmd: Command,
      ) => {
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
        if (o.mqtt) {
          const sent = await publishOverMqtt(new ApiClient(clientOptions(cmd)), twinId, body, o);
          process.stdout.write(
            `sent ${Object.keys(body).length} reading(s) to ${twinId}${o.component ? '/' + o.component : ''} over ${sent}\n`,
          );
          return;
        }
        const p = o.component
          ? `/digitaltwins/${encodeURIComponent(twinId)}/components/${encodeURIComponent(o.component)}/telemetry`
          : `/digitaltwins/${encodeURIComponent(twinId)}/telemetry`;
        const headers: Record<string, string> = { 'message-id': `cli-${Date.now()}` };
        if (o.time) headers['telemetry-source-time'] = o.time;
        const r = await new ApiClient(clientOptions(cmd)).request('POST', p, { body, headers });
        // The ADT route answers 204 as ADT does and says in this header what it did not store.
        const warning = r.headers.get('twinloop-warning');
        if (warning?.startsWith('InvalidTelemetry:')) {
          throw new TwinloopError('InvalidTelemetry', `${twinId}: ${warning}`);
        }
        process.stdout.write(
          `sent ${Object.keys(body).length} reading(s) to ${twinId}${o.component ? '/' + o.component : ''}\n`,
        );
      },
    ),
  );
}

/**
 * Publishes a reading set to the server's MQTT broker (its URL from GET /, the port actually bound),
 * QoS 1: resolves once the broker has acknowledged it, that is once it is stored. Returns the topic.
 */
async function publishOverMqtt(
  client: ApiClient,
  twinId: string,
  body: Record<string, unknown>,
  o: { component?: string; time?: string },
): Promise<string> {
  const home = (await client.request('GET', '/', { headers: { accept: 'application/json' } })).body as {
    mqttUrl?: string;
  };
  if (!home.mqttUrl)
    throw new TwinloopError(
      'ServiceUnavailable',
      `The server at ${client.baseUrl} did not say its MQTT URL.`,
    );
  let ts: number | undefined;
  if (o.time !== undefined) {
    ts = /^\d+$/.test(o.time) ? Number(o.time) : Date.parse(o.time);
    if (!Number.isSafeInteger(ts))
      throw new TwinloopError('BadRequest', `--time must be an ISO date-time or epoch ms, not '${o.time}'.`);
  }
  const { publishOnce } = await import('../../adapters/mqtt/mqtt-one-shot-publisher.js');
  const topic = telemetryTopic(twinId, o.component === undefined ? {} : { component: o.component });
  await publishOnce({
    url: home.mqttUrl,
    clientId: `twinloop-cli-${process.pid}`,
    ...(client.token ? { credentials: { username: 'twinloop-cli', password: client.token } } : {}),
    topic,
    payload: JSON.stringify(ts === undefined ? body : { ...body, $ts: ts }),
  });
  return `${home.mqttUrl} (${topic})`;
}

interface CommandJson {
  requestId: string;
  state: string;
  expiresAt: string;
  steps: { state: string; at: string }[];
  status?: number;
  response?: unknown;
  reason?: string;
}

const OPEN = new Set(['queued', 'sent', 'acknowledged']);

function stepLine(step: { state: string; at: string }): string {
  return `  ${step.state.padEnd(13)}${step.at}\n`;
}

function positiveSeconds(flag: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new TwinloopError('BadRequest', `${flag} takes a number of seconds above 0, not '${raw}'.`);
  return n;
}

const COMMAND_COLUMNS = [
  { key: 'createdAt' },
  { key: 'command' },
  { key: 'request' },
  { key: 'state' },
  { key: 'status' },
  { key: 'response' },
  { key: 'reason' },
  { key: 'requestId' },
];
