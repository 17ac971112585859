/**
 * `twinloop jobs import|list|show|cancel|log|delete|delete-all`: ADT's import and delete jobs
 * (docs/import-jobs.md). `import <file>` streams the file to the server (PUT /jobs/imports/{id}/input),
 * creates the job and, with --wait, follows its progress to the end.
 */
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { ApiClient, ApiError } from './api-client.js';
import { clientOptions, formatOf, withClient, withOutput, type CliKit } from './cli-kit.js';
import { printRows, type Row } from './output.js';

interface JobJson {
  id: string;
  status: string;
  error?: { code: string; message: string };
  progress?: Record<string, unknown>;
}

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

async function follow(client: ApiClient, kind: 'imports' | 'deletions', id: string): Promise<JobJson> {
  let last = '';
  for (;;) {
    const job = (await client.request('GET', `/jobs/${kind}/${encodeURIComponent(id)}`)).body as JobJson;
    const p = job.progress ?? {};
    const line =
      kind === 'imports'
        ? `${job.status}: ${String(p.twins ?? 0)} twins, ${String(p.relationships ?? 0)} relationships, ${String(p.errors ?? 0)} errors`
        : `${job.status}: ${String(p.relationships ?? 0)} relationships, ${String(p.twins ?? 0)} twins, ${String(p.models ?? 0)} models deleted`;
    if (line !== last) process.stdout.write(`${line}\n`);
    last = line;
    if (FINISHED.has(job.status)) {
      if (job.error) process.stdout.write(`error ${job.error.code}: ${job.error.message}\n`);
      if (job.status !== 'succeeded') process.exitCode = 1;
      return job;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export function registerJobs(program: Command, { run }: CliKit): void {
  const jobs = program.command('jobs').description('ADT import jobs and delete jobs');

  withClient(
    jobs
      .command('import <file>')
      .description('upload an ADT import file (NDJSON) and start an import job')
      .option('--id <id>', 'job id (default: the file name and the time)')
      .option('--wait', 'follow the job until it ends'),
  ).action(
    run(async (file: string, o: { id?: string; wait?: boolean }, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      const id = o.id ?? `${path.basename(file).replace(/[^\w.-]+/g, '_')}-${Date.now()}`;
      const size = statSync(file).size;
      const res = await fetch(client.url(`/jobs/imports/${encodeURIComponent(id)}/input`), {
        method: 'PUT',
        headers: {
          'content-type': 'application/x-ndjson',
          ...(client.token ? { authorization: `Bearer ${client.token}` } : {}),
        },
        body: createReadStream(file) as unknown as ReadableStream,
        duplex: 'half',
      } as RequestInit);
      const body = (await res.json().catch(() => ({}))) as {
        inputBlobUri?: string;
        error?: { code: string; message: string };
      };
      if (!res.ok || !body.inputBlobUri) {
        throw new ApiError(
          res.status,
          body.error?.code ?? String(res.status),
          body.error?.message ?? 'upload failed',
          body,
        );
      }
      await client.request('PUT', `/jobs/imports/${encodeURIComponent(id)}`, {
        body: { inputBlobUri: body.inputBlobUri, outputBlobUri: `twinloop:jobs/${id}.log` },
      });
      process.stdout.write(`import job ${id} created (${size} bytes uploaded)\n`);
      if (o.wait) await follow(client, 'imports', id);
    }),
  );

  withOutput(
    jobs
      .command('list')
      .description('list jobs')
      .option('--delete-jobs', 'list delete jobs instead of imports'),
  ).action(
    run(async (o: { deleteJobs?: boolean }, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      const res = await client.request('GET', `/jobs/${o.deleteJobs ? 'deletions' : 'imports'}`);
      printRows((res.body as { value: Row[] }).value, formatOf(cmd), {
        columns: [{ key: 'id' }, { key: 'status' }, { key: 'createdDateTime' }, { key: 'finishedDateTime' }],
      });
    }),
  );

  withClient(jobs.command('show <id>').description('show an import job (--delete-job: a delete job)'))
    .option('--delete-job', 'the id is a delete job')
    .action(
      run(async (id: string, o: { deleteJob?: boolean }, cmd: Command) => {
        const client = new ApiClient(clientOptions(cmd));
        const res = await client.request(
          'GET',
          `/jobs/${o.deleteJob ? 'deletions' : 'imports'}/${encodeURIComponent(id)}`,
        );
        process.stdout.write(`${JSON.stringify(res.body, null, 2)}\n`);
      }),
    );

  withClient(jobs.command('cancel <id>').description('cancel an import job')).action(
    run(async (id: string, _o: unknown, cmd: Command) => {
      const res = await new ApiClient(clientOptions(cmd)).request(
        'POST',
        `/jobs/imports/${encodeURIComponent(id)}/cancel`,
      );
      process.stdout.write(`${(res.body as JobJson).status}\n`);
    }),
  );

  withClient(jobs.command('log <id>').description("print an import job's output log (NDJSON)")).action(
    run(async (id: string, _o: unknown, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      const res = await fetch(client.url(`/jobs/imports/${encodeURIComponent(id)}/output`), {
        headers: client.token ? { authorization: `Bearer ${client.token}` } : {},
      });
      if (!res.ok) throw new ApiError(res.status, String(res.status), await res.text(), undefined);
      process.stdout.write(await res.text());
    }),
  );

  withClient(jobs.command('delete <id>').description('forget a finished import job')).action(
    run(async (id: string, _o: unknown, cmd: Command) => {
      await new ApiClient(clientOptions(cmd)).request('DELETE', `/jobs/imports/${encodeURIComponent(id)}`);
      process.stdout.write(`deleted ${id}\n`);
    }),
  );

  withClient(
    jobs
      .command('delete-all')
      .description('start a delete job: every relationship, twin and model goes')
      .option('--yes', 'confirm')
      .option('--wait', 'follow the job until it ends'),
  ).action(
    run(async (o: { yes?: boolean; wait?: boolean }, cmd: Command) => {
      if (!o.yes) {
        process.stderr.write('This deletes every relationship, twin and model. Add --yes to go on.\n');
        process.exitCode = 2;
        return;
      }
      const client = new ApiClient(clientOptions(cmd));
      const job = (await client.request('POST', '/jobs/deletions')).body as JobJson;
      process.stdout.write(`delete job ${job.id} started\n`);
      if (o.wait) await follow(client, 'deletions', job.id);
    }),
  );
}
