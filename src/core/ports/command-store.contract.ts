/**
 * The contract every CommandStore adapter passes: call describeCommandStoreContract from the
 * adapter's test file with a factory for a fresh, empty store.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  CommandRecord,
  CommandState,
  CommandStore,
  CommandTransition,
  NewCommand,
} from './command-store.js';
import type { EventOutbox, OutboxRow } from './event-routing.js';

export interface CommandStoreFixture {
  store: CommandStore;
  /** The event outbox the store journals into (setJournal). */
  outbox: Pick<EventOutbox, 'pending'>;
  /** Closes the current store and opens a new one on the same data. */
  reopen(): Promise<CommandStore>;
  cleanup(): Promise<void>;
}

const HOUR = 3_600_000;

function cmd(i: number, over: Partial<NewCommand> = {}): NewCommand {
  return {
    workspace: 'ws',
    requestId: `req-${i}`,
    twinId: 'pump-1',
    command: 'setRunning',
    request: { running: i % 2 === 0 },
    createdAt: 1_000 + i,
    expiresAt: 1_000 + i + HOUR,
    requestedBy: 'api',
    ...over,
  };
}

function step(
  requestId: string,
  from: readonly CommandState[],
  to: CommandState,
  at: number,
  over: Partial<CommandTransition> = {},
): CommandTransition {
  return { workspace: 'ws', requestId, from, to, at, ...over };
}

async function one(store: CommandStore, t: CommandTransition): Promise<CommandRecord | undefined> {
  const [r] = await store.transition([t]);
  return r;
}

/** An object nested `depth` levels deep. */
function nested(depth: number): unknown {
  let o: unknown = null;
  for (let i = 0; i < depth; i++) o = { a: o };
  return o;
}

async function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a rejection');
}

export function describeCommandStoreContract(name: string, make: () => Promise<CommandStoreFixture>): void {
  describe(`CommandStore contract: ${name}`, () => {
    let fx: CommandStoreFixture;
    let store: CommandStore;
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('journals every change it stores, in the same transaction, once a journal is set', async () => {
      const journal = (changed: readonly CommandRecord[]): OutboxRow[] =>
        changed.map((c) => ({
          endpoint: 'ep',
          orderKey: c.twinId,
          event: {
            id: `${c.requestId}:${c.state}`,
            type: 'Twinloop.Command',
            source: 'test',
            time: c.steps.at(-1)!.at,
            data: { state: c.state },
            twinId: c.twinId,
          },
          created: 1,
        }));
      await store.add([cmd(9)]); // before: not journaled
      store.setJournal(journal);
      await store.add([cmd(1), cmd(2, { expiresAt: 1500 })]);
      await store.add([cmd(1)]).catch(() => undefined); // refused (Conflict): nothing journaled
      await store.transition([
        { workspace: 'ws', requestId: 'req-1', from: ['queued'], to: 'sent', at: 1100 },
        { workspace: 'ws', requestId: 'req-2', from: ['sent'], to: 'failed', at: 1100 }, // no match
      ]);
      await store.expireDue(1600, 10);
      store.setJournal(undefined);
      await store.transition([
        { workspace: 'ws', requestId: 'req-1', from: ['sent'], to: 'succeeded', at: 1700 },
      ]);
      const ids = (await fx.outbox.pending(0, 100)).map((d) => d.event.id);
      expect(ids).toEqual(['req-1:queued', 'req-2:queued', 'req-1:sent', 'req-2:expired']);
    });

    it('adds commands as queued, in the order given, with increasing seq and the first step at createdAt', async () => {
      const added = await store.add([cmd(1), cmd(2), cmd(3, { request: undefined, requestedBy: undefined })]);
      expect(added.map((c) => c.requestId)).toEqual(['req-1', 'req-2', 'req-3']);
      expect(added[0]!.seq).toBeLessThan(added[1]!.seq);
      expect(added[1]!.seq).toBeLessThan(added[2]!.seq);
      expect(added[0]).toEqual({
        ...cmd(1),
        seq: added[0]!.seq,
        state: 'queued',
        steps: [{ state: 'queued', at: 1001 }],
      });
      expect('request' in added[2]!).toBe(false);
      expect('requestedBy' in added[2]!).toBe(false);
      for (const a of added) expect(await store.get('ws', a.requestId)).toEqual(a);
      const later = await store.add([cmd(4)]);
      expect(later[0]!.seq).toBeGreaterThan(added[2]!.seq);
      expect(await store.add([])).toEqual([]);
      expect(await store.get('ws', 'nope')).toBeUndefined();
    });

    it('refuses a requestId already stored in the workspace (Conflict), changing nothing', async () => {
      const [first] = await store.add([cmd(1)]);
      const e = await rejection(store.add([cmd(2), cmd(1, { twinId: 'other' })]));
      expect(e.code).toBe('Conflict');
      expect(e.message).toMatch(/req-1/);
      expect(await store.get('ws', 'req-1')).toEqual(first);
      expect(await store.get('ws', 'req-2')).toBeUndefined(); // the whole call is refused
      const dup = await rejection(store.add([cmd(5), cmd(5)]));
      expect(dup.code).toBe('Conflict');
      expect(await store.get('ws', 'req-5')).toBeUndefined();
      // the same id in another workspace is another command
      const [other] = await store.add([cmd(1, { workspace: 'ws2' })]);
      expect(other!.workspace).toBe('ws2');
    });

    it('refuses wrong types and non-JSON payloads with BadRequest, without failing other callers', async () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const bads: unknown[] = [
        cmd(10, { createdAt: '1000' as unknown as number }),
        cmd(11, { expiresAt: Number.NaN }),
        cmd(12, { twinId: 42 as unknown as string }),
        cmd(13, { requestId: '' }),
        cmd(14, { request: cyclic }),
        cmd(15, { request: 10n }),
        cmd(16, { request: () => 1 }),
        cmd(17, { request: nested(200_000) }), // too deep to serialise
        null,
      ];
      const calls = [
        ...bads.map((b) => store.add([b as NewCommand])),
        store.add([cmd(1)]), // same tick: may share a commit with the bad ones
      ];
      const settled = await Promise.allSettled(calls);
      for (const s of settled.slice(0, bads.length)) {
        expect(s.status).toBe('rejected');
        expect(((s as PromiseRejectedResult).reason as { code?: string }).code).toBe('BadRequest');
      }
      expect(settled[bads.length]!.status).toBe('fulfilled');
      expect((await store.list({ workspace: 'ws', limit: 100 })).map((c) => c.requestId)).toEqual(['req-1']);
      await store.add([cmd(2), cmd(3)]);
      const t = await rejection(
        store.transition([
          step('req-2', ['queued'], 'sent', 5),
          step('req-3', ['queued'], 'bogus' as CommandState, 5),
        ]),
      );
      expect(t.code).toBe('BadRequest');
      expect((await store.get('ws', 'req-2'))!.state).toBe('queued'); // the whole call is refused
      expect((await rejection(one(store, step('req-2', 'queued' as never, 'sent', 5)))).code).toBe(
        'BadRequest',
      );
      expect((await rejection(one(store, step('req-2', ['queued'], 'sent', 1.5)))).code).toBe('BadRequest');
      expect((await rejection(one(store, step('req-2', ['queued'], 'sent', 5, { response: 1n })))).code).toBe(
        'BadRequest',
      );
      expect((await store.get('ws', 'req-2'))!.steps).toHaveLength(1);
      // reads with arguments of the wrong type
      const odd = 42 as unknown as string;
      for (const p of [
        store.get(odd, 'req-2'),
        store.list({ workspace: odd, limit: 5 }),
        store.list({ workspace: 'ws', twinId: odd, limit: 5 }),
        store.pending('ws', odd),
        store.countOpen(odd),
        store.prune('x' as unknown as number),
      ]) {
        expect((await rejection(p)).code).toBe('BadRequest');
      }
    });

    it('transitions compare-and-set: only from a listed state, appending each step with its time', async () => {
      await store.add([cmd(1)]);
      expect(await one(store, step('req-1', ['sent'], 'acknowledged', 2000))).toBeUndefined();
      expect(await one(store, step('missing', ['queued'], 'sent', 2000))).toBeUndefined();
      expect(
        await one(store, step('req-1', ['queued'], 'sent', 2000, { workspace: 'other' })),
      ).toBeUndefined();
      expect((await store.get('ws', 'req-1'))!.steps).toEqual([{ state: 'queued', at: 1001 }]);

      const sent = await one(store, step('req-1', ['queued'], 'sent', 2000));
      expect(sent).toMatchObject({
        state: 'sent',
        steps: [
          { state: 'queued', at: 1001 },
          { state: 'sent', at: 2000 },
        ],
      });
      const acked = await one(store, step('req-1', ['sent'], 'acknowledged', 2004, { status: 202 }));
      expect(acked!.status).toBe(202);
      const done = await one(
        store,
        step('req-1', ['sent', 'acknowledged'], 'succeeded', 2010, {
          status: 200,
          response: { running: false },
        }),
      );
      expect(done).toEqual({
        ...cmd(1),
        seq: sent!.seq,
        state: 'succeeded',
        steps: [
          { state: 'queued', at: 1001 },
          { state: 'sent', at: 2000 },
          { state: 'acknowledged', at: 2004 },
          { state: 'succeeded', at: 2010 },
        ],
        status: 200,
        response: { running: false },
      });
      expect(await store.get('ws', 'req-1')).toEqual(done);
      // a late or duplicate answer changes nothing
      expect(
        await one(store, step('req-1', ['sent', 'acknowledged'], 'failed', 3000, { reason: 'late' })),
      ).toBeUndefined();
      expect(await store.get('ws', 'req-1')).toEqual(done);
    });

    it('applies the transitions of one call in order, each against the state the one before left', async () => {
      await store.add([cmd(1), cmd(2)]);
      const out = await store.transition([
        step('req-1', ['queued'], 'sent', 10),
        step('req-1', ['sent'], 'acknowledged', 11),
        step('req-2', ['queued'], 'cancelled', 12, { reason: 'cancelled by alice' }),
        step('req-2', ['queued'], 'sent', 13), // no longer queued
        step('req-1', ['acknowledged'], 'failed', 14, {
          status: 500,
          response: { error: 'jammed' },
          reason: 'the device answered 500',
        }),
      ]);
      expect(out.map((r) => r?.state)).toEqual(['sent', 'acknowledged', 'cancelled', undefined, 'failed']);
      const r1 = (await store.get('ws', 'req-1'))!;
      expect(r1.steps.map((s) => [s.state, s.at])).toEqual([
        ['queued', 1001],
        ['sent', 10],
        ['acknowledged', 11],
        ['failed', 14],
      ]);
      expect(r1).toMatchObject({
        status: 500,
        response: { error: 'jammed' },
        reason: 'the device answered 500',
      });
      expect(await store.get('ws', 'req-2')).toMatchObject({
        state: 'cancelled',
        reason: 'cancelled by alice',
      });
      expect(await store.transition([])).toEqual([]);
    });

    it('lets exactly one of two concurrent transitions from the same state win', async () => {
      const n = 20;
      await store.add(Array.from({ length: n }, (_, i) => cmd(i)));
      await store.transition(Array.from({ length: n }, (_, i) => step(`req-${i}`, ['queued'], 'sent', 2000)));
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          Promise.all([
            one(
              store,
              step(`req-${i}`, ['sent', 'acknowledged'], 'succeeded', 3000, { status: 200, response: i }),
            ),
            one(
              store,
              step(`req-${i}`, ['queued', 'sent', 'acknowledged'], 'expired', 3001, { reason: 'expired' }),
            ),
          ]),
        ),
      );
      for (let i = 0; i < n; i++) {
        const [a, b] = results[i]!;
        expect([a, b].filter((r) => r !== undefined)).toHaveLength(1);
        const winner = (a ?? b)!;
        const stored = (await store.get('ws', `req-${i}`))!;
        expect(stored).toEqual(winner);
        expect(stored.steps).toHaveLength(3);
        if (stored.state === 'succeeded') expect(stored).not.toHaveProperty('reason');
        else expect(stored).not.toHaveProperty('response');
      }
      // and an expiry sweep racing a response: one of them
      await store.add([cmd(100, { expiresAt: 5000 })]);
      await one(store, step('req-100', ['queued'], 'sent', 4000));
      const [answer, swept] = await Promise.all([
        one(store, step('req-100', ['sent', 'acknowledged'], 'succeeded', 6000, { status: 200 })),
        store.expireDue(6000, 10),
      ]);
      expect(Number(answer !== undefined) + swept.length).toBe(1);
      expect((await store.get('ws', 'req-100'))!.steps).toHaveLength(3);
    });

    it('keeps status, response and reason as given: any JSON, null, nesting, __proto__ keys and unicode', async () => {
      const proto = JSON.parse(
        '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "a": [1]}',
      ) as unknown;
      const deep = JSON.parse('['.repeat(2000) + ']'.repeat(2000)) as unknown;
      const texts = {
        emoji: 'Pumpe läuft ✓ 🚀 漢字',
        lone: 'half \ud83d of a pair',
        nul: 'a\u0000b',
        control: '\u0001\u001f\u2028\u2029',
      };
      const responses: unknown[] = [
        null,
        0,
        -1.5e300,
        '',
        'text',
        false,
        [],
        {},
        { n: { e: { s: { t: [1, { x: null }] } } } },
        proto,
        deep,
        texts,
        Array.from({ length: 5000 }, (_, i) => i),
      ];
      await store.add(responses.map((r, i) => cmd(i, { request: r })));
      const out = await store.transition(
        responses.map((r, i) =>
          step(`req-${i}`, ['queued'], 'succeeded', 5000 + i, {
            status: 200 + i,
            response: r,
            reason: `√ ${texts.emoji} ${i}`,
          }),
        ),
      );
      store = await fx.reopen();
      for (let i = 0; i < responses.length; i++) {
        const got = (await store.get('ws', `req-${i}`))!;
        // (the deep one is compared as text: a recursive deep-equal would overflow the stack)
        const flat = (c: CommandRecord | undefined): unknown => ({ ...c, request: 0, response: 0 });
        expect(flat(got), `response ${i}`).toEqual(flat(out[i]));
        expect(JSON.stringify(out[i]!.response)).toBe(JSON.stringify(responses[i]));
        expect(JSON.stringify(got.response)).toBe(JSON.stringify(responses[i]));
        expect(JSON.stringify(got.request)).toBe(JSON.stringify(responses[i]));
        expect(got.status).toBe(200 + i);
        expect(got.reason).toBe(`√ ${texts.emoji} ${i}`);
        expect(got).toHaveProperty('response'); // null is a response, not its absence
      }
      const p = (await store.get('ws', 'req-9'))!.response as Record<string, unknown>;
      expect(Object.prototype.hasOwnProperty.call(p, '__proto__')).toBe(true);
      expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
      expect((p as { polluted?: unknown }).polluted).toBeUndefined();
      expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
      expect((await store.get('ws', 'req-11'))!.response).toEqual(texts);
      // a transition without status, response or reason keeps the ones stored
      await store.add([cmd(50)]);
      await one(store, step('req-50', ['queued'], 'sent', 10));
      await one(store, step('req-50', ['sent'], 'acknowledged', 11, { status: 202, response: null }));
      const last = await one(store, step('req-50', ['acknowledged'], 'succeeded', 12));
      expect(last).toMatchObject({ status: 202, response: null });
    });

    it('keeps any JSON value as request and response, and any text as reason (property)', async () => {
      let n = 0;
      const value = fc.jsonValue({ stringUnit: 'binary', maxDepth: 6 });
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(value, value, fc.string({ unit: 'binary', minLength: 1 })), {
            minLength: 1,
            maxLength: 8,
          }),
          async (cases) => {
            const ids = cases.map(() => `prop-${n++}`);
            await store.add(cases.map(([request], k) => cmd(0, { requestId: ids[k]!, request })));
            // a reason holding a NUL may be kept with U+FFFD instead (PostgreSQL text)
            const reasons = cases.map(([, , r]) => r);
            await store.transition(
              cases.map(([, response], k) =>
                step(ids[k]!, ['queued'], 'failed', 5, { status: 500, response, reason: reasons[k]! }),
              ),
            );
            for (let k = 0; k < cases.length; k++) {
              const got = (await store.get('ws', ids[k]!))!;
              expect(JSON.stringify(got.request)).toBe(JSON.stringify(cases[k]![0]));
              expect(JSON.stringify(got.response)).toBe(JSON.stringify(cases[k]![1]));
              expect([reasons[k], reasons[k]!.replaceAll('\u0000', '\uFFFD')]).toContain(got.reason);
            }
          },
        ),
        { numRuns: 25 },
      );
    });

    it('lists newest first, filtered by twin and state, limited (at most 1000) and paged by seq', async () => {
      const twins = ['a', 'b', 'c'];
      await store.add(Array.from({ length: 30 }, (_, i) => cmd(i, { twinId: twins[i % 3]! })));
      await store.transition([
        step('req-0', ['queued'], 'sent', 2000),
        step('req-3', ['queued'], 'cancelled', 2000),
        step('req-4', ['queued'], 'sent', 2000),
      ]);
      const all = await store.list({ workspace: 'ws', limit: 100 });
      expect(all.map((c) => c.requestId)).toEqual(Array.from({ length: 30 }, (_, i) => `req-${29 - i}`));
      for (let i = 1; i < all.length; i++) expect(all[i]!.seq).toBeLessThan(all[i - 1]!.seq);
      const a = await store.list({ workspace: 'ws', twinId: 'a', limit: 3 });
      expect(a.map((c) => c.requestId)).toEqual(['req-27', 'req-24', 'req-21']);
      const next = await store.list({ workspace: 'ws', twinId: 'a', limit: 100, beforeSeq: a[2]!.seq });
      expect(next.map((c) => c.requestId)).toEqual([
        'req-18',
        'req-15',
        'req-12',
        'req-9',
        'req-6',
        'req-3',
        'req-0',
      ]);
      expect(
        (await store.list({ workspace: 'ws', states: ['sent', 'cancelled'], limit: 10 })).map(
          (c) => c.requestId,
        ),
      ).toEqual(['req-4', 'req-3', 'req-0']);
      expect(
        (await store.list({ workspace: 'ws', twinId: 'a', states: ['sent'], limit: 10 })).map(
          (c) => c.requestId,
        ),
      ).toEqual(['req-0']);
      expect(await store.list({ workspace: 'ws', states: [], limit: 10 })).toEqual([]);
      expect(await store.list({ workspace: 'nope', limit: 10 })).toEqual([]);
      expect(await store.list({ workspace: 'ws', twinId: 'zzz', limit: 10 })).toEqual([]);
      expect(all[29]).toEqual(await store.get('ws', 'req-0'));
      for (const limit of [0, -1, 1.5, Number.NaN]) {
        expect((await rejection(store.list({ workspace: 'ws', limit }))).code).toBe('BadRequest');
      }
      expect(
        (await rejection(store.list({ workspace: 'ws', limit: 5, states: ['nope' as CommandState] }))).code,
      ).toBe('BadRequest');
    });

    it('caps a page at 1000 and pages back through everything with beforeSeq', async () => {
      const n = 1205;
      await store.add(Array.from({ length: n }, (_, i) => cmd(i, { request: undefined })));
      const first = await store.list({ workspace: 'ws', limit: 5000 });
      expect(first).toHaveLength(1000);
      const seen = first.map((c) => c.requestId);
      let before = first[first.length - 1]!.seq;
      for (;;) {
        const page = await store.list({ workspace: 'ws', limit: 300, beforeSeq: before });
        if (!page.length) break;
        seen.push(...page.map((c) => c.requestId));
        before = page[page.length - 1]!.seq;
      }
      expect(seen).toEqual(Array.from({ length: n }, (_, i) => `req-${n - 1 - i}`));
    });

    it("answers a twin's pending commands oldest first, by default the open ones", async () => {
      await store.add([
        cmd(1),
        cmd(2),
        cmd(3, { twinId: 'other' }),
        cmd(4),
        cmd(5),
        cmd(6, { workspace: 'ws2' }),
      ]);
      await store.transition([
        step('req-1', ['queued'], 'sent', 10),
        step('req-2', ['queued'], 'sent', 10),
        step('req-2', ['sent'], 'succeeded', 11),
        step('req-4', ['queued'], 'sent', 12),
        step('req-4', ['sent'], 'acknowledged', 13),
      ]);
      expect((await store.pending('ws', 'pump-1')).map((c) => [c.requestId, c.state])).toEqual([
        ['req-1', 'sent'],
        ['req-4', 'acknowledged'],
        ['req-5', 'queued'],
      ]);
      expect((await store.pending('ws', 'pump-1', ['queued'])).map((c) => c.requestId)).toEqual(['req-5']);
      expect((await store.pending('ws', 'pump-1', ['succeeded', 'sent'])).map((c) => c.requestId)).toEqual([
        'req-1',
        'req-2',
      ]);
      expect(await store.pending('ws', 'pump-1', [])).toEqual([]);
      expect((await store.pending('ws2', 'pump-1')).map((c) => c.requestId)).toEqual(['req-6']);
      expect(await store.pending('ws', 'nobody')).toEqual([]);
      const p = await store.pending('ws', 'pump-1');
      expect(p[0]).toEqual(await store.get('ws', 'req-1'));
    });

    it('names every twin with a queued command, once, in every workspace', async () => {
      expect(await store.queuedTwins()).toEqual([]);
      await store.add([
        cmd(1, { twinId: 'a' }),
        cmd(2, { twinId: 'a' }),
        cmd(3, { twinId: 'b' }),
        cmd(4, { twinId: 'a', workspace: 'ws2' }),
        cmd(5, { twinId: 'c' }),
      ]);
      await store.transition([
        step('req-3', ['queued'], 'sent', 10),
        step('req-5', ['queued'], 'cancelled', 10),
      ]);
      const key = (x: { workspace: string; twinId: string }): string => `${x.workspace}/${x.twinId}`;
      expect((await store.queuedTwins()).map(key).sort()).toEqual(['ws/a', 'ws2/a']);
      await store.transition([step('req-1', ['queued'], 'sent', 11), step('req-2', ['queued'], 'sent', 11)]);
      expect((await store.queuedTwins()).map(key)).toEqual(['ws2/a']);
    });

    it('expires due open commands only, oldest expiry first, at most limit, saying what each waited for', async () => {
      await store.add([
        cmd(1, { expiresAt: 5000 }), // will be sent
        cmd(2, { expiresAt: 4000 }), // stays queued
        cmd(3, { expiresAt: 4500 }), // acknowledged
        cmd(4, { expiresAt: 3000 }), // succeeded: never expires
        cmd(5, { expiresAt: 9000 }), // not due
        cmd(6, { expiresAt: 4200, workspace: 'ws2' }), // another workspace: swept too
      ]);
      await store.transition([
        step('req-1', ['queued'], 'sent', 2000),
        step('req-3', ['queued'], 'sent', 2000),
        step('req-3', ['sent'], 'acknowledged', 2001),
        step('req-4', ['queued'], 'sent', 2000),
        step('req-4', ['sent'], 'succeeded', 2002),
      ]);
      expect(await store.expireDue(2999, 100)).toEqual([]);
      expect(await store.expireDue(6000, 0)).toEqual([]);
      const first = await store.expireDue(6000, 2);
      expect(first.map((c) => c.requestId)).toEqual(['req-2', 'req-6']);
      const rest = await store.expireDue(6000, 100);
      expect(rest.map((c) => c.requestId)).toEqual(['req-3', 'req-1']);
      expect(await store.expireDue(6000, 100)).toEqual([]);
      for (const c of [...first, ...rest]) {
        expect(c.state).toBe('expired');
        expect(c.steps[c.steps.length - 1]).toEqual({ state: 'expired', at: 6000 });
        expect(await store.get(c.workspace, c.requestId)).toEqual(c);
      }
      const reason = (id: string, ws = 'ws'): string | undefined =>
        [...first, ...rest].find((c) => c.requestId === id && c.workspace === ws)?.reason;
      expect(reason('req-2')).toMatch(/queued/);
      expect(reason('req-2')).toMatch(/did not connect|never sent/);
      expect(reason('req-1')).toMatch(/sent/);
      expect(reason('req-1')).toMatch(/no acknowledgement/);
      expect(reason('req-3')).toMatch(/acknowledged/);
      expect(reason('req-3')).toMatch(/no final response/);
      expect(reason('req-6', 'ws2')).toBe(reason('req-2'));
      expect((await store.get('ws', 'req-4'))!.state).toBe('succeeded');
      expect((await store.get('ws', 'req-5'))!.state).toBe('queued');
      expect(await store.expireDue(9000, 10)).toHaveLength(1);
      expect((await rejection(store.expireDue(9000, -1))).code).toBe('BadRequest');
    });

    it('counts open commands per state in a workspace', async () => {
      expect(await store.countOpen('ws')).toEqual({ queued: 0, sent: 0, acknowledged: 0 });
      await store.add([cmd(1), cmd(2), cmd(3), cmd(4), cmd(5), cmd(6, { workspace: 'ws2' })]);
      await store.transition([
        step('req-1', ['queued'], 'sent', 10),
        step('req-2', ['queued'], 'sent', 10),
        step('req-2', ['sent'], 'acknowledged', 10),
        step('req-3', ['queued'], 'cancelled', 10),
      ]);
      expect(await store.countOpen('ws')).toEqual({ queued: 2, sent: 1, acknowledged: 1 });
      expect(await store.countOpen('ws2')).toEqual({ queued: 1, sent: 0, acknowledged: 0 });
    });

    it('prunes only finished commands whose last step is older than before', async () => {
      await store.add([cmd(1), cmd(2), cmd(3), cmd(4), cmd(5, { workspace: 'ws2' })]);
      await store.transition([
        step('req-1', ['queued'], 'sent', 100),
        step('req-1', ['sent'], 'succeeded', 200),
        step('req-2', ['queued'], 'cancelled', 300),
        step('req-3', ['queued'], 'sent', 50), // open: kept, however old
        step('req-5', ['queued'], 'sent', 100, { workspace: 'ws2' }),
        step('req-5', ['sent'], 'failed', 150, { workspace: 'ws2', reason: 'no' }),
      ]);
      expect(await store.prune(150)).toBe(0);
      expect(await store.prune(201)).toBe(2); // req-1 (at 200) and ws2's req-5 (at 150)
      expect(await store.get('ws', 'req-1')).toBeUndefined();
      expect(await store.get('ws2', 'req-5')).toBeUndefined();
      expect(await store.get('ws', 'req-2')).toBeDefined();
      expect(await store.prune(10_000_000)).toBe(1);
      expect((await store.list({ workspace: 'ws', limit: 10 })).map((c) => c.requestId)).toEqual([
        'req-4',
        'req-3',
      ]);
    });

    it('keeps workspaces apart', async () => {
      const [a] = await store.add([cmd(1)]);
      const [b] = await store.add([cmd(1, { workspace: 'ws2', request: 'other' })]);
      expect(a!.seq).not.toBe(b!.seq);
      await one(store, step('req-1', ['queued'], 'sent', 10, { workspace: 'ws2' }));
      expect((await store.get('ws', 'req-1'))!.state).toBe('queued');
      expect((await store.get('ws2', 'req-1'))!).toMatchObject({ state: 'sent', request: 'other' });
      expect((await store.list({ workspace: 'ws', limit: 10 })).map((c) => c.workspace)).toEqual(['ws']);
      expect(await store.countOpen('ws')).toEqual({ queued: 1, sent: 0, acknowledged: 0 });
      expect(await store.countOpen('ws2')).toEqual({ queued: 0, sent: 1, acknowledged: 0 });
      expect(await store.pending('ws2', 'pump-1', ['queued'])).toEqual([]);
    });

    it('keeps everything across closing and reopening, and seq keeps increasing', async () => {
      const added = await store.add([cmd(1), cmd(2), cmd(3)]);
      await store.transition([
        step('req-1', ['queued'], 'sent', 10),
        step('req-1', ['sent'], 'acknowledged', 11, { status: 202 }),
        step('req-3', ['queued'], 'sent', 12),
        step('req-3', ['sent'], 'failed', 13, {
          status: 400,
          response: { error: 'bad' },
          reason: 'the device refused it',
        }),
      ]);
      const before = await store.list({ workspace: 'ws', limit: 10 });
      expect(await store.prune(100)).toBe(1); // the newest is gone
      store = await fx.reopen();
      expect(await store.list({ workspace: 'ws', limit: 10 })).toEqual(before.slice(1));
      expect(await store.countOpen('ws')).toEqual({ queued: 1, sent: 0, acknowledged: 1 });
      expect((await store.queuedTwins()).map((t) => t.twinId)).toEqual(['pump-1']);
      const [later] = await store.add([cmd(4)]);
      expect(later!.seq).toBeGreaterThan(added[2]!.seq); // a seq is never given twice
      const done = await one(
        store,
        step('req-1', ['acknowledged'], 'succeeded', 20, { status: 200, response: [1] }),
      );
      expect(done!.steps.map((s) => s.state)).toEqual(['queued', 'sent', 'acknowledged', 'succeeded']);
    });

    it('stores many commands added and moved by concurrent callers, each call in order', async () => {
      const calls = 200;
      const results = await Promise.all(
        Array.from({ length: calls }, (_, k) =>
          store.add([cmd(k * 2, { twinId: `t${k % 7}` }), cmd(k * 2 + 1, { twinId: `t${k % 7}` })]),
        ),
      );
      const seqs = results.flat().map((c) => c.seq);
      expect(new Set(seqs).size).toBe(calls * 2);
      for (const r of results) expect(r[0]!.seq).toBeLessThan(r[1]!.seq);
      const moved = await Promise.all(
        Array.from({ length: calls * 2 }, (_, i) =>
          store.transition([
            step(`req-${i}`, ['queued'], 'sent', 50),
            step(`req-${i}`, ['sent'], 'acknowledged', 51),
          ]),
        ),
      );
      expect(moved.every((m) => m[0]?.state === 'sent' && m[1]?.state === 'acknowledged')).toBe(true);
      expect(await store.countOpen('ws')).toEqual({ queued: 0, sent: 0, acknowledged: calls * 2 });
      // a twin's pending commands come in seq order
      const t0 = await store.pending('ws', 't0');
      for (let i = 1; i < t0.length; i++) expect(t0[i]!.seq).toBeGreaterThan(t0[i - 1]!.seq);
    });

    it('keeps a NUL in an id or requestedBy, or refuses it with BadRequest', async () => {
      const odd = cmd(1, { requestId: 'a\u0000b', twinId: 't\u0000', requestedBy: 'x\u0000y' });
      try {
        const [r] = await store.add([odd]);
        expect(await store.get('ws', 'a\u0000b')).toEqual(r);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('BadRequest');
        expect((e as Error).message).toMatch(/NUL/);
        expect(await store.get('ws', 'a\u0000b')).toBeUndefined();
        expect(await one(store, step('a\u0000b', ['queued'], 'sent', 1))).toBeUndefined();
        expect(await store.pending('ws', 't\u0000')).toEqual([]);
      }
      // odd but legal text is kept exactly
      const id = 'ünï "code" \' ; DROP TABLE commands; --';
      await store.add([cmd(2, { requestId: id, twinId: id, command: 'comp/cmd ✓' })]);
      expect(await store.get('ws', id)).toMatchObject({ twinId: id, command: 'comp/cmd ✓' });
      expect((await store.pending('ws', id)).map((c) => c.requestId)).toEqual([id]);
    });
  });
}
