/**
 * Small pieces every twin and relationship write shares: etags and the conditional-request checks
 * of ADT (If-Match with one or more etags or `*`, If-None-Match: `*` only). The port types the twin
 * service depends on live in core/ports/twin-write-ports.ts (re-exported here); and the commit of a
 * write with its journaled events.
 */
import { TwinloopError, errors, quote } from '../errors/errors.js';
import type { Change } from '../events/change-events.js';
import type { ChangeJournal } from '../ports/twin-write-ports.js';
import type { TwinStoreOp } from '../ports/storage-ports.js';
import type { TwinCommitQueue } from './twin-commit-queue.js';

export type {
  ChangeJournal,
  LiveEventSink,
  PropertyHistoryPort,
  TwinModelPort,
} from '../ports/twin-write-ports.js';

/**
 * Commits store ops with the outbox rows of their change through the commit queue (group commit),
 * then tells the journal. @throws as TwinStore.commit
 */
export async function commitChange(
  queue: TwinCommitQueue,
  journal: ChangeJournal | undefined,
  ops: readonly TwinStoreOp[],
  change: () => Change,
): Promise<void> {
  const outbox = journal ? journal.outboxRowsOf(change()) : [];
  await queue.commit(outbox.length ? { ops, outbox } : { ops });
  if (outbox.length) journal!.committed();
}

/** Conditions of a write, from the If-Match / If-None-Match headers. */
export interface WriteConditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}

/** A fresh weak etag in ADT's form. */
export function newEtag(): string {
  return `W/"${globalThis.crypto.randomUUID()}"`;
}

/** Throws PreconditionFailed (412) when `ifMatch` is given and matches neither `*` nor the current etag. */
export function checkIfMatch(what: string, current: string, ifMatch: string | undefined): void {
  if (ifMatch === undefined || ifMatch.trim() === '') return;
  const wanted = ifMatch.split(',').map((s) => s.trim());
  if (wanted.includes('*') || wanted.some((w) => sameEtag(w, current))) return;
  throw errors.preconditionFailed(what);
}

/** If-None-Match: only `*` is meaningful on ADT's PUTs (create only when absent). */
export function checkIfNoneMatch(what: string, exists: boolean, ifNoneMatch: string | undefined): void {
  if (ifNoneMatch === undefined || ifNoneMatch.trim() === '') return;
  if (ifNoneMatch.trim() !== '*') {
    throw new TwinloopError(
      'InvalidArgument',
      `If-None-Match only supports '*' (got '${quote(ifNoneMatch, 60)}').`,
    );
  }
  if (exists) {
    throw new TwinloopError('PreconditionFailed', `${what} already exists and If-None-Match: * was given.`);
  }
}

/** Etags compare by their opaque part, whether or not the client kept the W/ prefix and quotes. */
function sameEtag(a: string, b: string): boolean {
  const strip = (s: string): string => s.replace(/^W\//, '').replace(/^"|"$/g, '');
  return strip(a) === strip(b);
}
