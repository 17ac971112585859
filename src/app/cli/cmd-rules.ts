/**
 * `twinloop rules …`: rules through the running server's API (docs/rules.md):
 *   rules list | show <id> [--version N] | put <file.yaml|json> [--id ID] | delete <id>
 *   rules backtest <id> (--twin ID | --model DTMI) [--last 7d | --from T --to T]
 * A backtest runs as a job on the server; the command follows its progress on stderr and prints
 * when the rule would have fired.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, withClient, withOutput, type RegisterCommands } from './cli-kit.js';
import { printRows, readableTime, type Row } from './output.js';

const enc = encodeURIComponent;

interface BacktestJobBody {
  id: string;
  status: string;
  progress: { fraction: number; points: number; twinsDone: number; twins: number };
  result?: {
    summary: string;
    count: number;
    episodes: { twinId: string; start: number; end?: number; peak?: number }[];
  };
  error?: { code: string; message: string };
}

export const registerRules: RegisterCommands = (program, { run }) => {
  const rules = program.command('rules').description('alarm rules: list, show, put, delete, backtest');
  const client = (cmd: Command) => new ApiClient(clientOptions(cmd));

  withOutput(rules.command('list').description('list rules (latest version of each)')).action(
    run(async (_o: unknown, cmd: Command) => {
      const body = (await client(cmd).request('GET', '/rules')).body as {
        value: { id: string; version: number; definition: Row }[];
      };
      printRows(
        body.value.map((r) => ({
          id: r.id,
          version: r.version,
          severity: r.definition.severity,
          description: r.definition.description,
        })),
        formatOf(cmd),
        { json: body },
      );
    }),
  );

  withClient(
    rules.command('show <id>').description('print a rule as JSON').option('--version <n>', 'a given version'),
  ).action(
    run(async (id: string, o: { version?: string }, cmd: Command) => {
      const res = await client(cmd).request('GET', `/rules/${enc(id)}`, { query: { version: o.version } });
      process.stdout.write(`${JSON.stringify(res.body, null, 2)}\n`);
    }),
  );

  withClient(
    rules
      .command('put <file>')
      .description('create or change a rule from a YAML or JSON file')
      .option('--id <id>', "the rule's id (default: the file's id)"),
  ).action(
    run(async (file: string, o: { id?: string }, cmd: Command) => {
      const text = readFileSync(file, 'utf8');
      const yaml = !/\.json$/i.test(file);
      const id =
        o.id ??
        /^id:\s*['"]?([^'"\s#]+)/m.exec(text)?.[1] ??
        (JSON.parse(yaml ? '{}' : text) as { id?: string }).id ??
        path.basename(file).replace(/\.[^.]+$/, '');
      const res = await client(cmd).request('PUT', `/rules/${enc(id)}`, {
        raw: text,
        contentType: yaml ? 'application/yaml' : 'application/json',
      });
      const b = res.body as { version: number; outcome: string };
      process.stdout.write(`rule ${id}: version ${b.version} (${b.outcome})\n`);
    }),
  );

  withClient(rules.command('delete <id>').description('delete a rule (its versions are kept)')).action(
    run(async (id: string, _o: unknown, cmd: Command) => {
      await client(cmd).request('DELETE', `/rules/${enc(id)}`);
      process.stdout.write(`deleted rule ${id}\n`);
    }),
  );

  withOutput(
    rules
      .command('backtest <id>')
      .description('when would the rule have fired? (runs over stored history)')
      .option('--twin <id>', 'one twin')
      .option('--model <dtmi>', "every twin of a model (default: the rule's)")
      .option('--last <duration>', 'the range up to now, e.g. 7d, 12h', '7d')
      .option('--from <time>', 'start (RFC 3339 or ms)')
      .option('--to <time>', 'end (RFC 3339 or ms; default now)'),
  ).action(
    run(
      async (
        id: string,
        o: { twin?: string; model?: string; last: string; from?: string; to?: string },
        cmd: Command,
      ) => {
        const c = client(cmd);
        const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : v);
        const started = await c.request('POST', `/rules/${enc(id)}/backtest`, {
          body: {
            ...(o.twin ? { twin: o.twin } : {}),
            ...(o.model ? { model: o.model } : {}),
            ...(o.from ? { from: num(o.from) } : { last: o.last }),
            ...(o.to ? { to: num(o.to) } : {}),
          },
        });
        const location =
          started.headers.get('location') ??
          `/rules/${enc(id)}/backtests/${(started.body as BacktestJobBody).id}`;
        let job = started.body as BacktestJobBody;
        while (job.status === 'running') {
          await new Promise((r) => setTimeout(r, 250));
          job = (await c.request('GET', location)).body as BacktestJobBody;
          if (process.stderr.isTTY)
            process.stderr.write(
              `\r${Math.round(job.progress.fraction * 100)} % (${job.progress.points} readings, ${job.progress.twinsDone}/${job.progress.twins} twins)`,
            );
        }
        if (process.stderr.isTTY) process.stderr.write('\n');
        if (job.status === 'failed' || !job.result)
          throw new Error(`backtest ${job.status}: ${job.error?.message ?? ''}`);
        const result = job.result;
        printRows(
          result.episodes.map((e) => ({
            twin: e.twinId,
            start: readableTime(e.start),
            end: e.end === undefined ? 'still raised' : readableTime(e.end),
            peak: e.peak,
          })),
          formatOf(cmd),
          { json: result },
        );
        if (formatOf(cmd) === 'table') process.stdout.write(`${id} ${result.summary}\n`);
      },
    ),
  );
};
