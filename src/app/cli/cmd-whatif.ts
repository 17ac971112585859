/**
 * `twinloop whatif`: asks a what-if question (the body of POST /simulations, from flags or JSON),
 * shows a progress bar on a terminal (stderr) while it runs, and prints the answer: which limits
 * are crossed, when (simulated time after now) and by which twin (whatif-answer.ts). Ctrl+C cancels
 * the run on the server.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { TwinloopError } from '../../core/errors/errors.js';
import { parseDuration } from '../../sim/whatif/duration.js';
import type { WhatIfEventRequest, WhatIfJob } from '../../sim/whatif/what-if-types.js';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, withOutput, type CliKit } from './cli-kit.js';
import { formatRows, roundNumber, shortDuration, type Row } from './output.js';
import { limitChecks, type LimitCheck, type TrajectoryLike } from '../../sim/whatif/what-if-answer.js';

interface WhatIfOptions {
  root?: string;
  twins?: string;
  horizon?: string;
  sampleInterval?: string;
  fault: string[];
  command: string[];
  name?: string;
  timeout: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** "1h pump-3a bearingDamage" → an event. */
export function parseEventFlag(kind: 'fault' | 'command', raw: string): WhatIfEventRequest {
  const parts = raw.trim().split(/\s+/);
  const [at, twin, what, ...rest] = parts;
  if (!at || !twin || !what || (kind === 'fault' && rest.length))
    throw new TwinloopError(
      'BadRequest',
      kind === 'fault'
        ? `--fault is "AT TWIN FAULT", e.g. --fault "1h pump-3a bearingDamage", not '${raw}'.`
        : `--command is "AT TWIN COMMAND [JSON]", e.g. --command "2h pump-3c setRunning false", not '${raw}'.`,
    );
  if (kind === 'fault') return { at, twin, fault: what };
  const payload = rest.join(' ');
  let value: unknown = payload;
  try {
    value = payload === '' ? undefined : JSON.parse(payload);
  } catch {
    /* a bare word: a string */
  }
  return { at, twin, command: what, ...(value === undefined ? {} : { payload: value }) };
}

/** The request body from the JSON argument (text or @file) and the flags (flags win). */
export function whatIfRequest(json: string | undefined, o: WhatIfOptions): Record<string, unknown> {
  const base = json
    ? (JSON.parse(json.startsWith('@') ? readFileSync(json.slice(1), 'utf8') : json) as Record<
        string,
        unknown
      >)
    : {};
  const req: Record<string, unknown> = { ...base };
  if (o.name) req.name = o.name;
  if (o.root) req.root = o.root;
  if (o.twins)
    req.twins = o.twins
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (o.horizon) req.horizon = o.horizon;
  req.horizon ??= '24h';
  if (o.sampleInterval) req.sampleInterval = o.sampleInterval;
  const events = [
    ...o.fault.map((f) => parseEventFlag('fault', f)),
    ...o.command.map((c) => parseEventFlag('command', c)),
  ];
  if (events.length) req.events = [...((base.events as unknown[] | undefined) ?? []), ...events];
  if (req.root === undefined && req.twins === undefined)
    throw new TwinloopError(
      'BadRequest',
      'Say what to simulate: --root TWIN (and what it leads to) or --twins A,B.',
    );
  return req;
}

export function progressBar(job: WhatIfJob, width = 30): string {
  const p = Math.max(0, Math.min(1, job.progress));
  const done = Math.round(p * width);
  return `[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${String(Math.floor(p * 100)).padStart(3)}%  ${shortDuration(job.simulatedSeconds)} of ${shortDuration(job.horizon)} simulated`;
}

const finished = (j: WhatIfJob) =>
  j.status === 'succeeded' || j.status === 'failed' || j.status === 'cancelled';

function limitText(c: LimitCheck): string {
  return `${c.direction === 'above' ? '>' : '<'} ${roundNumber(c.limit)}${c.unit ? ' ' + c.unit : ''}`;
}

/** The answer as text: what ran, the limits crossed (when, by whom), the rest, where the data is. */
export function answerText(job: WhatIfJob, checks: readonly LimitCheck[], baseUrl: string): string {
  const lines: string[] = [];
  lines.push(
    `What-if ${job.id}${job.name ? ` (${job.name})` : ''}: ${job.twins.length} twin(s) simulated for ${shortDuration(job.horizon)} from now: ${job.twins.join(', ')}`,
  );
  if (job.skipped.length)
    lines.push(`Not simulated: ${job.skipped.map((s) => `${s.twinId} (${s.reason})`).join('; ')}`);
  const crossed = checks.filter((c) => c.crossedAt !== undefined);
  const within = checks.filter((c) => c.crossedAt === undefined);
  lines.push('');
  if (crossed.length) {
    lines.push(`Limits crossed (${crossed.length}):`);
    const rows: Row[] = crossed.map((c) => ({
      twin: c.twinId,
      telemetry: c.series,
      limit: limitText(c),
      'crossed after': shortDuration(c.crossedAt!),
      value: c.crossedValue,
      peak: c.peak,
      'peak after': shortDuration(c.peakAt),
    }));
    lines.push(formatRows(rows, 'table').trimEnd());
  } else if (checks.length) {
    lines.push(`No limit crossed within ${shortDuration(job.horizon)}.`);
  } else {
    lines.push('No limits to check: no twin of the run has a <telemetry>Limit/Max/Min property.');
  }
  if (within.length) {
    lines.push('');
    lines.push(
      `Within limits: ${within.map((c) => `${c.twinId} ${c.series} (peak ${roundNumber(c.peak)}, limit ${limitText(c)})`).join('; ')}`,
    );
  }
  const id = encodeURIComponent(job.id);
  lines.push('');
  lines.push(`Trajectories: ${baseUrl}/simulations/${id}/trajectories (JSON), …/trajectories.csv (CSV)`);
  return lines.join('\n') + '\n';
}

export function registerWhatIf(program: Command, { run }: CliKit): void {
  withOutput(
    program
      .command('whatif [request]')
      .description(
        'ask "what if": fork twins, simulate ahead with faults or commands, print which limits are crossed, when and by whom; request: the JSON of POST /simulations (text or @file), or flags',
      )
      .option('--root <twin>', 'simulate this twin and every twin it leads to (e.g. line-3)')
      .option('--twins <ids>', 'simulate these twins (comma-separated)')
      .option('--horizon <duration>', 'how far ahead: 90min, 24h, 7d… (default 24h)')
      .option('--sample-interval <duration>', 'time between samples (default: horizon / 500)')
      .option(
        '--fault <"AT TWIN FAULT">',
        'a fault switched on at a time, e.g. "1h pump-3a bearingDamage" (repeatable)',
        collect,
        [],
      )
      .option(
        '--command <"AT TWIN COMMAND [JSON]">',
        'a command at a time, e.g. "2h pump-3c setRunning false" (repeatable)',
        collect,
        [],
      )
      .option('--name <label>', 'a label for the run')
      .option('--timeout <duration>', 'give up (and cancel the run) after this long', '10min'),
  ).action(
    run(async (json: string | undefined, o: WhatIfOptions, cmd: Command) => {
      const timeout = parseDuration(o.timeout);
      if (timeout === undefined || timeout <= 0)
        throw new TwinloopError(
          'BadRequest',
          `--timeout must be a duration such as 30s or 10min, not '${o.timeout}'.`,
        );
      const body = whatIfRequest(json, o);
      const client = new ApiClient(clientOptions(cmd));
      const format = formatOf(cmd);
      let job = (await client.request('POST', '/simulations', { body })).body as WhatIfJob;
      const jobPath = `/simulations/${encodeURIComponent(job.id)}`;
      const tty = process.stderr.isTTY === true;
      const cancel = () => {
        void client.request('DELETE', jobPath).finally(() => {
          process.stderr.write('\ncancelled\n');
          process.exit(130);
        });
      };
      process.once('SIGINT', cancel);
      const deadline = Date.now() + timeout * 1000;
      try {
        while (!finished(job)) {
          if (tty) process.stderr.write(`\r${progressBar(job)}`);
          if (Date.now() > deadline) {
            await client.request('DELETE', jobPath);
            throw new TwinloopError(
              'ServiceUnavailable',
              `The what-if run ${job.id} took longer than --timeout ${o.timeout}: cancelled.`,
            );
          }
          await new Promise((r) => setTimeout(r, 250));
          job = (await client.request('GET', jobPath)).body as WhatIfJob;
        }
        if (tty) process.stderr.write(`\r${progressBar(job)}\n`);
      } finally {
        process.removeListener('SIGINT', cancel);
      }
      if (job.status !== 'succeeded')
        throw new TwinloopError(
          job.status === 'cancelled' ? 'ServiceUnavailable' : 'BadRequest',
          `The what-if run ${job.id} ${job.status}${job.error ? `: ${job.error.code}: ${job.error.message}` : ''}.`,
        );
      const result = (await client.request('GET', `${jobPath}/trajectories`)).body as {
        twins: TrajectoryLike[];
      };
      // Limits the behaviour does not map come from the live twins' properties.
      const live: Record<string, Record<string, unknown>> = {};
      for (const tr of result.twins.slice(0, 100)) {
        if (Object.keys(tr.properties).some((k) => /(Limit|Max|Min)$/.test(k))) continue;
        live[tr.twinId] = (await client.request('GET', `/digitaltwins/${encodeURIComponent(tr.twinId)}`))
          .body as Record<string, unknown>;
      }
      const checks = limitChecks(result.twins, live);
      if (format === 'table') {
        process.stdout.write(answerText(job, checks, client.baseUrl));
        return;
      }
      const rows = checks.map((c) => ({ ...c, crossed: c.crossedAt !== undefined }));
      process.stdout.write(
        formatRows(rows, format, {
          json: {
            ...job,
            crossings: checks.filter((c) => c.crossedAt !== undefined),
            withinLimits: checks.filter((c) => c.crossedAt === undefined),
          },
          columns: [
            'twinId',
            'series',
            'direction',
            'limit',
            'crossed',
            'crossedAt',
            'crossedValue',
            'peak',
            'peakAt',
            'unit',
          ].map((key) => ({ key })),
        }),
      );
    }),
  );
}
