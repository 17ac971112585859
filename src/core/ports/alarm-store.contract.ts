/**
 * The contract every AlarmStore adapter passes: call describeAlarmStoreContract from the adapter's
 * test file with a factory for a fresh, empty store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  acknowledgeAlarm,
  clearAlarm,
  newAlarm,
  repeatAlarm,
  type AlarmRaiseInput,
  type AlarmRecord,
} from '../alarms/alarm.js';
import type { AlarmStore, AlarmWrite } from './alarm-store.js';
import type { EventOutbox } from './event-routing.js';

export interface AlarmStoreFixture {
  store: AlarmStore;
  /** The event outbox the store writes its rows into (the test of outbox rows is skipped without one). */
  outbox?: () => EventOutbox;
  /** Closes the current store and opens a new one on the same data. */
  reopen(): Promise<AlarmStore>;
  cleanup(): Promise<void>;
}

function raise(over: Partial<AlarmRaiseInput> = {}): AlarmRaiseInput {
  return {
    workspace: 'ws',
    twinId: 'pump-1',
    ruleId: 'vibration-high',
    ruleVersion: 1,
    severity: 'major',
    message: 'vibration 7.9 mm/s above 7.1',
    time: 1000,
    value: 7.9,
    ...over,
  };
}

/** Writes of new alarms. */
const created = (...alarms: AlarmRecord[]): AlarmWrite[] =>
  alarms.map((alarm) => ({ alarm, expectedRevision: 0 }));
/** The write of `alarm`, changed over `before` as its writer read it. */
const over = (before: AlarmRecord, alarm: AlarmRecord): AlarmWrite => ({
  alarm,
  expectedRevision: before.revision,
});

export function describeAlarmStoreContract(name: string, make: () => Promise<AlarmStoreFixture>): void {
  describe(`AlarmStore contract: ${name}`, () => {
    let fx: AlarmStoreFixture;
    let store: AlarmStore;
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('keeps an alarm through its lifecycle and across reopen', async () => {
      const a = newAlarm('a1', raise());
      await store.write(created(a));
      const repeated = repeatAlarm(a, raise({ time: 2000, value: 8.2, severity: 'critical' }));
      const acked = acknowledgeAlarm(repeated, 'ana', 'on my way', 2500);
      await store.write([over(a, acked)]);
      store = await fx.reopen();
      expect(await store.get('ws', 'a1')).toEqual(acked);
      expect(await store.open('ws', 'pump-1', 'vibration-high')).toEqual(acked);
      expect(await store.get('other', 'a1')).toBeUndefined();
      expect(await store.get('ws', 'nope')).toBeUndefined();
      const cleared = clearAlarm(acked, 'condition', 'back below 6.8', 3000);
      await store.write([over(acked, cleared)]);
      expect(await store.open('ws', 'pump-1', 'vibration-high')).toBeUndefined();
      expect(await store.get('ws', 'a1')).toEqual(cleared);
      // A raise after the clear is a new alarm of the same key.
      const again = newAlarm('a2', raise({ time: 4000 }));
      await store.write(created(again));
      expect(await store.open('ws', 'pump-1', 'vibration-high')).toEqual(again);
      expect(await store.countByState('ws')).toEqual({ active: 1, acknowledged: 0, cleared: 1 });
    });

    it('refuses a second open alarm of a twin and rule with Conflict, writing nothing of the batch', async () => {
      await store.write(created(newAlarm('a1', raise())));
      const other = newAlarm('b1', raise({ twinId: 'pump-2' }));
      const twin = newAlarm('a2', raise());
      await expect(store.write(created(other, twin))).rejects.toMatchObject({
        code: 'Conflict',
        innerCode: 'AlarmAlreadyOpen',
      });
      expect(await store.get('ws', 'b1')).toBeUndefined();
      expect(await store.get('ws', 'a2')).toBeUndefined();
      // Same twin and rule in another workspace, or another rule: fine.
      await store.write(
        created(newAlarm('a3', raise({ workspace: 'ws2' })), newAlarm('a4', raise({ ruleId: 'r2' }))),
      );
      expect((await store.open('ws2', 'pump-1', 'vibration-high'))?.id).toBe('a3');
      // Clearing one and opening its successor in one batch is allowed.
      const a1 = (await store.get('ws', 'a1'))!;
      await store.write([
        ...created(newAlarm('a5', raise({ time: 6000 }))),
        over(a1, clearAlarm(a1, 'ana', 'fixed', 5000)),
      ]);
      expect((await store.open('ws', 'pump-1', 'vibration-high'))?.id).toBe('a5');
    });

    it('writes a change only over the revision its writer read, and reads revisions back', async () => {
      const a = newAlarm('a1', raise());
      await store.write(created(a));
      const read = (await store.get('ws', 'a1'))!;
      expect(read.revision).toBe(1);
      // One write may carry many changes of an alarm: the revision jumps, the write names where it started.
      let many = read;
      for (let i = 0; i < 50; i++) many = repeatAlarm(many, raise({ time: 2000 + i }));
      await store.write([over(read, many)]);
      expect(await store.get('ws', 'a1')).toEqual(many);
      expect((await store.open('ws', 'pump-1', 'vibration-high'))?.revision).toBe(51);
      expect((await store.list({ workspace: 'ws', limit: 5 }))[0]?.revision).toBe(51);
      // A writer that read revision 1 is refused now, and nothing changes.
      const stale = acknowledgeAlarm(read, 'ana', undefined, 3000);
      await expect(store.write([over(read, stale)])).rejects.toMatchObject({
        code: 'Conflict',
        innerCode: 'AlarmChanged',
      });
      expect(await store.get('ws', 'a1')).toEqual(many);
      // Re-read and re-applied, it is written.
      const fresh = (await store.get('ws', 'a1'))!;
      const acked = acknowledgeAlarm(fresh, 'ana', undefined, 3000);
      await store.write([over(fresh, acked)]);
      store = await fx.reopen();
      expect(await store.get('ws', 'a1')).toEqual(acked);
      expect(acked.revision).toBe(52);
    });

    it('refuses a whole batch (alarms and outbox rows) when any alarm in it moved on', async () => {
      const a = newAlarm('a1', raise());
      const b = newAlarm('b1', raise({ twinId: 'pump-2' }));
      await store.write(created(a, b));
      // Node 1 and node 2 both read a at revision 1; node 2 writes first.
      const mine = repeatAlarm(a, raise({ time: 2000 }));
      const theirs = acknowledgeAlarm(a, 'bo', 'seen', 1500);
      await store.write([over(a, theirs)]);
      const event = { id: 'e1', type: 't', source: 'h', time: 1, data: {}, twinId: 'pump-1' };
      const rows = fx.outbox ? [{ endpoint: 'hook', orderKey: 'pump-1', event, created: 1 }] : [];
      // Node 1's batch: a fine change of b, a new alarm, then the stale change of a (last on purpose).
      const bNext = repeatAlarm(b, raise({ twinId: 'pump-2', time: 2000 }));
      const c = newAlarm('c1', raise({ twinId: 'pump-3' }));
      await expect(store.write([over(b, bNext), ...created(c), over(a, mine)], rows)).rejects.toMatchObject({
        code: 'Conflict',
        innerCode: 'AlarmChanged',
      });
      expect(await store.get('ws', 'a1')).toEqual(theirs); // the acknowledgement survives
      expect(await store.get('ws', 'b1')).toEqual(b);
      expect(await store.get('ws', 'c1')).toBeUndefined();
      if (fx.outbox) expect(await fx.outbox().pending(0, 10)).toEqual([]);
      // A stale clear batched with its successor: neither is written, the alarm stays open.
      const successor = newAlarm('a2', raise({ time: 3000 }));
      await expect(
        store.write([over(a, clearAlarm(a, 'ana', 'fixed', 2500)), ...created(successor)]),
      ).rejects.toMatchObject({ code: 'Conflict', innerCode: 'AlarmChanged' });
      expect((await store.open('ws', 'pump-1', 'vibration-high'))?.id).toBe('a1');
      expect(await store.get('ws', 'a2')).toBeUndefined();
    });

    it('refuses a new alarm whose id is taken, a change of an alarm that is gone, and revisions that stand still', async () => {
      const a = newAlarm('a1', raise());
      await store.write(created(a));
      const clash = newAlarm('a1', raise({ twinId: 'pump-9' }));
      await expect(store.write(created(clash))).rejects.toMatchObject({
        code: 'Conflict',
        innerCode: 'AlarmChanged',
      });
      expect(await store.get('ws', 'a1')).toEqual(a);
      // Cleared, pruned, then changed by a writer that read it before: refused, not re-created.
      const cleared = clearAlarm(a, 'condition', 'ok', 2000);
      await store.write([over(a, cleared)]);
      expect(await store.pruneCleared(3000)).toBe(1);
      await expect(
        store.write([over(cleared, acknowledgeAlarm(cleared, 'ana', undefined, 4000))]),
      ).rejects.toMatchObject({ code: 'Conflict', innerCode: 'AlarmChanged' });
      expect(await store.get('ws', 'a1')).toBeUndefined();
      // A revision that does not move forward, or an alarm twice in one write: BadRequest.
      const b = newAlarm('b1', raise({ twinId: 'pump-2' }));
      await store.write(created(b));
      await expect(store.write([{ alarm: b, expectedRevision: 1 }])).rejects.toMatchObject({
        code: 'BadRequest',
      });
      const b2 = repeatAlarm(b, raise({ twinId: 'pump-2' }));
      await expect(store.write([over(b, b2), over(b, repeatAlarm(b2, raise()))])).rejects.toMatchObject({
        code: 'BadRequest',
      });
      expect(await store.get('ws', 'b1')).toEqual(b);
    });

    it('lets one of two writers racing over the same revision win, the other refused', async () => {
      const a = newAlarm('a1', raise());
      await store.write(created(a));
      const twins = (n: number) => repeatAlarm(a, raise({ time: 2000 + n }));
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => store.write([over(a, twins(i))])),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const r of results)
        if (r.status === 'rejected')
          expect(r.reason).toMatchObject({ code: 'Conflict', innerCode: 'AlarmChanged' });
      expect(await store.get('ws', 'a1')).toMatchObject({ count: 2, revision: 2 });
    });

    it('modify: reads what it names, writes what its change returns, in one transaction', async () => {
      const a = newAlarm('a1', raise());
      const b = acknowledgeAlarm(newAlarm('b1', raise({ twinId: 'pump-2' })), 'ana', undefined, 1500);
      await store.write(created(a, b));
      let seen: string[] = [];
      await store.modify(
        {
          keys: [
            { workspace: 'ws', twinId: 'pump-1', ruleId: 'vibration-high' },
            { workspace: 'ws', twinId: 'pump-9', ruleId: 'vibration-high' },
          ],
          ids: [
            { workspace: 'ws', id: 'b1' },
            { workspace: 'ws', id: 'nope' },
            { workspace: 'ws', id: 'a1' }, // named twice (by key and by id): read once
          ],
        },
        (current) => {
          seen = current.map((x) => `${x.id}@${x.revision}`).sort();
          const cur = current.find((x) => x.id === 'a1')!;
          const curB = current.find((x) => x.id === 'b1')!;
          return {
            changes: [
              over(cur, repeatAlarm(cur, raise({ time: 2000 }))),
              over(curB, clearAlarm(curB, 'bo', 'done', 2500)),
              ...created(newAlarm('c1', raise({ twinId: 'pump-9' }))),
            ],
            outbox: [],
          };
        },
      );
      expect(seen).toEqual(['a1@1', 'b1@2']);
      expect(await store.get('ws', 'a1')).toMatchObject({ count: 2, revision: 2 });
      expect(await store.get('ws', 'b1')).toMatchObject({ state: 'cleared', revision: 3 });
      expect((await store.open('ws', 'pump-9', 'vibration-high'))?.id).toBe('c1');
      // Nothing to write: nothing written.
      await store.modify({ keys: [], ids: [{ workspace: 'ws', id: 'a1' }] }, () => ({
        changes: [],
        outbox: [],
      }));
      expect((await store.get('ws', 'a1'))?.revision).toBe(2);
    });

    it('modify: writes nothing when the change throws (its error as is) or is refused', async () => {
      const a = newAlarm('a1', raise());
      await store.write(created(a));
      const reads = { keys: [{ workspace: 'ws', twinId: 'pump-1', ruleId: 'vibration-high' }], ids: [] };
      const oops = new Error('journal failed');
      await expect(
        store.modify(reads, () => {
          throw oops;
        }),
      ).rejects.toBe(oops);
      const stale = {
        changes: [{ alarm: { ...repeatAlarm(a, raise()), revision: 8 }, expectedRevision: 7 }],
        outbox: [],
      };
      await expect(store.modify(reads, () => stale)).rejects.toMatchObject({
        code: 'Conflict',
        innerCode: 'AlarmChanged',
      });
      const second = { changes: created(newAlarm('a2', raise())), outbox: [] };
      await expect(store.modify(reads, () => second)).rejects.toMatchObject({
        code: 'Conflict',
        innerCode: 'AlarmAlreadyOpen',
      });
      expect(await store.get('ws', 'a1')).toEqual(a);
      expect(await store.get('ws', 'a2')).toBeUndefined();
    });

    it('modify: concurrent read-change-writes of one alarm all land, one after the other', async () => {
      await store.write(created(newAlarm('a1', raise())));
      const reads = { keys: [{ workspace: 'ws', twinId: 'pump-1', ruleId: 'vibration-high' }], ids: [] };
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.modify(reads, (current) => {
            const cur = current[0]!;
            return { changes: [over(cur, repeatAlarm(cur, raise({ time: 2000 + i })))], outbox: [] };
          }),
        ),
      );
      expect(await store.get('ws', 'a1')).toMatchObject({ count: 11, revision: 11, lastTime: 2009 });
    });

    it('lists newest first with every filter, paged without gaps or duplicates', async () => {
      const all: AlarmRecord[] = [];
      for (let i = 0; i < 30; i++) {
        let a = newAlarm(
          `al-${String(i).padStart(2, '0')}`,
          raise({
            twinId: `pump-${i % 3}`,
            ruleId: `rule-${i}`,
            severity: i % 2 ? 'minor' : 'critical',
            time: 10_000 + Math.floor(i / 2) * 100, // pairs share a firstTime: ordered by id
          }),
        );
        if (i % 5 === 1) a = acknowledgeAlarm(a, 'bo', undefined, 20_000);
        if (i % 5 === 2) a = clearAlarm(a, 'condition', 'ok', 30_000 + i);
        all.push(a);
      }
      await store.write(created(...all));
      await store.write(created(newAlarm('elsewhere', raise({ workspace: 'ws2' }))));
      const newestFirst = [...all].sort((x, y) => y.firstTime - x.firstTime || (y.id < x.id ? -1 : 1));
      const ids: string[] = [];
      let after: { firstTime: number; id: string } | undefined;
      for (;;) {
        const page = await store.list({ workspace: 'ws', limit: 7, ...(after ? { after } : {}) });
        if (page.length === 0) break;
        ids.push(...page.map((a) => a.id));
        const last = page[page.length - 1]!;
        after = { firstTime: last.firstTime, id: last.id };
      }
      expect(ids).toEqual(newestFirst.map((a) => a.id));
      const pick = async (q: Partial<Parameters<AlarmStore['list']>[0]>) =>
        (await store.list({ workspace: 'ws', limit: 100, ...q })).map((a) => a.id);
      const want = (f: (a: AlarmRecord) => boolean) => newestFirst.filter(f).map((a) => a.id);
      expect(await pick({ states: ['acknowledged'] })).toEqual(want((a) => a.state === 'acknowledged'));
      expect(await pick({ states: ['active', 'acknowledged'] })).toEqual(want((a) => a.state !== 'cleared'));
      expect(await pick({ twinId: 'pump-1' })).toEqual(want((a) => a.twinId === 'pump-1'));
      expect(await pick({ ruleId: 'rule-7' })).toEqual(['al-07']);
      expect(await pick({ severities: ['minor'], states: ['cleared'] })).toEqual(
        want((a) => a.severity === 'minor' && a.state === 'cleared'),
      );
      expect(await pick({ since: 11_000, until: 11_300 })).toEqual(
        want((a) => a.lastTime >= 11_000 && a.firstTime < 11_300),
      );
      expect(await pick({ twinId: 'nobody' })).toEqual([]);
      expect(await pick({ states: [] })).toEqual([]);
      expect(await store.countByState('ws')).toEqual({ active: 18, acknowledged: 6, cleared: 6 });
      expect(await store.countByState('empty')).toEqual({ active: 0, acknowledged: 0, cleared: 0 });
    });

    it('prunes cleared alarms cleared before the cutoff only', async () => {
      const old = clearAlarm(newAlarm('old', raise({ ruleId: 'r1' })), 'ana', 'done', 5000);
      const recent = clearAlarm(newAlarm('recent', raise({ ruleId: 'r2' })), 'ana', 'done', 9000);
      const openOld = newAlarm('open-old', raise({ ruleId: 'r3', time: 1 }));
      await store.write(created(old, recent, openOld, newAlarm('w2', raise({ workspace: 'w2', time: 1 }))));
      expect(await store.pruneCleared(5000)).toBe(0);
      expect(await store.pruneCleared(8000)).toBe(1);
      expect(await store.get('ws', 'old')).toBeUndefined();
      expect(await store.get('ws', 'recent')).toBeDefined();
      expect(await store.get('ws', 'open-old')).toBeDefined();
    });

    it('writes a thousand alarms in one call and keeps odd texts as given', async () => {
      const many = Array.from({ length: 1000 }, (_, i) => newAlarm(`m${i}`, raise({ twinId: `t${i}` })));
      await store.write(created(...many));
      expect((await store.countByState('ws')).active).toBe(1000);
      const odd = newAlarm(
        'ünï "id" \' ; DROP TABLE alarms; --',
        raise({ twinId: 'tw/ïn %_', ruleId: "r'1", message: '√ ✓ 🚨 <b>' }),
      );
      await store.write(created(acknowledgeAlarm(odd, 'Zoë <z@x>', 'a\nb'.repeat(500), 1)));
      expect(await store.get('ws', odd.id)).toMatchObject({
        message: '√ ✓ 🚨 <b>',
        acknowledged: { by: 'Zoë <z@x>', comment: 'a\nb'.repeat(500) },
      });
      expect((await store.list({ workspace: 'ws', limit: 5, twinId: 'tw/ïn %_' })).map((a) => a.id)).toEqual([
        odd.id,
      ]);
      expect(await store.list({ workspace: 'ws', limit: 5, twinId: 'tw/%' })).toEqual([]);
    });

    it('stores outbox rows with the alarms, and none when the write is refused', async (ctx) => {
      if (!fx.outbox) return ctx.skip();
      const a = newAlarm('o1', raise());
      const event = {
        id: 'e1',
        type: 'Twinloop.Alarm.Raised',
        source: 'h',
        time: 1000,
        data: {},
        twinId: 'pump-1',
      };
      await store.write(created(a), [{ endpoint: 'hook', orderKey: 'pump-1', event, created: 1000 }]);
      const pending = await fx.outbox().pending(0, 10);
      expect(pending.map((p) => [p.endpoint, p.event.id])).toEqual([['hook', 'e1']]);
      const dup = newAlarm('o2', raise());
      await expect(
        store.write(created(dup), [
          { endpoint: 'hook', orderKey: 'pump-1', event: { ...event, id: 'e2' }, created: 1 },
        ]),
      ).rejects.toMatchObject({ code: 'Conflict' });
      expect((await fx.outbox().pending(0, 10)).map((p) => p.event.id)).toEqual(['e1']);
    });

    it('keeps or refuses (BadRequest) a NUL in a text, never a StorageError', async () => {
      const a = newAlarm('nul', raise({ message: 'x\u0000y' }));
      try {
        await store.write(created(a));
        expect(await store.get('ws', 'nul')).toEqual(a);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('BadRequest');
        expect(await store.get('ws', 'nul')).toBeUndefined();
      }
      expect(await store.get('ws', 'a\u0000b')).toBeUndefined();
      expect(await store.open('ws', 'a\u0000b', 'r')).toBeUndefined();
      expect(await store.list({ workspace: 'ws', limit: 5, twinId: 'a\u0000b' })).toEqual([]);
    });
  });
}
