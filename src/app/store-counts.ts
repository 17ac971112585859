/**
 * What a store holds, counted per kind through the storage ports: the totals of a migration and its
 * check at the end (store-migration.ts), and whether a target is empty. No adapter is imported here.
 */
import type { JobKind } from '../core/jobs/job-state.js';
import type { Storage } from '../core/ports/storage.js';

/** What the migration copies and counts, in the order it copies them. */
export const MIGRATION_KINDS = [
  'models',
  'twins',
  'relationships',
  'behaviourParameters',
  'calibrations',
  'deviceCredentials',
  'jobs',
  'eventEndpoints',
  'eventRoutes',
  'routeDeadLetters',
  'outboxPending',
  'deadLetters',
  'commands',
  'mlModels',
  'mlActivations',
  'historySeries',
  'historyPoints',
] as const;
export type MigrationKind = (typeof MIGRATION_KINDS)[number];

/** Readable names of the kinds, for the progress and the count table. */
export const KIND_LABELS: Readonly<Record<MigrationKind, string>> = {
  models: 'models',
  twins: 'twins',
  relationships: 'relationships',
  behaviourParameters: 'behaviour parameters',
  calibrations: 'calibrations',
  deviceCredentials: 'device credentials',
  jobs: 'jobs',
  eventEndpoints: 'event endpoints',
  eventRoutes: 'event routes',
  routeDeadLetters: 'route dead letters',
  outboxPending: 'pending outbox deliveries',
  deadLetters: 'dead letters',
  commands: 'commands',
  mlModels: 'ML models',
  mlActivations: 'ML model activations',
  historySeries: 'history series',
  historyPoints: 'history points',
};

export type StoreCounts = Record<MigrationKind, number>;

/** Timestamps a raw read spans: the whole range of a JS Date, in two buckets of equal width for counts. */
export const TS_MIN = -8.64e15;
export const TS_MAX = 8.64e15;
export const JOB_KINDS: readonly JobKind[] = ['import', 'delete'];

/** The first items of an async iterable (then stops it). */
async function take<T>(it: AsyncIterable<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  if (n <= 0) return out;
  for await (const x of it) {
    out.push(x);
    if (out.length >= n) break;
  }
  return out;
}

/** Commands of a workspace, counted a page at a time (newest first, by seq). */
async function countCommands(s: Storage, workspace: string): Promise<number> {
  let n = 0;
  let beforeSeq: number | undefined;
  for (;;) {
    const page = await s.commands.list({
      workspace,
      limit: 1000,
      ...(beforeSeq !== undefined ? { beforeSeq } : {}),
    });
    n += page.length;
    const last = page[page.length - 1];
    if (!last) return n;
    beforeSeq = last.seq;
  }
}

/** ML models (or activation log lines) of a workspace, counted a page at a time (newest first). */
async function countMl(s: Storage, workspace: string, what: 'models' | 'activations'): Promise<number> {
  let n = 0;
  let beforeSeq: number | undefined;
  for (;;) {
    const q = { workspace, limit: 1000, ...(beforeSeq !== undefined ? { beforeSeq } : {}) };
    const page = what === 'models' ? await s.mlModels.list(q) : await s.mlModels.activations(q);
    n += page.length;
    const last = page[page.length - 1];
    if (!last) return n;
    beforeSeq = last.seq;
  }
}

async function countIter(it: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of it) n++;
  return n;
}

/** Points of one series, counted by the store (one aggregate, no rows read into memory). */
async function countPoints(s: Storage, workspace: string, twinId: string, path: string): Promise<number> {
  const buckets = await s.history.queryAggregate({
    workspace,
    twinId,
    path,
    from: TS_MIN,
    to: TS_MAX,
    interval: TS_MAX,
    fns: ['count'],
  });
  return buckets.reduce((n, b) => n + b.count, 0);
}

/**
 * Counts every kind the migration copies, in the given workspaces (jobs, routes, endpoints and
 * outbox rows belong to no workspace: all of them).
 * @throws StorageError
 */
export async function countStore(
  s: Storage,
  workspaces: readonly string[] = ['default'],
): Promise<StoreCounts> {
  const c: StoreCounts = Object.fromEntries(MIGRATION_KINDS.map((k) => [k, 0])) as StoreCounts;
  for (const ws of workspaces) {
    c.models += (await s.models.list(ws)).length;
    const twinIds: string[] = [];
    for await (const t of s.twins.loadTwins(ws)) twinIds.push(t.id);
    c.twins += twinIds.length;
    c.relationships += await countIter(s.twins.loadRelationships(ws));
    c.behaviourParameters += (await s.behaviour.listParameters(ws)).length;
    for (const id of twinIds)
      c.calibrations += (await s.behaviour.listCalibrations(ws, id, 1_000_000)).length;
    c.deviceCredentials += (await s.credentials.list(ws)).length;
    c.deadLetters += await s.deadLetters.count(ws);
    c.commands += await countCommands(s, ws);
    c.mlModels += await countMl(s, ws, 'models');
    c.mlActivations += await countMl(s, ws, 'activations');
    const series = await s.history.listSeries(ws);
    c.historySeries += series.length;
    for (const x of series) c.historyPoints += await countPoints(s, ws, x.twinId, x.path);
  }
  for (const k of JOB_KINDS) c.jobs += await s.jobs.count(k);
  c.eventEndpoints = (await s.eventRoutes.listEndpoints()).length;
  c.eventRoutes = (await s.eventRoutes.listRoutes()).length;
  c.routeDeadLetters = await s.outbox.countDeadLetters();
  for (const b of (await s.outbox.backlog()).values()) c.outboxPending += b.count;
  return c;
}

/**
 * What the target already holds that the migration would write (empty when it holds nothing).
 * A migration goes only into an empty store: merging two histories or two graphs is not a copy.
 */
export async function nonEmptyKinds(
  s: Storage,
  workspaces: readonly string[] = ['default'],
): Promise<string[]> {
  const found = new Set<MigrationKind>();
  for (const ws of workspaces) {
    if ((await s.models.list(ws)).length) found.add('models');
    if ((await take(s.twins.loadTwins(ws), 1)).length) found.add('twins');
    if ((await take(s.twins.loadRelationships(ws), 1)).length) found.add('relationships');
    if ((await s.history.listSeries(ws)).length) found.add('historySeries');
    if ((await s.credentials.list(ws)).length) found.add('deviceCredentials');
    if ((await s.behaviour.listParameters(ws)).length) found.add('behaviourParameters');
    if (await s.deadLetters.count(ws)) found.add('deadLetters');
    if ((await s.commands.list({ workspace: ws, limit: 1 })).length) found.add('commands');
    if ((await s.mlModels.list({ workspace: ws, limit: 1 })).length) found.add('mlModels');
    if ((await s.mlModels.activations({ workspace: ws, limit: 1 })).length) found.add('mlActivations');
  }
  for (const k of JOB_KINDS) if (await s.jobs.count(k)) found.add('jobs');
  if ((await s.eventRoutes.listEndpoints()).length) found.add('eventEndpoints');
  if ((await s.eventRoutes.listRoutes()).length) found.add('eventRoutes');
  if (await s.outbox.countDeadLetters()) found.add('routeDeadLetters');
  if ((await s.outbox.backlog()).size) found.add('outboxPending');
  return MIGRATION_KINDS.filter((k) => found.has(k)).map((k) => KIND_LABELS[k]);
}
