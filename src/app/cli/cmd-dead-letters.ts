/** `twinloop dead-letters`: rejected messages, newest first, with their reasons. */
import type { Command } from 'commander';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, withOutput, type CliKit } from './cli-kit.js';
import { printRows, type Row } from './output.js';

export function registerDeadLetters(program: Command, { run }: CliKit): void {
  withOutput(
    program
      .command('dead-letters')
      .description('list rejected messages, newest first, with their reasons')
      .option('--limit <n>', 'how many', '20'),
  ).action(
    run(async (o: { limit: string }, cmd: Command) => {
      const res = await new ApiClient(clientOptions(cmd)).request('GET', '/deadletters', {
        query: { limit: o.limit },
      });
      const body = res.body as { value: Row[]; total?: number };
      printRows(body.value, formatOf(cmd), { json: body, columns: DEAD_LETTER_COLUMNS });
      if (typeof body.total === 'number' && body.total > body.value.length)
        process.stderr.write(`${body.value.length} of ${body.total} (--limit N for more)\n`);
    }),
  );
}

const DEAD_LETTER_COLUMNS = [
  { key: 'time' },
  { key: 'source' },
  { key: 'topic' },
  { key: 'code' },
  { key: 'reason' },
  { key: 'payload' },
];
