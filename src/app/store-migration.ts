/**
 * Moving a Twinloop store to another one (`twinloop migrate-store`, docs/scaling.md "Moving a pilot
 * to PostgreSQL"): every kind of record is read from the source through the storage ports and
 * written to the target through the same ports, so the copy works between any two adapters (the
 * unit test runs it SQLite → SQLite, the service test SQLite → PostgreSQL). No adapter is imported
 * here: the caller opens both stores.
 *
 * Memory stays bounded: history is read one page per series at a time (ascending) and appended in
 * large batches with at most one batch in flight; twins, relationships, dead letters and outbox rows
 * go in chunks. Device credentials move with the digest of their secret, so a device's token still
 * authenticates after the move. Route dead letters go through the target's outbox (inserted, then
 * dead-lettered with their attempts, reason and time), the only way the port offers to write them.
 * Commands likewise: added (queued, oldest first, so a twin's commands keep their order) and moved
 * through the steps they took, each at its time, the last with the status, response and reason
 * (the target gives them seqs of its own). ML models keep their ids, versions, status and times
 * (imported as they are, one model with its artefact at a time: artefacts can be MBs), then their
 * activation log, oldest first, so a rollback on the target goes back as it would have on the source.
 *
 * At the end every kind is counted on both sides (`countStore`) and compared.
 */
import { TwinloopError } from '../core/errors/errors.js';
import type { JobKind, JobRecord } from '../core/jobs/job-state.js';
import type { CommandRecord, CommandTransition } from '../core/ports/command-store.js';
import type { OutboxRow } from '../core/ports/event-routing.js';
import type { MlActivation, MlModelRecord } from '../core/ports/ml-model-store.js';
import type { HistoryPoint, TwinStoreOp } from '../core/ports/storage-ports.js';
import type { Storage } from '../core/ports/storage.js';
import {
  JOB_KINDS,
  KIND_LABELS,
  MIGRATION_KINDS,
  TS_MAX,
  TS_MIN,
  countStore,
  nonEmptyKinds,
  type MigrationKind,
  type StoreCounts,
} from './store-counts.js';

/** Told as the copy goes: the kind being copied, how many of it are done, and how many there are. */
export interface MigrationProgress {
  kind: MigrationKind;
  done: number;
  total: number;
}

export interface MigrateStoreOptions {
  /** Workspaces to copy (default: ["default"], the only one a Twinloop process serves). */
  workspaces?: readonly string[];
  /** History points per append (default 50 000). */
  historyBatch?: number;
  /** Records per twin commit, dead-letter add or outbox insert (default 1000). */
  chunk?: number;
  onProgress?: (p: MigrationProgress) => void;
}

export interface CountCheckRow {
  kind: MigrationKind;
  source: number;
  target: number;
  equal: boolean;
}

export interface MigrationReport {
  /** The source counted before the copy (the copy's totals). */
  before: StoreCounts;
  rows: CountCheckRow[];
  /** True when every count of the target equals the source's. */
  ok: boolean;
  /** Wall time of the copy (without the counts), ms. */
  copyMs: number;
  /** Wall time of the history copy, ms (the bulk of a large store). */
  historyMs: number;
}

const PAGE = 10_000;

/** Ids of the dead letters of a workspace, oldest first (the letters are read a page at a time). */
async function deadLetterIds(s: Storage, workspace: string): Promise<number[]> {
  const ids: number[] = [];
  let beforeId: number | undefined;
  for (;;) {
    const page = await s.deadLetters.list({
      workspace,
      limit: 1000,
      ...(beforeId !== undefined ? { beforeId } : {}),
    });
    for (const l of page) if (l.id !== undefined) ids.push(l.id);
    const last = page[page.length - 1]?.id;
    if (page.length === 0 || last === undefined) break;
    beforeId = last;
  }
  return ids.reverse();
}

/** Seqs of the commands of a workspace, oldest first (the commands are read a page at a time). */
async function commandSeqs(s: Storage, workspace: string): Promise<number[]> {
  const seqs: number[] = [];
  let beforeSeq: number | undefined;
  for (;;) {
    const page = await s.commands.list({
      workspace,
      limit: 1000,
      ...(beforeSeq !== undefined ? { beforeSeq } : {}),
    });
    for (const c of page) seqs.push(c.seq);
    const last = page[page.length - 1];
    if (!last) break;
    beforeSeq = last.seq;
  }
  return seqs.reverse();
}

/**
 * Writes commands (oldest first) into the target: added as queued, then one round of transitions
 * per step after the first (distinct commands in each round), the last step with the status,
 * response and reason.
 */
async function copyCommands(target: Storage, records: readonly CommandRecord[]): Promise<void> {
  if (!records.length) return;
  await target.commands.add(
    records.map((c) => ({
      workspace: c.workspace,
      requestId: c.requestId,
      twinId: c.twinId,
      command: c.command,
      ...(c.request !== undefined ? { request: c.request } : {}),
      createdAt: c.createdAt,
      expiresAt: c.expiresAt,
      ...(c.requestedBy !== undefined ? { requestedBy: c.requestedBy } : {}),
    })),
  );
  const rounds = Math.max(...records.map((c) => c.steps.length));
  for (let k = 1; k < rounds; k++) {
    const moves: CommandTransition[] = [];
    for (const c of records) {
      const step = c.steps[k];
      if (!step) continue;
      const last = k === c.steps.length - 1;
      moves.push({
        workspace: c.workspace,
        requestId: c.requestId,
        from: [c.steps[k - 1]!.state],
        to: step.state,
        at: step.at,
        ...(last && c.status !== undefined ? { status: c.status } : {}),
        ...(last && c.response !== undefined ? { response: c.response } : {}),
        ...(last && c.reason !== undefined ? { reason: c.reason } : {}),
      });
    }
    const out = await target.commands.transition(moves);
    const missed = out.findIndex((r) => r === undefined);
    if (missed >= 0) {
      throw new TwinloopError(
        'StorageError',
        `the target did not take step ${k + 1} (${moves[missed]!.to}) of command '${moves[missed]!.requestId}'.`,
      );
    }
  }
}

/** Every ML model (without artefact) or activation log line of a workspace, oldest first. */
async function mlPages(
  s: Storage,
  workspace: string,
  what: 'models' | 'activations',
): Promise<(MlModelRecord | MlActivation)[]> {
  const out: (MlModelRecord | MlActivation)[] = [];
  let beforeSeq: number | undefined;
  for (;;) {
    const q = { workspace, limit: 1000, ...(beforeSeq !== undefined ? { beforeSeq } : {}) };
    const page = what === 'models' ? await s.mlModels.list(q) : await s.mlModels.activations(q);
    out.push(...page);
    const last = page[page.length - 1];
    if (!last) break;
    beforeSeq = last.seq;
  }
  return out.reverse();
}

async function routeDeadLetterIds(s: Storage): Promise<number[]> {
  const ids: number[] = [];
  let beforeId: number | undefined;
  for (;;) {
    const page = await s.outbox.listDeadLetters({
      limit: 1000,
      ...(beforeId !== undefined ? { beforeId } : {}),
    });
    for (const l of page) ids.push(l.id);
    const last = page[page.length - 1]?.id;
    if (page.length === 0 || last === undefined) break;
    beforeId = last;
  }
  return ids.reverse();
}

async function allJobs(
  s: Storage,
  kind: JobKind,
  visit: (jobs: JobRecord[]) => Promise<void>,
): Promise<void> {
  let after: { createdAt: number; id: string } | undefined;
  for (;;) {
    const page = await s.jobs.list(kind, { limit: 500, ...(after ? { after } : {}) });
    if (page.length === 0) return;
    await visit(page);
    const last = page[page.length - 1]!;
    after = { createdAt: last.createdAt, id: last.id };
  }
}

const PARTIAL =
  'The target now holds part of the copy: drop its schema (or pick another with ?schema=) before the next try; the source is unchanged.';

/** Wraps a failure with what was being copied, keeping its catalogue code. */
function during(what: string, e: unknown): never {
  if (e instanceof TwinloopError) {
    throw new TwinloopError(e.code, `While copying ${what}: ${e.message} ${PARTIAL}`, { cause: e });
  }
  throw new TwinloopError('StorageError', `While copying ${what}: ${(e as Error).message} ${PARTIAL}`, {
    cause: e,
  });
}

/**
 * Copies everything the source holds into the target (which must be empty: see nonEmptyKinds),
 * then counts both and compares.
 * @throws Conflict when the target is not empty (nothing written); the error of the store that
 *   failed otherwise (its message says what was being copied; the target then holds part of the copy).
 * @example
 *   const report = await migrateStore(sqlite, pg, { onProgress: (p) => bar.update(p) });
 *   if (!report.ok) process.exitCode = 1;
 */
export async function migrateStore(
  source: Storage,
  target: Storage,
  options: MigrateStoreOptions = {},
): Promise<MigrationReport> {
  const workspaces = options.workspaces ?? ['default'];
  const batch = Math.max(1, options.historyBatch ?? 50_000);
  const chunk = Math.max(1, options.chunk ?? 1000);
  const taken = await nonEmptyKinds(target, workspaces);
  if (taken.length) {
    throw new TwinloopError(
      'Conflict',
      `The target ${target.where} is not empty (it holds ${taken.join(', ')}). A store is moved into an empty one only: pick a new schema, e.g. postgres://…/db?schema=pilot2.`,
    );
  }
  const before = await countStore(source, workspaces);
  const done: StoreCounts = Object.fromEntries(MIGRATION_KINDS.map((k) => [k, 0])) as StoreCounts;
  const tell = (kind: MigrationKind, n: number): void => {
    done[kind] += n;
    options.onProgress?.({ kind, done: done[kind], total: before[kind] });
  };
  const started = Date.now();

  for (const ws of workspaces) {
    // ---- models, in upload order (decommissioned flags and upload times as they are)
    const models = await source.models.list(ws);
    try {
      if (models.length) await target.models.insert(models);
    } catch (e) {
      during('models', e);
    }
    tell('models', models.length);

    // ---- twins then relationships, created (expect absent) in chunks
    const twinIds: string[] = [];
    let ops: TwinStoreOp[] = [];
    const flush = async (kind: MigrationKind): Promise<void> => {
      if (!ops.length) return;
      const n = ops.length;
      try {
        await target.twins.commit([{ ops }]);
      } catch (e) {
        during(`${KIND_LABELS[kind]} (a chunk starting at ${JSON.stringify(opKey(ops[0]!))})`, e);
      }
      ops = [];
      tell(kind, n);
    };
    for await (const t of source.twins.loadTwins(ws)) {
      twinIds.push(t.id);
      // putTwin stores no telemetry (history holds it, and history is copied below).
      ops.push({ op: 'putTwin', twin: { ...t, telemetry: {} }, expectEtag: null });
      if (ops.length >= chunk) await flush('twins');
    }
    await flush('twins');
    for await (const rel of source.twins.loadRelationships(ws)) {
      ops.push({ op: 'putRelationship', rel, expectEtag: null });
      if (ops.length >= chunk) await flush('relationships');
    }
    await flush('relationships');

    // ---- behaviour parameters and calibrations (oldest first, so listing order is kept)
    try {
      for (const p of await source.behaviour.listParameters(ws)) {
        await target.behaviour.put(p);
        tell('behaviourParameters', 1);
      }
      for (const id of twinIds) {
        const cals = await source.behaviour.listCalibrations(ws, id, 1_000_000);
        for (const c of cals.reverse()) {
          await target.behaviour.addCalibration(c);
          tell('calibrations', 1);
        }
      }
    } catch (e) {
      during('behaviour parameters and calibrations', e);
    }

    // ---- device credentials with their digests
    try {
      const creds = await source.credentials.exportCredentials(ws);
      await target.credentials.importCredentials(creds);
      tell('deviceCredentials', creds.length);
    } catch (e) {
      during('device credentials', e);
    }
  }

  // ---- jobs (of no workspace)
  try {
    for (const k of JOB_KINDS) {
      await allJobs(source, k, async (jobs) => {
        for (const j of jobs) await target.jobs.put(j);
        tell('jobs', jobs.length);
      });
    }
  } catch (e) {
    during('jobs', e);
  }

  // ---- event endpoints and routes
  try {
    for (const ep of await source.eventRoutes.listEndpoints()) {
      await target.eventRoutes.putEndpoint(ep);
      tell('eventEndpoints', 1);
    }
    for (const r of await source.eventRoutes.listRoutes()) {
      await target.eventRoutes.putRoute(r);
      tell('eventRoutes', 1);
    }
  } catch (e) {
    during('event routes and endpoints', e);
  }

  // ---- route dead letters: into the target's outbox, then dead-lettered as they were. Done
  // before the pending deliveries, so the target's outbox holds only these rows meanwhile.
  let outboxSeq = 0;
  try {
    const ids = await routeDeadLetterIds(source);
    for (let i = 0; i < ids.length; i += chunk) {
      const part = ids.slice(i, i + chunk);
      const letters = (
        await source.outbox.listDeadLetters({ limit: part.length, beforeId: part[part.length - 1]! + 1 })
      )
        .filter((l) => l.id >= part[0]!)
        .reverse();
      if (!letters.length) continue;
      const rows: OutboxRow[] = letters.map((l) => ({
        endpoint: l.endpoint,
        orderKey: l.orderKey,
        event: l.event,
        created: l.created,
      }));
      await target.twins.commit([{ ops: [], outbox: rows }]);
      const inserted = await target.outbox.pending(outboxSeq, letters.length);
      if (inserted.length !== letters.length) {
        throw new TwinloopError(
          'StorageError',
          `the target's outbox returned ${inserted.length} rows for ${letters.length} inserted.`,
        );
      }
      await target.outbox.deadLetter(
        inserted.map((d, k) => ({
          seq: d.seq,
          attempts: letters[k]!.attempts,
          reason: letters[k]!.reason,
          at: letters[k]!.deadAt,
        })),
      );
      outboxSeq = inserted[inserted.length - 1]!.seq;
      tell('routeDeadLetters', letters.length);
    }
  } catch (e) {
    during('route dead letters', e);
  }

  // ---- pending outbox deliveries, in commit order
  try {
    let after = 0;
    for (;;) {
      const page = await source.outbox.pending(after, chunk);
      if (!page.length) break;
      await target.twins.commit([
        {
          ops: [],
          outbox: page.map((d) => ({
            endpoint: d.endpoint,
            orderKey: d.orderKey,
            event: d.event,
            created: d.created,
          })),
        },
      ]);
      after = page[page.length - 1]!.seq;
      tell('outboxPending', page.length);
    }
  } catch (e) {
    during('pending outbox deliveries', e);
  }

  // ---- dead letters, oldest first
  for (const ws of workspaces) {
    try {
      const ids = await deadLetterIds(source, ws);
      for (let i = 0; i < ids.length; i += chunk) {
        const part = ids.slice(i, i + chunk);
        const letters = (
          await source.deadLetters.list({
            workspace: ws,
            limit: part.length,
            beforeId: part[part.length - 1]! + 1,
          })
        )
          .filter((l) => (l.id ?? 0) >= part[0]!)
          .reverse()
          .map(({ id: _id, ...l }) => l);
        await target.deadLetters.add(letters);
        tell('deadLetters', letters.length);
      }
    } catch (e) {
      during('dead letters', e);
    }
  }

  // ---- commands, oldest first, with their steps
  for (const ws of workspaces) {
    try {
      const seqs = await commandSeqs(source, ws);
      const size = Math.min(chunk, 1000);
      for (let i = 0; i < seqs.length; i += size) {
        const part = seqs.slice(i, i + size);
        const records = (
          await source.commands.list({
            workspace: ws,
            limit: part.length,
            beforeSeq: part[part.length - 1]! + 1,
          })
        )
          .filter((c) => c.seq >= part[0]!)
          .reverse();
        await copyCommands(target, records);
        tell('commands', records.length);
      }
    } catch (e) {
      during('commands', e);
    }
  }

  // ---- ML models (oldest first, one artefact in memory at a time), then their activation log
  for (const ws of workspaces) {
    try {
      for (const m of (await mlPages(source, ws, 'models')) as MlModelRecord[]) {
        const full = await source.mlModels.get(ws, m.id, { artefact: true });
        if (!full) continue; // deleted meanwhile
        await target.mlModels.importModels([{ ...full, artefact: full.artefact ?? '{}' }]);
        tell('mlModels', 1);
      }
      const log = (await mlPages(source, ws, 'activations')) as MlActivation[];
      for (let i = 0; i < log.length; i += chunk) {
        const part = log.slice(i, i + chunk);
        await target.mlModels.importActivations(part);
        tell('mlActivations', part.length);
      }
    } catch (e) {
      during('ML models', e);
    }
  }

  // ---- history: series by series, pages ascending, appended in large batches (one in flight)
  const historyStarted = Date.now();
  tell('historyPoints', 0); // starts the clock of the rate and time left
  for (const ws of workspaces) {
    const series = await source.history.listSeries(ws);
    let buffer: HistoryPoint[] = [];
    let inFlight: Promise<void> | undefined;
    let inFlightCount = 0;
    const ship = async (): Promise<void> => {
      if (inFlight) {
        await inFlight;
        tell('historyPoints', inFlightCount);
      }
      inFlight = undefined;
      if (!buffer.length) return;
      const points = buffer;
      buffer = [];
      inFlightCount = points.length;
      inFlight = target.history.append(points);
      // A rejection is seen at the next ship; until then it must not count as unhandled.
      inFlight.catch(() => undefined);
    };
    try {
      for (const s of series) {
        let cursor: string | undefined;
        for (;;) {
          const page = await source.history.queryRaw({
            workspace: ws,
            twinId: s.twinId,
            path: s.path,
            from: TS_MIN,
            to: TS_MAX,
            limit: Math.min(PAGE, batch),
            order: 'asc',
            ...(cursor !== undefined ? { cursor } : {}),
          });
          for (const p of page.points) {
            buffer.push({
              workspace: ws,
              twinId: s.twinId,
              path: s.path,
              kind: s.kind,
              ts: p.ts,
              value: p.value,
            });
          }
          if (buffer.length >= batch) await ship();
          if (page.cursor === undefined) break;
          cursor = page.cursor;
        }
        tell('historySeries', 1);
      }
      await ship();
      await ship();
    } catch (e) {
      during('history', e);
    }
  }
  const copyMs = Date.now() - started;
  const historyMs = Date.now() - historyStarted;

  const after = await countStore(target, workspaces);
  const rows = MIGRATION_KINDS.map((kind) => ({
    kind,
    source: before[kind],
    target: after[kind],
    equal: before[kind] === after[kind],
  }));
  return { before, rows, ok: rows.every((r) => r.equal), copyMs, historyMs };
}

function opKey(op: TwinStoreOp): string {
  switch (op.op) {
    case 'putTwin':
      return op.twin.id;
    case 'putRelationship':
      return `${op.rel.sourceId}/${op.rel.id}`;
    case 'deleteTwin':
    case 'putDeviceState':
      return op.id;
    case 'deleteRelationship':
      return `${op.sourceId}/${op.relId}`;
  }
}
