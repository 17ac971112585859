#!/usr/bin/env node
/**
 * The `twinloop` command: `start` runs the platform; the other commands are clients of a running
 * platform's HTTP API (models, twins, query, send, history, dead-letters), except
 * `models validate`, which checks model files offline.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ApiClient, ApiError, type ClientOptions } from './api-client.js';
import { formatProblem, isTwinloopError } from '../../core/errors/errors.js';

const program = new Command();
program
  .name('twinloop')
  .description(
    'Twinloop: an open-source digital twin platform (DTDL v3, ADT-compatible API, MQTT, history, live).',
  )
  .version('0.1.0')
  .showHelpAfterError();

function clientOptions(cmd: Command): ClientOptions {
  const o = cmd.optsWithGlobals<{ url?: string; token?: string; data?: string }>();
  return { url: o.url, token: o.token, data: o.data };
}

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Runs a command body; our errors and API errors end the process with a clear message, no stack. */
function run<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof ApiError) {
        process.stderr.write(`error: ${e.code}: ${e.message}\n`);
        const details = (e.body as { error?: { details?: { message: string }[] } } | undefined)?.error
          ?.details;
        for (const d of details ?? []) process.stderr.write(`  - ${d.message}\n`);
      } else if (isTwinloopError(e)) {
        process.stderr.write(`error: ${e.code}: ${e.message}\n`);
      } else {
        process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`);
      }
      process.exitCode = 1;
    }
  };
}

/** JSON files of a path: the file itself, or every *.json below a folder (sorted). */
function jsonFiles(p: string): string[] {
  const st = statSync(p);
  if (st.isFile()) return [p];
  return readdirSync(p, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(p, f));
}

// ----------------------------------------------------------------- start

program
  .command('start')
  .description('Run the platform: HTTP API + WebSocket live stream + MQTT ingestion, with embedded storage.')
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
      const platform = await startPlatform(config);
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

// ----------------------------------------------------------------- simulate

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
      }) => {
        const { readRuntimeInfo, readToken } = await import('../runtime-files.js');
        const { startSimulator, pilotWorkspace } = await import('../simulator.js');
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
        const sim = await startSimulator({
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

// ----------------------------------------------------------------- client options

function withClient(cmd: Command): Command {
  return cmd
    .option(
      '--url <url>',
      'Twinloop HTTP URL (env TWINLOOP_URL; default: from the data folder, else http://127.0.0.1:8480)',
    )
    .option('--token <token>', "access token (env TWINLOOP_TOKEN; default: the data folder's token file)")
    .option('--data <dir>', 'data folder of the local server (to find its URL and token)');
}

// ----------------------------------------------------------------- models

const models = program.command('models').description('DTDL v3 models');

withClient(models.command('add <fileOrDir>').description('upload DTDL model files (one batch)')).action(
  run(async (p: string, _o: unknown, cmd: Command) => {
    const docs = jsonFiles(p).flatMap((f) => {
      const json = JSON.parse(readFileSync(f, 'utf8').replace(/^\uFEFF/, '')) as unknown;
      return Array.isArray(json) ? json : [json];
    });
    const client = new ApiClient(clientOptions(cmd));
    const res = await client.request('POST', '/models', { body: docs });
    const added = res.body as { id: string }[];
    process.stdout.write(`added ${added.length} model(s):\n${added.map((m) => `  ${m.id}`).join('\n')}\n`);
  }),
);

withClient(
  models.command('list').description('list models').option('--definitions', 'include definitions'),
).action(
  run(async (o: { definitions?: boolean }, cmd: Command) => {
    const client = new ApiClient(clientOptions(cmd));
    const res = await client.request('GET', '/models', {
      query: { includeModelDefinition: o.definitions ? 'true' : undefined },
    });
    print((res.body as { value: unknown[] }).value);
  }),
);

withClient(models.command('delete <id>').description('delete a model')).action(
  run(async (id: string, _o: unknown, cmd: Command) => {
    await new ApiClient(clientOptions(cmd)).request('DELETE', `/models/${encodeURIComponent(id)}`);
    process.stdout.write(`deleted ${id}\n`);
  }),
);

models
  .command('validate <fileOrDir>')
  .description('check DTDL model files offline; every problem with its place')
  .action(
    run(async (p: string) => {
      const { validateModelsPath } = await import('./models-validate.js');
      const r = await validateModelsPath(p);
      for (const prob of r.problems)
        process.stdout.write(
          `${prob.severity === 'warning' ? 'warning' : 'error'}: ${formatProblem(prob)}\n`,
        );
      const errorsCount = r.problems.filter((x) => x.severity !== 'warning').length;
      process.stdout.write(`${r.files} file(s), ${r.interfaces} interface(s), ${errorsCount} error(s)\n`);
      if (errorsCount) process.exitCode = 1;
    }),
  );

// ----------------------------------------------------------------- twins

const twins = program.command('twins').description('digital twins and relationships');

withClient(twins.command('get <id>').description('show a twin')).action(
  run(async (id: string, _o: unknown, cmd: Command) => {
    print(
      (await new ApiClient(clientOptions(cmd)).request('GET', `/digitaltwins/${encodeURIComponent(id)}`))
        .body,
    );
  }),
);

withClient(
  twins
    .command('create <id> <json>')
    .description(
      'create or replace a twin: JSON text or @file, e.g. \'{"$metadata":{"$model":"dtmi:x;1"}}\'',
    ),
).action(
  run(async (id: string, json: string, _o: unknown, cmd: Command) => {
    const body = JSON.parse(json.startsWith('@') ? readFileSync(json.slice(1), 'utf8') : json) as unknown;
    print(
      (
        await new ApiClient(clientOptions(cmd)).request('PUT', `/digitaltwins/${encodeURIComponent(id)}`, {
          body,
        })
      ).body,
    );
  }),
);

withClient(
  twins
    .command('patch <id> <jsonPatch>')
    .description('apply a JSON Patch, e.g. \'[{"op":"replace","path":"/flowSetpoint","value":40}]\''),
).action(
  run(async (id: string, patch: string, _o: unknown, cmd: Command) => {
    await new ApiClient(clientOptions(cmd)).request('PATCH', `/digitaltwins/${encodeURIComponent(id)}`, {
      body: JSON.parse(patch) as unknown,
      contentType: 'application/json-patch+json',
    });
    process.stdout.write(`updated ${id}\n`);
  }),
);

withClient(twins.command('delete <id>').description('delete a twin (its relationships first)')).action(
  run(async (id: string, _o: unknown, cmd: Command) => {
    await new ApiClient(clientOptions(cmd)).request('DELETE', `/digitaltwins/${encodeURIComponent(id)}`);
    process.stdout.write(`deleted ${id}\n`);
  }),
);

withClient(
  twins
    .command('relationships <id>')
    .description("list a twin's outgoing relationships")
    .option('--incoming', 'incoming instead'),
).action(
  run(async (id: string, o: { incoming?: boolean }, cmd: Command) => {
    const p = `/digitaltwins/${encodeURIComponent(id)}/${o.incoming ? 'incomingrelationships' : 'relationships'}`;
    print((await new ApiClient(clientOptions(cmd)).request('GET', p)).body);
  }),
);

withClient(
  twins
    .command('relate <sourceId> <name> <targetId>')
    .description('create a relationship')
    .option('--id <relId>', 'relationship id (default: <name>-<targetId>)'),
).action(
  run(async (source: string, name: string, target: string, o: { id?: string }, cmd: Command) => {
    const relId = o.id ?? `${name}-${target}`;
    const body = { $targetId: target, $relationshipName: name };
    print(
      (
        await new ApiClient(clientOptions(cmd)).request(
          'PUT',
          `/digitaltwins/${encodeURIComponent(source)}/relationships/${encodeURIComponent(relId)}`,
          { body },
        )
      ).body,
    );
  }),
);

// ----------------------------------------------------------------- query

withClient(
  program
    .command('query <text>')
    .description('run a query (ADT query language, MATCH with any number of hops)')
    .option('--page-size <n>', 'rows per page')
    .option('--first-page', 'print only the first page'),
).action(
  run(async (text: string, o: { pageSize?: string; firstPage?: boolean }, cmd: Command) => {
    const client = new ApiClient(clientOptions(cmd));
    let token: string | undefined;
    const rows: unknown[] = [];
    do {
      const res = await client.request('POST', '/query', {
        body: { query: text, ...(token ? { continuationToken: token } : {}) },
        headers: o.pageSize ? { 'max-items-per-page': o.pageSize } : {},
      });
      const page = res.body as { value: unknown[]; continuationToken?: string | null };
      rows.push(...page.value);
      token = page.continuationToken ?? undefined;
    } while (token && !o.firstPage);
    print(rows);
    process.stderr.write(`${rows.length} row(s)\n`);
  }),
);

// ----------------------------------------------------------------- telemetry

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
  run(async (twinId: string, readings: string[], o: { component?: string; time?: string }, cmd: Command) => {
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
  }),
);

withClient(
  program
    .command('history <twinId> <path>')
    .description('read history: raw points, or aggregates with --interval')
    .option('--from <time>', 'ISO time or epoch ms (default: 1 hour ago)')
    .option('--to <time>', 'ISO time or epoch ms (default: now)')
    .option('--interval <ms>', 'bucket width in ms, for aggregates')
    .option('--fn <list>', 'aggregates: avg,min,max,sum,count,first,last', 'avg')
    .option('--limit <n>', 'raw points per page', '1000'),
).action(
  run(
    async (
      twinId: string,
      p: string,
      o: { from?: string; to?: string; interval?: string; fn: string; limit: string },
      cmd: Command,
    ) => {
      const now = Date.now();
      const res = await new ApiClient(clientOptions(cmd)).request(
        'GET',
        `/digitaltwins/${encodeURIComponent(twinId)}/history`,
        {
          query: {
            path: p,
            from: o.from ?? String(now - 3600_000),
            to: o.to ?? String(now + 1),
            interval: o.interval,
            fn: o.interval ? o.fn : undefined,
            limit: o.interval ? undefined : o.limit,
          },
        },
      );
      print(res.body);
    },
  ),
);

withClient(
  program
    .command('dead-letters')
    .description('list rejected messages, newest first, with their reasons')
    .option('--limit <n>', 'how many', '50'),
).action(
  run(async (o: { limit: string }, cmd: Command) => {
    const res = await new ApiClient(clientOptions(cmd)).request('GET', '/deadletters', {
      query: { limit: o.limit },
    });
    print(res.body);
  }),
);

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
