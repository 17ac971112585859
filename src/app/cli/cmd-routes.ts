/**
 * `twinloop routes …`: event routes, endpoints and their dead letters through the running server's
 * API (docs/event-routes.md):
 *   routes list | set <id> <endpoint> <filter> | delete <id>
 *   routes endpoints | dead-letters <endpoint> | replay <endpoint> [--id N ...] | purge <endpoint> [--id N ...]
 */
import type { Command } from 'commander';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, withClient, withOutput, type RegisterCommands } from './cli-kit.js';
import { printRows, type Row } from './output.js';

const enc = encodeURIComponent;

function ids(v: string, prev: number[] = []): number[] {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`--id takes a dead letter id (a whole number), not '${v}'`);
  return [...prev, n];
}

export const registerRoutes: RegisterCommands = (program, { run }) => {
  const routes = program.command('routes').description('event routes, endpoints and their dead letters');
  const client = (cmd: Command) => new ApiClient(clientOptions(cmd));

  withOutput(routes.command('list').description('list event routes')).action(
    run(async (_o: unknown, cmd: Command) => {
      const rows: Row[] = [];
      let token: string | undefined;
      do {
        const res = await client(cmd).request('GET', '/eventroutes', { query: { continuationToken: token } });
        const body = res.body as { value: Row[]; nextLink?: string };
        rows.push(...body.value);
        token = body.nextLink
          ? (new URL(body.nextLink).searchParams.get('continuationToken') ?? undefined)
          : undefined;
      } while (token);
      printRows(rows, formatOf(cmd), {
        columns: [{ key: 'id' }, { key: 'endpointName' }, { key: 'filter' }],
      });
    }),
  );

  withClient(
    routes
      .command('set <id> <endpoint> <filter>')
      .description("add or replace a route (filter in ADT's syntax, 'true' for all)"),
  ).action(
    run(async (id: string, endpoint: string, filter: string, _o: unknown, cmd: Command) => {
      await client(cmd).request('PUT', `/eventroutes/${enc(id)}`, {
        body: { endpointName: endpoint, filter },
      });
      process.stdout.write(`event route ${id} → ${endpoint}\n`);
    }),
  );

  withClient(routes.command('delete <id>').description('delete a route')).action(
    run(async (id: string, _o: unknown, cmd: Command) => {
      await client(cmd).request('DELETE', `/eventroutes/${enc(id)}`);
      process.stdout.write(`deleted event route ${id}\n`);
    }),
  );

  withOutput(routes.command('endpoints').description('list endpoints with their delivery status')).action(
    run(async (_o: unknown, cmd: Command) => {
      const res = await client(cmd).request('GET', '/endpoints');
      const body = res.body as { value: (Row & { status: Row })[] };
      printRows(
        body.value.map((e) => ({
          name: e.name,
          type: e.type,
          to: e.url ?? e.topic ?? e.subject,
          ...e.status,
        })),
        formatOf(cmd),
        {
          json: body,
          columns: [
            { key: 'name' },
            { key: 'type' },
            { key: 'to' },
            { key: 'pending' },
            { key: 'deadLetters' },
            { key: 'down' },
            { key: 'lastError' },
          ],
        },
      );
    }),
  );

  withOutput(
    routes
      .command('dead-letters <endpoint>')
      .description('events the endpoint would not take before its limit, newest first')
      .option('--limit <n>', 'how many', '20'),
  ).action(
    run(async (endpoint: string, o: { limit: string }, cmd: Command) => {
      const res = await client(cmd).request('GET', `/endpoints/${enc(endpoint)}/deadletters`, {
        query: { limit: o.limit },
      });
      const body = res.body as { value: (Row & { event: Row })[]; total: number };
      printRows(
        body.value.map((d) => ({
          id: d.id,
          twin: d.twinId,
          type: d.event.type,
          committed: d.committed,
          attempts: d.attempts,
          reason: d.reason,
        })),
        formatOf(cmd),
        { json: body },
      );
      if (body.total > body.value.length)
        process.stderr.write(`${body.value.length} of ${body.total} (--limit N for more)\n`);
    }),
  );

  for (const [verb, what] of [
    ['replay', 'send dead letters again, in their original order'],
    ['purge', 'delete dead letters'],
  ] as const)
    withClient(
      routes
        .command(`${verb} <endpoint>`)
        .description(`${what} (all of the endpoint, or --id N ...)`)
        .option('--id <n>', 'only this dead letter (repeatable)', ids),
    ).action(
      run(async (endpoint: string, o: { id?: number[] }, cmd: Command) => {
        const res = await client(cmd).request('POST', `/endpoints/${enc(endpoint)}/deadletters/${verb}`, {
          body: o.id ? { ids: o.id } : {},
        });
        const b = res.body as { replayed?: number; deleted?: number };
        process.stdout.write(
          verb === 'replay'
            ? `replayed ${b.replayed} event(s) to ${endpoint}\n`
            : `deleted ${b.deleted} dead letter(s) of ${endpoint}\n`,
        );
      }),
    );
};
