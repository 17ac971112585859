import { afterEach, describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../core/ports/storage-ports.js';
import { tempStorage } from './sqlite-test-fixture.js';

type Fixture = ReturnType<typeof tempStorage>;
let fx: Fixture | undefined;
afterEach(async () => {
  await fx?.cleanup();
  fx = undefined;
});

const KiB = 1024;

function letter(i: number, payloadBytes: number): DeadLetter {
  return {
    workspace: 'default',
    time: 1_000 + i,
    source: 'mqtt',
    topic: `twins/t${i}/telemetry`,
    payload: Buffer.alloc(payloadBytes, 0x61 + (i % 26)),
    code: 'InvalidTelemetry',
    reason: `bad ${i}`,
  };
}

describe('SqliteDeadLetterStore bounds', () => {
  it('keeps a payload up to the cap and records the size as received', async () => {
    fx = tempStorage({ deadLetters: { maxPayloadBytes: 1 * KiB } });
    const dl = fx.storage.deadLetters;
    await dl.add([letter(1, 256 * KiB), letter(2, 100)]);
    const [small, big] = await dl.list({ workspace: 'default', limit: 10 });
    expect(big!.payload.length).toBe(1 * KiB);
    expect(big!.receivedBytes).toBe(256 * KiB);
    expect(big!.payload.equals(Buffer.alloc(1 * KiB, 0x62))).toBe(true); // the head, as received
    expect(small!.payload.length).toBe(100);
    expect(small!.receivedBytes).toBeUndefined();
    // Kept across a reopen.
    const [, again] = await (await fx.reopen()).deadLetters.list({ workspace: 'default', limit: 10 });
    expect(again!.receivedBytes).toBe(256 * KiB);
  });

  it('keeps the total size under the limit by dropping the oldest letters on add', async () => {
    const maxBytes = 200 * KiB;
    fx = tempStorage({ deadLetters: { maxBytes, maxPayloadBytes: 16 * KiB } });
    const dl = fx.storage.deadLetters;
    for (let i = 0; i < 100; i++) await dl.add([letter(i, 10 * KiB)]); // ~1 MiB offered
    expect(dl.storedBytes).toBeLessThanOrEqual(maxBytes);
    const kept = await dl.list({ workspace: 'default', limit: 1000 });
    expect(kept.length).toBeGreaterThan(10);
    expect(kept.length).toBeLessThan(20);
    // The newest are kept, in one run with no gap.
    expect(kept.map((d) => d.time)).toEqual(kept.map((_, j) => 1_099 - j));
    // The accounting survives a reopen (recomputed from the rows).
    const reopened = (await fx.reopen()).deadLetters;
    expect(reopened.storedBytes).toBeGreaterThan(0);
    expect(reopened.storedBytes).toBeLessThanOrEqual(maxBytes);
    expect(await reopened.pruneToSize()).toBe(0);
  });

  it('ends a list page at the byte budget, and paging by id still sees every letter once', async () => {
    fx = tempStorage({ deadLetters: { maxPayloadBytes: 64 * KiB } });
    const dl = fx.storage.deadLetters;
    await dl.add(Array.from({ length: 40 }, (_, i) => letter(i, 60 * KiB)));
    const first = await dl.list({ workspace: 'default', limit: 1000, maxBytes: 256 * KiB });
    expect(first.length).toBe(4);
    // One letter larger than the budget still makes a page of one (progress is always made).
    expect((await dl.list({ workspace: 'default', limit: 1000, maxBytes: 1 })).length).toBe(1);
    const seen: number[] = [];
    let beforeId: number | undefined;
    for (;;) {
      const page = await dl.list({
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

  it('prunes by age without touching newer letters, and updates the size', async () => {
    fx = tempStorage();
    const dl = fx.storage.deadLetters;
    await dl.add(Array.from({ length: 10 }, (_, i) => letter(i, 1 * KiB)));
    const before = dl.storedBytes;
    expect(await dl.prune(1_005)).toBe(5);
    expect(dl.storedBytes).toBeLessThan(before);
    expect(await dl.count('default')).toBe(5);
  });
});
