// The DeadLetterStore contract on PostgreSQL, and its bounds and group commit (as SQLite's).
import { afterEach, describe, expect, it } from 'vitest';
import { describeDeadLetterStoreContract } from '../../core/ports/dead-letter-store.contract.js';
import type { DeadLetter } from '../../core/ports/storage-ports.js';
import {
  PG_DEAD_LETTER_MIGRATIONS,
  PgDeadLetterStore,
  type PgDeadLetterStoreOptions,
} from './pg-dead-letter-store.js';
import { pgStoreFixture, type PgStoreFixture } from './pg-store-test-fixture.js';

const open = (options: PgDeadLetterStoreOptions = {}) =>
  pgStoreFixture([PG_DEAD_LETTER_MIGRATIONS], (db) => new PgDeadLetterStore(db, options));

describeDeadLetterStoreContract('postgres', async () => {
  const fx = await open();
  return { store: fx.store, reopen: () => fx.reopen(), cleanup: () => fx.cleanup() };
});

const KiB = 1024;

function letter(i: number, payloadBytes: number, over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    workspace: 'default',
    time: 1_000 + i,
    source: 'mqtt',
    topic: `twins/t${i}/telemetry`,
    payload: Buffer.alloc(payloadBytes, 0x61 + (i % 26)),
    code: 'InvalidTelemetry',
    reason: `bad ${i}`,
    ...over,
  };
}

describe('PgDeadLetterStore bounds and commits', () => {
  let fx: PgStoreFixture<PgDeadLetterStore> | undefined;
  afterEach(async () => {
    await fx?.cleanup();
    fx = undefined;
  });

  it('keeps a payload up to the cap and records the size as received, across reopen', async () => {
    fx = await open({ maxPayloadBytes: 1 * KiB });
    await fx.store.add([letter(1, 256 * KiB), letter(2, 100)]);
    const [small, big] = await fx.store.list({ workspace: 'default', limit: 10 });
    expect(big!.payload.length).toBe(1 * KiB);
    expect(big!.receivedBytes).toBe(256 * KiB);
    expect(big!.payload.equals(Buffer.alloc(1 * KiB, 0x62))).toBe(true);
    expect(small!.payload.length).toBe(100);
    expect(small!.receivedBytes).toBeUndefined();
    const [, again] = await (await fx.reopen()).list({ workspace: 'default', limit: 10 });
    expect(again!.receivedBytes).toBe(256 * KiB);
  });

  it('keeps the total size under the limit by dropping the oldest letters on add', async () => {
    const maxBytes = 200 * KiB;
    fx = await open({ maxBytes, maxPayloadBytes: 16 * KiB });
    for (let i = 0; i < 100; i++) await fx.store.add([letter(i, 10 * KiB)]); // ~1 MiB offered
    expect(fx.store.storedBytes).toBeLessThanOrEqual(maxBytes);
    const kept = await fx.store.list({ workspace: 'default', limit: 1000 });
    expect(kept.length).toBeGreaterThan(10);
    expect(kept.length).toBeLessThan(20);
    expect(kept.map((d) => d.time)).toEqual(kept.map((_, j) => 1_099 - j)); // the newest, no gap
    const reopened = await fx.reopen();
    expect(await reopened.pruneToSize()).toBe(0);
    expect(reopened.storedBytes).toBeGreaterThan(0);
    expect(reopened.storedBytes).toBeLessThanOrEqual(maxBytes);
  });

  it('ends a list page at the byte budget, and paging by id sees every letter once', async () => {
    fx = await open({ maxPayloadBytes: 64 * KiB });
    await fx.store.add(Array.from({ length: 40 }, (_, i) => letter(i, 60 * KiB)));
    expect(await fx.store.list({ workspace: 'default', limit: 1000, maxBytes: 256 * KiB })).toHaveLength(4);
    expect(await fx.store.list({ workspace: 'default', limit: 1000, maxBytes: 1 })).toHaveLength(1);
    const seen: number[] = [];
    let beforeId: number | undefined;
    for (;;) {
      const page = await fx.store.list({
        workspace: 'default',
        limit: 1000,
        maxBytes: 256 * KiB,
        ...(beforeId !== undefined ? { beforeId } : {}),
      });
      if (page.length === 0) break;
      seen.push(...page.map((d) => d.time));
      beforeId = page[page.length - 1]!.id;
    }
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => 1_039 - i));
  });

  it('prunes by age without touching newer letters, and the size follows', async () => {
    fx = await open();
    await fx.store.add(Array.from({ length: 10 }, (_, i) => letter(i, 1 * KiB)));
    await fx.store.pruneToSize();
    const before = fx.store.storedBytes!;
    expect(await fx.store.prune(1_005)).toBe(5);
    await fx.store.pruneToSize();
    expect(fx.store.storedBytes).toBeLessThan(before);
    expect(await fx.store.count('default')).toBe(5);
  });

  it('group-commits adds made together: one statement for many callers, ids in order', async () => {
    const commits: number[] = [];
    fx = await open({ onCommit: (c) => commits.push(c.items) });
    await Promise.all(Array.from({ length: 300 }, (_, i) => fx!.store.add([letter(i, 10)])));
    expect(commits.length).toBeLessThan(10);
    expect(commits.reduce((a, b) => a + b, 0)).toBe(300);
    const all = await fx.store.list({ workspace: 'default', limit: 1000 });
    expect(all.map((d) => d.time)).toEqual(Array.from({ length: 300 }, (_, i) => 1_299 - i));
    // flush() waits for what is queued (as a close would).
    const pending = fx.store.add([letter(999, 5)]);
    await fx.store.flush();
    expect(await fx.store.count('default')).toBe(301);
    await pending;
  });

  it('rejects every waiter of a failed commit with StorageError, and never throws past it', async () => {
    fx = await open();
    await fx.db.query('ALTER TABLE dead_letters ADD CONSTRAINT no_x CHECK (reason <> $$x$$)');
    const results = await Promise.allSettled([
      fx.store.add([letter(1, 10)]),
      fx.store.add([letter(2, 10, { reason: 'x' })]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const r of results)
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'StorageError' });
    await fx.store.add([letter(3, 10)]); // the next batch commits
    expect(await fx.store.count('default')).toBe(1);
    await fx.store.flush();
  });

  it('keeps every byte of hostile payloads, and NUL in its text as U+FFFD', async () => {
    fx = await open();
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await fx.store.add([
      letter(1, 0, {
        payload: bytes,
        reason: 'a\u0000b',
        problems: [{ code: 'p\u0000', message: '\u0000', pointer: '/\u0000' }],
        workspace: 'default',
      }),
    ]);
    const [d] = await fx.store.list({ workspace: 'default', limit: 1 });
    expect(d!.payload.equals(bytes)).toBe(true);
    expect(d!.reason).toBe('a\uFFFDb');
    expect(d!.problems).toEqual([{ code: 'p\uFFFD', message: '\uFFFD', pointer: '/\uFFFD' }]);
    const evil = "x'); DROP TABLE dead_letters; --";
    await fx.store.add([letter(2, 5, { workspace: evil, source: evil, twinId: evil })]);
    expect(await fx.store.list({ workspace: evil, limit: 5, source: evil, twinId: evil })).toHaveLength(1);
    expect(await fx.store.count('default')).toBe(1);
  });
});
