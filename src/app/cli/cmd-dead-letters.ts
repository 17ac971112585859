/**
 * `twinloop dead-letters`: rejected messages, newest first, with their reasons; `dead-letters
 * reingest <id>` runs one through the ingest path again once its cause is fixed (at most once).
 */
import type { Command } from 'commander';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, withClient, withOutput, type CliKit } from './cli-kit.js';
import { printRows, type Row } from './output.js';

export function registerDeadLetters(program: Command, { run }: CliKit): void {
  const letters = program
    .command('dead-letters')
    .description('rejected messages: list them, re-ingest one once its cause is fixed');
  withOutput(
    letters
      .command('list', { isDefault: true })
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
  withClient(
    letters
      .command('reingest <id>')
      .description(
        'run a dead letter through the ingest path again (after creating its twin, fixing its model…); prints what happened',
      ),
  ).action(
    run(async (id: string, _o: unknown, cmd: Command) => {
      const res = await new ApiClient(clientOptions(cmd)).request(
        'POST',
        `/deadletters/${encodeURIComponent(id)}/reingest`,
      );
      process.stdout.write(reingestText(res.body as ReingestAnswer));
    }),
  );
}

interface ReingestAnswer {
  id: number;
  outcome: 'accepted' | 'rejected';
  readings?: number;
  deadLettered?: number;
  code?: string;
  reason?: string;
  problems?: { message: string; pointer?: string }[];
}

/** The answer of POST /deadletters/{id}/reingest as a line or a few. */
export function reingestText(a: ReingestAnswer): string {
  if (a.outcome === 'accepted')
    return `Dead letter ${a.id} re-ingested: ${a.readings ?? 0} reading(s) stored${a.deadLettered ? `, ${a.deadLettered} value(s) dead-lettered again` : ''}.\n`;
  const lines = [`Dead letter ${a.id} rejected again (kept as a new dead letter): ${a.code}: ${a.reason}`];
  for (const p of a.problems ?? []) lines.push(`  ${p.pointer ? `${p.pointer}: ` : ''}${p.message}`);
  return lines.join('\n') + '\n';
}

const DEAD_LETTER_COLUMNS = [
  { key: 'id' },
  { key: 'time' },
  { key: 'source' },
  { key: 'topic' },
  { key: 'code' },
  { key: 'reason' },
  { key: 'payload' },
];
