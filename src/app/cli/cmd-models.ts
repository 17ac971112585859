/** `twinloop models add|list|delete|validate`: DTDL v3 and v2 models (validate works offline). */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { formatProblem } from '../../core/errors/errors.js';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, jsonFiles, withClient, withOutput, type CliKit } from './cli-kit.js';
import { printRows, type Row } from './output.js';

export function registerModels(program: Command, { run }: CliKit): void {
  const models = program.command('models').description('DTDL v3 and v2 models');

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

  withOutput(
    models.command('list').description('list models').option('--definitions', 'include definitions'),
  ).action(
    run(async (o: { definitions?: boolean }, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      const res = await client.request('GET', '/models', {
        query: { includeModelDefinition: o.definitions ? 'true' : undefined },
      });
      const rows = (res.body as { value: Row[] }).value;
      printRows(rows, formatOf(cmd), {
        columns: o.definitions
          ? undefined
          : [{ key: 'id' }, { key: 'displayName' }, { key: 'uploadTime' }, { key: 'decommissioned' }],
      });
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
}
