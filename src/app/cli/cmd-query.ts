/** `twinloop query`: the ADT query language (MATCH with any number of hops), every page by default. */
import type { Command } from 'commander';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, withOutput, type CliKit } from './cli-kit.js';
import { telemetryPathHints } from '../../core/query/query-hints.js';
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
      // Nothing found (or only empty rows): a plain path may name a telemetry. The answer stays
      // ADT's; a hint on stderr names the $telemetry form.
      if (rows.every((r) => Object.keys(r).length === 0)) {
        for (const hint of telemetryPathHints(text, await telemetryNames(client))) {
          process.stderr.write(`hint: ${hint}\n`);
        }
      }
    }),
  );
}

/** Telemetry names declared by the workspace's models (first page of GET /models); none when unreadable. */
async function telemetryNames(client: ApiClient): Promise<Set<string>> {
  const names = new Set<string>();
  try {
    const res = await client.request('GET', '/models', { query: { includeModelDefinition: 'true' } });
    const models = (res.body as { value?: { model?: { contents?: unknown } }[] }).value ?? [];
    for (const m of models) {
      const contents = m.model?.contents;
      if (!Array.isArray(contents)) continue;
      for (const c of contents as { '@type'?: unknown; name?: unknown }[]) {
        const types = Array.isArray(c?.['@type']) ? c['@type'] : [c?.['@type']];
        if (types.includes('Telemetry') && typeof c.name === 'string') names.add(c.name);
      }
    }
  } catch {
    // a hint is a courtesy: without the models, there is none
  }
  return names;
}
