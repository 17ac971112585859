/**
 * `twinloop alarms [list|show|ack|clear]`: the alarms rules raised (docs/alarms.md). `list` pages
 * through GET /alarms (filters as options; --all follows nextLink), `ack` and `clear` act as the
 * user given by --user (the Twinloop-User header; default the login name).
 */
import os from 'node:os';
import type { Command } from 'commander';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, withClient, withOutput, type CliKit } from './cli-kit.js';
import { printObject, printRows, type Row } from './output.js';

const COLUMNS = [
  { key: 'lastTime' },
  { key: 'severity' },
  { key: 'state' },
  { key: 'twinId' },
  { key: 'ruleId' },
  { key: 'count' },
  { key: 'message' },
  { key: 'id' },
];

function user(o: { user?: string }): string {
  if (o.user) return o.user;
  try {
    return os.userInfo().username;
  } catch {
    return 'anonymous';
  }
}

export function registerAlarms(program: Command, { run }: CliKit): void {
  const alarms = program
    .command('alarms')
    .description('alarms raised by rules: list, show, acknowledge, clear');

  withOutput(
    alarms
      .command('list', { isDefault: true })
      .description('list alarms, newest first')
      .option('--state <states>', 'active, acknowledged, cleared or open (comma-separated)')
      .option('--twin <id>', 'alarms of one twin')
      .option('--severity <severities>', 'critical, major, minor, warning, indeterminate (comma-separated)')
      .option('--rule <id>', 'alarms of one rule')
      .option('--since <time>', 'raised or repeated since (ISO 8601 or epoch ms)')
      .option('--limit <n>', 'how many per page', '50')
      .option('--all', 'every page'),
  ).action(
    run(
      async (
        o: {
          state?: string;
          twin?: string;
          severity?: string;
          rule?: string;
          since?: string;
          limit: string;
          all?: boolean;
        },
        cmd: Command,
      ) => {
        const client = new ApiClient(clientOptions(cmd));
        const rows: Row[] = [];
        let query: Record<string, string | undefined> = {
          state: o.state,
          twin: o.twin,
          severity: o.severity,
          rule: o.rule,
          since: o.since,
          limit: o.limit,
        };
        for (;;) {
          const body = (await client.request('GET', '/alarms', { query })).body as {
            value: Row[];
            nextLink?: string;
          };
          rows.push(...body.value);
          if (!body.nextLink) break;
          if (!o.all) {
            process.stderr.write(`${rows.length} shown; more with --all\n`);
            break;
          }
          query = {
            ...query,
            continuationToken: new URL(body.nextLink).searchParams.get('continuationToken') ?? undefined,
          };
        }
        printRows(rows, formatOf(cmd), { columns: COLUMNS, json: rows });
      },
    ),
  );

  withOutput(alarms.command('show <id>').description('show one alarm')).action(
    run(async (id: string, _o: unknown, cmd: Command) => {
      const res = await new ApiClient(clientOptions(cmd)).request('GET', `/alarms/${encodeURIComponent(id)}`);
      printObject(res.body, formatOf(cmd));
    }),
  );

  for (const [name, path, member, what] of [
    ['ack', 'ack', 'comment', 'acknowledge an alarm'],
    ['clear', 'clear', 'reason', 'clear an open alarm by hand'],
  ] as const) {
    withClient(
      alarms
        .command(`${name} <id>`)
        .description(what)
        .option(`--${member} <text>`, `a ${member}`)
        .option('--user <name>', 'who acts (default: your login name)'),
    ).action(
      run(async (id: string, o: { user?: string; comment?: string; reason?: string }, cmd: Command) => {
        const text = o[member];
        const res = await new ApiClient(clientOptions(cmd)).request(
          'POST',
          `/alarms/${encodeURIComponent(id)}/${path}`,
          { body: text === undefined ? {} : { [member]: text }, headers: { 'twinloop-user': user(o) } },
        );
        const a = res.body as { id: string; state: string };
        process.stdout.write(`${a.id}: ${a.state}\n`);
      }),
    );
  }
}
