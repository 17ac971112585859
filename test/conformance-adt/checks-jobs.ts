/**
 * Import jobs (ImportJobs_*) and delete jobs (DeleteJobs_*), raw REST only: the JS SDK 1.1.0 has no
 * job methods. The import file is ADT's NDJSON (learn:concepts-apis-sdks#bulk-import-with-the-import-jobs-api):
 * a Header section, then Models, Twins and Relationships sections. The runner serves it from a local
 * "blob" URL, as ADT reads it from a storage blob.
 */
import type { Check, CheckContext, RestResponse } from './harness.js';
import { expectEq, expectError, expectStatus, expectTrue, p, waitFor } from './harness.js';

const IMP_MODEL = 'dtmi:conf:imp:Thing;1';
const IMPORT_STATUSES = ['notstarted', 'running', 'failed', 'succeeded', 'cancelling', 'cancelled'];
const DELETE_STATUSES = ['notstarted', 'running', 'failed', 'succeeded'];

/** ADT's import file: one JSON document a line, sections introduced by {"Section": ...}. */
export function importFile(twins: number, prefix = 'imp'): string {
  const lines: unknown[] = [
    { Section: 'Header' },
    { fileVersion: '1.0.0', author: 'twinloop-conformance', organization: 'twinloop' },
    { Section: 'Models' },
    {
      '@id': IMP_MODEL,
      '@type': 'Interface',
      '@context': 'dtmi:dtdl:context;3',
      contents: [
        { '@type': 'Property', name: 'n', schema: 'integer' },
        { '@type': 'Relationship', name: 'next' },
      ],
    },
    { Section: 'Twins' },
  ];
  for (let i = 0; i < twins; i++)
    lines.push({ $dtId: `${prefix}-${i}`, $metadata: { $model: IMP_MODEL }, n: i });
  lines.push({ Section: 'Relationships' });
  for (let i = 0; i + 1 < twins; i++)
    lines.push({
      $dtId: `${prefix}-${i}`,
      $relationshipId: `r${i}`,
      $targetId: `${prefix}-${i + 1}`,
      $relationshipName: 'next',
    });
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

type Job = { id?: string; status?: string; createdDateTime?: string; error?: unknown };
const job = (r: RestResponse): Job => (r.body ?? {}) as Job;

async function finished(
  ctx: CheckContext,
  id: string,
  kind: 'imports' | 'deletions',
  ms = 30_000,
): Promise<Job> {
  const done = kind === 'imports' ? ['succeeded', 'failed', 'cancelled'] : ['succeeded', 'failed'];
  const res = await waitFor(
    `job ${id} to finish`,
    () => ctx.rest.get(p`/jobs/${kind}/${id}`),
    (r) => r.status !== 200 || done.includes(String(job(r).status)),
    ms,
  );
  expectStatus(res, 200);
  return job(res);
}

/** The job imp-1 of 5 twins and 4 relationships, created and finished once. */
async function importedOnce(ctx: CheckContext): Promise<void> {
  await ctx.once('import-1', async () => {
    const uris = await ctx.blob('import-1.ndjson', importFile(5));
    const res = await ctx.rest.put(p`/jobs/imports/${'imp-1'}`, {
      inputBlobUri: uris.inputUri,
      outputBlobUri: uris.outputUri,
    });
    expectStatus(res, 201);
    await finished(ctx, 'imp-1', 'imports');
  });
}

const imp = (name: string, source: string, run: Check['run']): Check => ({
  area: 'import-jobs',
  via: 'rest',
  name,
  source,
  run,
});

export const importJobChecks: Check[] = [
  imp(
    'create: 201 with id, a documented status and createdDateTime',
    'spec:ImportJobs_Add; definitions/ImportJob',
    async (ctx) => {
      const uris = await ctx.blob('import-0.ndjson', importFile(3, 'imp0'));
      const res = await ctx.rest.put(p`/jobs/imports/${'imp-0'}`, {
        inputBlobUri: uris.inputUri,
        outputBlobUri: uris.outputUri,
      });
      expectStatus(res, 201);
      const j = job(res);
      expectEq('id', 'imp-0', j.id);
      expectTrue(
        'status is one of the documented ones',
        IMPORT_STATUSES.includes(String(j.status)),
        j.status,
      );
      expectTrue(
        'createdDateTime is a date-time',
        !Number.isNaN(Date.parse(String(j.createdDateTime))),
        j.createdDateTime,
      );
    },
  ),
  imp(
    'the job succeeds and its models, twins and relationships are there',
    'spec:ImportJobs_GetById; learn:concepts-apis-sdks#bulk-import-with-the-import-jobs-api',
    async (ctx) => {
      await importedOnce(ctx);
      expectEq('status', 'succeeded', job(await ctx.rest.get(p`/jobs/imports/${'imp-1'}`)).status);
      expectStatus(await ctx.rest.get(p`/models/${IMP_MODEL}`), 200);
      const twin = await ctx.rest.get(p`/digitaltwins/${'imp-4'}`);
      expectStatus(twin, 200);
      expectEq('n', 4, (twin.body as { n?: number }).n);
      const rel = await ctx.rest.get(p`/digitaltwins/${'imp-0'}/relationships/${'r0'}`);
      expectStatus(rel, 200);
      expectEq('$targetId', 'imp-1', (rel.body as { $targetId?: string }).$targetId);
    },
  ),
  imp('list: value holds the jobs', 'spec:ImportJobs_List; example ImportJobList', async (ctx) => {
    await importedOnce(ctx);
    const res = await ctx.rest.get('/jobs/imports');
    expectStatus(res, 200);
    const ids = ((res.body as { value?: Job[] })?.value ?? []).map((j) => j.id);
    expectTrue('value holds imp-1', ids.includes('imp-1'), ids);
  }),
  imp(
    'an id already in use: 400',
    'spec:ImportJobs_Add (201 or 400); ImportJobs_Delete ("remove a job id, so it may be reused")',
    async (ctx) => {
      await importedOnce(ctx);
      const uris = await ctx.blob('import-1b.ndjson', importFile(1, 'imp1b'));
      const res = await ctx.rest.put(p`/jobs/imports/${'imp-1'}`, {
        inputBlobUri: uris.inputUri,
        outputBlobUri: uris.outputUri,
      });
      expectStatus(res, 400);
    },
  ),
  imp(
    'without inputBlobUri: 400 ValidationFailed',
    'spec:ImportJobs_Add (400 ValidationFailed); ImportJob.required',
    async (ctx) => {
      expectError(
        await ctx.rest.put(p`/jobs/imports/${'imp-bad'}`, { outputBlobUri: 'x' }),
        400,
        'ValidationFailed',
      );
    },
  ),
  imp(
    'cancel a running job: 200 with the job; it ends cancelled (a job that already succeeded: 400 ValidationFailed)',
    'spec:ImportJobs_Cancel; example ImportJobCancel',
    async (ctx) => {
      const uris = await ctx.blob('import-big.ndjson', importFile(20_000, 'big'));
      expectStatus(
        await ctx.rest.put(p`/jobs/imports/${'imp-big'}`, {
          inputBlobUri: uris.inputUri,
          outputBlobUri: uris.outputUri,
        }),
        201,
      );
      const res = await ctx.rest.post(p`/jobs/imports/${'imp-big'}/cancel`, undefined);
      if (res.status === 400) {
        // Only a running job can be cancelled: a job that finished first is refused (ValidationFailed).
        expectError(res, 400, 'ValidationFailed');
        expectEq(
          'status of the finished job',
          'succeeded',
          job(await ctx.rest.get(p`/jobs/imports/${'imp-big'}`)).status,
        );
        return;
      }
      expectStatus(res, 200);
      expectTrue(
        'status cancelling, cancelled or succeeded',
        ['cancelling', 'cancelled', 'succeeded'].includes(String(job(res).status)),
        job(res).status,
      );
      const end = await finished(ctx, 'imp-big', 'imports', 60_000);
      expectTrue(
        'ends cancelled or succeeded',
        ['cancelled', 'succeeded'].includes(String(end.status)),
        end.status,
      );
    },
  ),
  imp(
    'delete a job: 204; then 404 ImportJobNotFound',
    'spec:ImportJobs_Delete; ImportJobs_GetById (404 ImportJobNotFound)',
    async (ctx) => {
      const uris = await ctx.blob('import-del.ndjson', importFile(1, 'impdel'));
      expectStatus(
        await ctx.rest.put(p`/jobs/imports/${'imp-del'}`, {
          inputBlobUri: uris.inputUri,
          outputBlobUri: uris.outputUri,
        }),
        201,
      );
      await finished(ctx, 'imp-del', 'imports');
      expectStatus(await ctx.rest.delete(p`/jobs/imports/${'imp-del'}`), 204);
      expectError(await ctx.rest.get(p`/jobs/imports/${'imp-del'}`), 404, 'ImportJobNotFound');
    },
  ),
];

const del = (name: string, source: string, run: Check['run']): Check => ({
  area: 'delete-jobs',
  via: 'rest',
  name,
  source,
  run,
});

/** Runs last: it empties the instance. */
export const deleteJobChecks: Check[] = [
  del(
    'get a missing delete job: 404 DeleteJobNotFound',
    'spec:DeleteJobs_GetById (404 DeleteJobNotFound)',
    async (ctx) => {
      expectError(await ctx.rest.get(p`/jobs/deletions/${'no-such-job'}`), 404, 'DeleteJobNotFound');
    },
  ),
  del(
    'create with operation-id: 202, Operation-Location, body id and status',
    'spec:DeleteJobs_Add (202, Operation-Location, operation-id header); example DeleteJobPost',
    async (ctx) => {
      const res = await ctx.rest.post('/jobs/deletions', undefined, {
        headers: { 'operation-id': 'del-1' },
        query: { timeoutInMinutes: 10 },
      });
      expectStatus(res, 202);
      const loc = res.headers.get('operation-location');
      expectTrue(
        'Operation-Location names /jobs/deletions/del-1',
        !!loc && loc.includes('/jobs/deletions/del-1'),
        loc,
      );
      expectEq('id', 'del-1', job(res).id);
      expectTrue(
        'status is one of the documented ones',
        DELETE_STATUSES.includes(String(job(res).status)),
        job(res).status,
      );
    },
  ),
  del(
    'the job succeeds and the instance has no twins, relationships or models left',
    'spec:DeleteJobs_Add ("deletes all models, twins, and relationships")',
    async (ctx) => {
      const end = await finished(ctx, 'del-1', 'deletions', 60_000);
      expectEq('status', 'succeeded', end.status);
      const twins = await ctx.rest.post('/query', { query: 'SELECT COUNT() FROM DIGITALTWINS' });
      expectEq('twin count', [{ COUNT: 0 }], (twins.body as { value?: unknown })?.value);
      const models = await ctx.rest.get('/models');
      expectEq('models', [], (models.body as { value?: unknown })?.value);
    },
  ),
  del('list: value holds the job', 'spec:DeleteJobs_List', async (ctx) => {
    const res = await ctx.rest.get('/jobs/deletions');
    expectStatus(res, 200);
    const ids = ((res.body as { value?: Job[] })?.value ?? []).map((j) => j.id);
    expectTrue('value holds del-1', ids.includes('del-1'), ids);
  }),
];
