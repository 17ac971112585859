/** `twinloop query`: the ADT query language (MATCH with any number of hops), every page by default. */
import type { Command } from 'commander';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, withOutput, type CliKit } from './cli-kit.js';
import { printRows, type Row } from './output.js';

export function registerQuery(program: Command, { run }: CliKit): void {
  withOutput(
    program
      .command('query <text>')
      .description(
        'run a query (ADT query language, MATCH with any number of hops; latest telemetry: T.$telemetry.<name>)',
      )
      .option('--page-size <n>', 'rows per page')
      .option('--first-page', 'print only the first page'),
  ).action(
    run(async (text: string, o: { pageSize?: string; firstPage?: boolean }, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      let token: string | undefined;
      const rows: Row[] = [];
      do {
        const res = await client.request('POST', '/query', {
          body: { query: text, ...(token ? { continuationToken: token } : {}) },
          headers: o.pageSize ? { 'max-items-per-page': o.pageSize } : {},
        });
        const page = res.body as { value: Row[]; continuationToken?: string | null };
        rows.push(...page.value);
        token = page.continuationToken ?? undefined;
      } while (token && !o.firstPage);
      printRows(rows, formatOf(cmd));
      process.stderr.write(`${rows.length} row(s)\n`);
    }),
  );
}
