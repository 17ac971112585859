/**
 * The contract every DeadLetterStore adapter passes: call describeDeadLetterStoreContract from the
 * adapter's test file with a factory for a fresh, empty store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeadLetter, DeadLetterStore } from './storage-ports.js';

export interface DeadLetterStoreFixture {
  store: DeadLetterStore;
  /** Closes the current store and opens a new one on the same data. */
  reopen(): Promise<DeadLetterStore>;
  cleanup(): Promise<void>;
}

function letter(i: number, over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    workspace: 'ws',
    time: 1000 + i,
    source: i % 2 ? 'mqtt' : 'http',
    topic: `t/${i}`,
    payload: Buffer.from([i & 0xff, 0, 0xff, 0x80]),
    code: 'InvalidTelemetry',
    reason: `bad ${i}`,
    ...over,
  };
}

export function describeDeadLetterStoreContract(
  name: string,
  make: () => Promise<DeadLetterStoreFixture>,
): void {
  describe(`DeadLetterStore contract: ${name}`, () => {
    let fx: DeadLetterStoreFixture;
    let store: DeadLetterStore;
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('keeps the payload byte for byte and the problems with where they are', async () => {
      const payload = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x00, 0xc3, 0x28]); // not valid UTF-8
      const problems = [
        { code: 'json.syntax', message: 'Unexpected token', line: 1, column: 7, pointer: '/a/0' },
      ];
      await store.add([letter(1, { payload, problems, clientId: 'dev-1' })]);
      const [d] = await store.list({ workspace: 'ws', limit: 10 });
      expect(d).toBeDefined();
      expect(Buffer.compare(d!.payload, payload)).toBe(0);
      expect(d!.problems).toEqual(problems);
      expect(d).toMatchObject({
        workspace: 'ws',
        time: 1001,
        source: 'mqtt',
        topic: 't/1',
        clientId: 'dev-1',
        code: 'InvalidTelemetry',
        reason: 'bad 1',
      });
      expect(typeof d!.id).toBe('number');
    });

    it('lists newest first with paging by id, without gaps or duplicates', async () => {
      await Promise.all(Array.from({ length: 25 }, (_, i) => store.add([letter(i)])));
      expect(await store.count('ws')).toBe(25);
      const ids: number[] = [];
      let beforeId: number | undefined;
      for (;;) {
        const page = await store.list({
          workspace: 'ws',
          limit: 7,
          ...(beforeId !== undefined ? { beforeId } : {}),
        });
        if (page.length === 0) break;
        for (const d of page) ids.push(d.id!);
        beforeId = page[page.length - 1]!.id;
      }
      expect(ids).toHaveLength(25);
      expect(new Set(ids).size).toBe(25);
      expect(ids).toEqual([...ids].sort((a, b) => b - a));
    });

    it('filters by source and by workspace', async () => {
      await store.add([letter(1), letter(2), letter(3), letter(4, { workspace: 'other' })]);
      expect((await store.list({ workspace: 'ws', limit: 10, source: 'mqtt' })).map((d) => d.reason)).toEqual(
        ['bad 3', 'bad 1'],
      );
      expect((await store.list({ workspace: 'other', limit: 10 })).map((d) => d.reason)).toEqual(['bad 4']);
      expect(await store.count('other')).toBe(1);
      expect(await store.count('nobody')).toBe(0);
    });

    it('keeps dead letters across reopen and prunes old ones', async () => {
      await store.add(Array.from({ length: 10 }, (_, i) => letter(i)));
      store = await fx.reopen();
      expect(await store.count('ws')).toBe(10);
      expect(await store.prune(1005)).toBe(5);
      expect((await store.list({ workspace: 'ws', limit: 100 })).map((d) => d.time)).toEqual([
        1009, 1008, 1007, 1006, 1005,
      ]);
      expect(await store.prune(1005)).toBe(0);
    });

    it('ends a page at maxBytes of payload (at least one letter) and pages on without gaps', async () => {
      await store.add(Array.from({ length: 12 }, (_, i) => letter(i, { payload: Buffer.alloc(100, i) })));
      expect(await store.list({ workspace: 'ws', limit: 100, maxBytes: 250 })).toHaveLength(2);
      expect(await store.list({ workspace: 'ws', limit: 100, maxBytes: 1 })).toHaveLength(1);
      const times: number[] = [];
      let beforeId: number | undefined;
      for (;;) {
        const page = await store.list({
          workspace: 'ws',
          limit: 100,
          maxBytes: 350,
          ...(beforeId !== undefined ? { beforeId } : {}),
        });
        if (page.length === 0) break;
        times.push(...page.map((d) => d.time));
        beforeId = page[page.length - 1]!.id;
      }
      expect(times).toEqual(Array.from({ length: 12 }, (_, i) => 1011 - i));
      expect(await store.pruneToSize()).toBe(0); // far under any size limit
    });

    it('ids keep growing after pruning everything (monotonic)', async () => {
      await store.add([letter(1)]);
      const [first] = await store.list({ workspace: 'ws', limit: 1 });
      await store.prune(Number.MAX_SAFE_INTEGER);
      await store.add([letter(2)]);
      const [second] = await store.list({ workspace: 'ws', limit: 1 });
      expect(second!.id!).toBeGreaterThan(first!.id!);
    });
    it('keeps hostile ids, text and any bytes as given (SQL metacharacters, NUL, bad UTF-8)', async () => {
      const evil = "'; DROP TABLE dead_letters; --";
      const bytes = Buffer.from([0x00, 0xc3, 0x28, 0xff, 0xfe, 0x00, 0xed, 0xa0, 0x80]);
      await store.add([
        letter(1, {
          workspace: evil,
          twinId: evil,
          topic: `twins/${evil}/telemetry`,
          clientId: 'dev\u{1F600}\u202e',
          payload: bytes,
          reason: 'line1\nline2 \u2028 ünïcödé',
        }),
      ]);
      const [d] = await store.list({ workspace: evil, limit: 10, twinId: evil });
      expect(d).toBeDefined();
      expect(Buffer.compare(d!.payload, bytes)).toBe(0);
      expect(d).toMatchObject({
        workspace: evil,
        topic: `twins/${evil}/telemetry`,
        clientId: 'dev\u{1F600}\u202e',
      });
      expect(d!.reason).toBe('line1\nline2 \u2028 ünïcödé');
      expect(await store.count(evil)).toBe(1);
      expect(await store.count('ws')).toBe(0);
      await store.add([letter(2)]);
      expect(await store.count('ws')).toBe(1); // the table is still there
    });

    it('never loses a letter over NUL in its text: stored readable or rejected with StorageError', async () => {
      const nul = letter(1, { reason: 'bad\u0000reason', topic: 't/\u0000', twinId: 'a\u0000b' });
      let stored = true;
      try {
        await store.add([nul]);
      } catch (e) {
        stored = false;
        expect((e as { code?: string }).code).toBe('StorageError');
      }
      const letters = await store.list({ workspace: 'ws', limit: 10 });
      if (stored) {
        expect(letters).toHaveLength(1);
        expect(letters[0]!.reason).toContain('bad');
      } else {
        expect(letters).toHaveLength(0);
      }
      await store.add([letter(2)]);
      expect(await store.count('ws')).toBe(stored ? 2 : 1);
    });

    it('keeps only the head of a 10 MB payload and records its size as received', async () => {
      const big = Buffer.alloc(10 * 1024 * 1024, 0x61);
      big[0] = 0x00;
      await store.add([letter(1, { payload: big })]);
      const [d] = await store.list({ workspace: 'ws', limit: 1 });
      expect(d!.payload.length).toBeLessThan(big.length);
      expect(d!.receivedBytes).toBe(big.length);
      expect(Buffer.compare(d!.payload, big.subarray(0, d!.payload.length))).toBe(0);
    });

    it('gets one letter by id in its workspace only, and takes it exactly once under concurrency', async () => {
      await store.add([letter(1, { twinId: 'p-1', problems: [{ code: 'x', message: 'm', pointer: '/a' }] })]);
      await store.add([letter(2, { workspace: 'other' })]);
      const [d] = await store.list({ workspace: 'ws', limit: 1 });
      const [o] = await store.list({ workspace: 'other', limit: 1 });
      const got = await store.get('ws', d!.id!);
      expect(got).toMatchObject({ id: d!.id, reason: 'bad 1', twinId: 'p-1', topic: 't/1' });
      expect(Buffer.compare(got!.payload, d!.payload)).toBe(0);
      expect(await store.get('ws', o!.id!)).toBeUndefined(); // another workspace's letter
      expect(await store.get('ws', 987654321)).toBeUndefined();
      expect(await store.get('ws', Number.NaN)).toBeUndefined();
      expect(await store.take('ws', o!.id!)).toBeUndefined();
      expect(await store.count('other')).toBe(1);
      // Five concurrent takes (a double click, two tabs): one gets the letter, the rest nothing.
      const taken = await Promise.all(Array.from({ length: 5 }, () => store.take('ws', d!.id!)));
      const winners = taken.filter((t) => t !== undefined);
      expect(winners).toHaveLength(1);
      expect(winners[0]).toMatchObject({
        id: d!.id,
        reason: 'bad 1',
        problems: [{ code: 'x', pointer: '/a' }],
      });
      expect(await store.get('ws', d!.id!)).toBeUndefined();
      expect(await store.count('ws')).toBe(0);
      store = await fx.reopen();
      expect(await store.get('ws', d!.id!)).toBeUndefined();
      expect(await store.count('other')).toBe(1);
    });

    it('takes a letter added in the same tick (not yet committed by a group commit)', async () => {
      const adding = store.add([letter(1)]);
      await adding;
      const [d] = await store.list({ workspace: 'ws', limit: 1 });
      const added = store.add([letter(2)]);
      const t = await store.take('ws', d!.id!);
      await added;
      expect(t?.reason).toBe('bad 1');
      expect((await store.list({ workspace: 'ws', limit: 10 })).map((x) => x.reason)).toEqual(['bad 2']);
    });

    it('rejects a limit that is not a positive integer with BadRequest', async () => {
      for (const limit of [0, -1, 1.5, Number.NaN]) {
        await expect(store.list({ workspace: 'ws', limit })).rejects.toMatchObject({ code: 'BadRequest' });
      }
    });
  });
}
