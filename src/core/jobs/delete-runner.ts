/**
 * Runs one delete job (ADT: deletes every model, twin and relationship of the instance, nothing
 * else): relationships first, then twins, then models (those no other model depends on first,
 * round after round), in batches started together (the twin service commits a batch in few
 * transactions), yielding between batches. A job that
 * runs longer than its timeoutInMinutes fails where it is (ADT: no rollback). Pure.
 */
import { isTwinloopError } from '../errors/errors.js';
import { toJobError } from './import-runner.js';
import type { DeleteProgress, JobError } from './job-state.js';

export interface DeleteTarget {
  /** Every relationship; the iteration must go on correctly while the yielded ones are deleted. */
  relationships(): Iterable<{ sourceId: string; id: string }>;
  /** Every twin id; the same rule. */
  twinIds(): Iterable<string>;
  modelIds(): string[];
  relationshipCount(): number;
  twinCount(): number;
  deleteRelationship(sourceId: string, id: string): Promise<void>;
  deleteTwin(id: string): Promise<void>;
  /** @throws ModelReferencesNotDeleted while another model depends on it */
  deleteModel(id: string): Promise<void>;
}

export interface DeleteRunOptions {
  target: DeleteTarget;
  batchSize: number;
  /** ms since epoch after which the job fails (from timeoutInMinutes), if any. */
  deadline?: number;
  yieldNow: () => Promise<void>;
  /** True when Twinloop is stopping: the job ends failed (JobInterrupted) at its next batch. */
  interrupted?: () => boolean;
  onProgress: (progress: DeleteProgress) => void | Promise<void>;
  now: () => number;
}

export type DeleteOutcome =
  | { status: 'succeeded'; progress: DeleteProgress }
  | { status: 'failed'; progress: DeleteProgress; error: JobError };

/**
 * @example
 * const r = await runDelete({ target, batchSize: 500, yieldNow, onProgress, now: Date.now });
 */
export async function runDelete(o: DeleteRunOptions): Promise<DeleteOutcome> {
  const { target } = o;
  const progress: DeleteProgress = {
    relationships: 0,
    twins: 0,
    models: 0,
    total: {
      relationships: target.relationshipCount(),
      twins: target.twinCount(),
      models: target.modelIds().length,
    },
  };
  const fail = (error: JobError): DeleteOutcome => ({ status: 'failed', progress, error });
  const late = () => o.deadline !== undefined && o.now() > o.deadline;
  const stopping = () => o.interrupted?.() ?? false;
  const interruptedError: JobError = {
    code: 'JobInterrupted',
    message: 'Twinloop was stopped while this delete job ran; what it deleted stays deleted.',
  };
  const timeout = (): JobError => ({
    code: 'TimeoutError',
    message: 'The delete job ran past its timeoutInMinutes; what was deleted stays deleted.',
  });

  // Batches of writes started in one tick (committed together by the group commit), then awaited.
  const runBatches = async <T>(
    source: () => Iterable<T>,
    write: (item: T) => Promise<void>,
    count: () => void,
  ): Promise<JobError | undefined> => {
    // One iterator across batches (the target's iterables must allow deleting what they yielded);
    // when it ends, one fresh pass makes sure nothing was left behind.
    let it = source()[Symbol.iterator]();
    let fresh = true;
    for (;;) {
      const batch: T[] = [];
      while (batch.length < o.batchSize) {
        const n = it.next();
        if (n.done) break;
        batch.push(n.value);
      }
      if (batch.length === 0) {
        if (fresh) return undefined;
        it = source()[Symbol.iterator]();
        fresh = true;
        continue;
      }
      fresh = false;
      const started: Promise<void>[] = [];
      for (const x of batch) started.push(write(x));
      const results = await Promise.allSettled(started);
      const failed = results.find((r) => r.status === 'rejected');
      for (const r of results) if (r.status === 'fulfilled') count();
      await o.onProgress(progress);
      if (failed) return toJobError(failed.reason, 'An entity could not be deleted');
      await o.yieldNow();
      if (late()) return timeout();
      if (stopping()) return interruptedError;
    }
  };

  const relError = await runBatches(
    () => target.relationships(),
    (r) => target.deleteRelationship(r.sourceId, r.id),
    () => progress.relationships++,
  );
  if (relError) return fail(relError);
  const twinError = await runBatches(
    () => target.twinIds(),
    (id) => target.deleteTwin(id),
    () => progress.twins++,
  );
  if (twinError) return fail(twinError);

  // Models: a round deletes every model nothing depends on; stop when a round deletes none.
  for (;;) {
    const left = target.modelIds();
    if (left.length === 0) break;
    let deleted = 0;
    let lastError: unknown;
    for (const id of left) {
      try {
        await target.deleteModel(id);
        deleted++;
        progress.models++;
      } catch (e) {
        if (!isTwinloopError(e) || e.code !== 'ModelReferencesNotDeleted')
          return fail(toJobError(e, `Model ${id} could not be deleted`));
        lastError = e;
      }
      if (deleted > 0 && deleted % o.batchSize === 0) await o.yieldNow();
    }
    await o.onProgress(progress);
    await o.yieldNow();
    if (deleted === 0) return fail(toJobError(lastError, 'The remaining models depend on each other'));
    if (late()) return fail(timeout());
    if (stopping()) return fail(interruptedError);
  }
  return { status: 'succeeded', progress };
}
