/** `twinloop twins get|create|patch|delete|relationships|relate`: twins and their relationships. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, withClient, withOutput, type CliKit } from './cli-kit.js';
import { printObject, printRows, type Row } from './output.js';

export function registerTwins(program: Command, { run }: CliKit): void {
  const twins = program.command('twins').description('digital twins and relationships');
  const twinPath = (id: string) => `/digitaltwins/${encodeURIComponent(id)}`;

  withOutput(twins.command('get <id>').description('show a twin')).action(
    run(async (id: string, _o: unknown, cmd: Command) => {
      const res = await new ApiClient(clientOptions(cmd)).request('GET', twinPath(id));
      printObject(res.body, formatOf(cmd));
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
      const res = await new ApiClient(clientOptions(cmd)).request('PUT', twinPath(id), { body });
      const model = (res.body as { $metadata?: { $model?: string } }).$metadata?.$model;
      process.stdout.write(`created ${id}${model ? ` (${model})` : ''}\n`);
    }),
  );

  withClient(
    twins
      .command('patch <id> <jsonPatch>')
      .description('apply a JSON Patch, e.g. \'[{"op":"replace","path":"/flowSetpoint","value":40}]\''),
  ).action(
    run(async (id: string, patch: string, _o: unknown, cmd: Command) => {
      await new ApiClient(clientOptions(cmd)).request('PATCH', twinPath(id), {
        body: JSON.parse(patch) as unknown,
        contentType: 'application/json-patch+json',
      });
      process.stdout.write(`updated ${id}\n`);
    }),
  );

  withClient(twins.command('delete <id>').description('delete a twin (its relationships first)')).action(
    run(async (id: string, _o: unknown, cmd: Command) => {
      await new ApiClient(clientOptions(cmd)).request('DELETE', twinPath(id));
      process.stdout.write(`deleted ${id}\n`);
    }),
  );

  withOutput(
    twins
      .command('relationships <id>')
      .description("list a twin's outgoing relationships")
      .option('--incoming', 'incoming instead'),
  ).action(
    run(async (id: string, o: { incoming?: boolean }, cmd: Command) => {
      const p = `${twinPath(id)}/${o.incoming ? 'incomingrelationships' : 'relationships'}`;
      const body = (await new ApiClient(clientOptions(cmd)).request('GET', p)).body as { value: Row[] };
      printRows(body.value, formatOf(cmd), { json: body });
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
      await new ApiClient(clientOptions(cmd)).request(
        'PUT',
        `${twinPath(source)}/relationships/${encodeURIComponent(relId)}`,
        { body },
      );
      process.stdout.write(`related ${source} -[${name}]-> ${target} (relationship ${relId})\n`);
    }),
  );
}
