import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { TwinloopError } from '../errors/errors.js';
import { InMemoryTwinGraph } from '../graph/in-memory-twin-graph.js';
import { QueryCursorStore } from './query-cursors.js';
import { executeQuery, executeQueryAsync, type QueryOptions } from './query-executor.js';
import { rel, testIsOfModel, twin } from './query-test-graph.js';

function twins(n: number): InMemoryTwinGraph {
  const g = new InMemoryTwinGraph();
  for (let i = 0; i < n; i++) g.putTwin(twin(`t${i}`, 'Node', { i }));
  return g;
}

const errorOf = (fn: () => unknown): TwinloopError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TwinloopError);
    return e as TwinloopError;
  }
  throw new Error('expected an error');
};

const text = 'SELECT T.$dtId AS id FROM DIGITALTWINS T';

describe('paging by kept cursors', () => {
  it('a write between pages neither repeats nor skips rows', () => {
    const g = twins(30);
    const o: QueryOptions = { isOfModel: testIsOfModel, cursors: new QueryCursorStore(), pageSize: 10 };
    const p1 = executeQuery(g, text, o);
    const seen = (p1.value as { id: string }[]).map((r) => r.id);
    expect(seen).toHaveLength(10);
    // Between pages: delete two rows already returned (an offset would now skip two), update one
    // not returned yet, and add a twin.
    g.deleteTwin('t0');
    g.deleteTwin('t1');
    g.putTwin(twin('t15', 'Node', { i: 1500 }));
    g.putTwin(twin('new', 'Node', { i: -1 }));
    let token = p1.continuationToken;
    while (token) {
      const p = executeQuery(g, text, { ...o, continuationToken: token });
      seen.push(...(p.value as { id: string }[]).map((r) => r.id));
      token = p.continuationToken;
    }
    const expected = Array.from({ length: 30 }, (_, i) => `t${i}`);
    expect(seen).toEqual(expected);
  });

  it('page k costs the work of one page, not of the k pages before it', async () => {
    const g = twins(2000);
    // A JOIN-free MATCH over relationships too: each twin has one.
    for (let i = 0; i + 1 < 2000; i++) g.putRelationship(rel(`t${i}`, 'next', `t${i + 1}`));
    const o: QueryOptions = { isOfModel: testIsOfModel, cursors: new QueryCursorStore(), pageSize: 50 };
    for (const q of [text, 'SELECT b.$dtId AS id FROM DIGITALTWINS MATCH (a)-[:next]->(b)']) {
      const visits: number[] = [];
      let rows = 0;
      let token: string | null = null;
      do {
        const p = await executeQueryAsync(g, q, { ...o, continuationToken: token });
        visits.push(p.visits);
        rows += p.value.length;
        token = p.continuationToken;
      } while (token);
      expect(rows).toBeGreaterThanOrEqual(1999);
      expect(visits.length).toBe(Math.ceil(rows / 50));
      // Each page visits about one page of rows (a MATCH row costs a twin and a relationship).
      for (const v of visits) expect(v).toBeLessThanOrEqual(2 * 51 + 2);
    }
  });

  it('an expired token is a clear ContinuationTokenExpired (410), as is a token used twice', () => {
    let now = 1_000;
    const cursors = new QueryCursorStore({ maxCursors: 10, maxBytes: 1 << 20, ttlMs: 60_000 }, () => now);
    const g = twins(30);
    const o: QueryOptions = { isOfModel: testIsOfModel, cursors, pageSize: 10 };
    const p1 = executeQuery(g, text, o);
    expect(cursors.size).toBe(1);
    const p2 = executeQuery(g, text, { ...o, continuationToken: p1.continuationToken });
    expect(p2.value).toHaveLength(10);
    const again = errorOf(() => executeQuery(g, text, { ...o, continuationToken: p1.continuationToken }));
    expect(again.code).toBe('ContinuationTokenExpired');
    expect(again.status).toBe(410);
    expect(again.message).toContain('already used');
    now += 60_001;
    const late = errorOf(() => executeQuery(g, text, { ...o, continuationToken: p2.continuationToken }));
    expect(late.code).toBe('ContinuationTokenExpired');
    expect(late.message).toMatch(/expired.*60 s.*query\.cursorTtlMs/);
    expect(cursors.size).toBe(0);
    // A forged token is still InvalidContinuationToken, not "expired".
    expect(errorOf(() => executeQuery(g, text, { ...o, continuationToken: 'x.y' })).code).toBe(
      'InvalidContinuationToken',
    );
  });

  it('keeps at most maxCursors cursors and maxBytes: the least recently used is dropped', () => {
    const g = twins(30);
    const cursors = new QueryCursorStore({ maxCursors: 2, maxBytes: 1 << 20, ttlMs: 60_000 });
    const o: QueryOptions = { isOfModel: testIsOfModel, cursors, pageSize: 5 };
    const a = executeQuery(g, text, o);
    const b = executeQuery(g, text, o);
    const c = executeQuery(g, text, o);
    expect(cursors.size).toBe(2);
    expect(errorOf(() => executeQuery(g, text, { ...o, continuationToken: a.continuationToken })).code).toBe(
      'ContinuationTokenExpired',
    );
    expect(executeQuery(g, text, { ...o, continuationToken: b.continuationToken }).value).toHaveLength(5);
    expect(executeQuery(g, text, { ...o, continuationToken: c.continuationToken }).value).toHaveLength(5);

    const tiny = new QueryCursorStore({ maxCursors: 100, maxBytes: 5000, ttlMs: 60_000 });
    for (let i = 0; i < 5; i++) executeQuery(g, text, { ...o, cursors: tiny });
    expect(tiny.bytes).toBeLessThanOrEqual(5000);
    expect(tiny.size).toBeLessThan(5);
  });

  it('a token of one graph is refused on another', () => {
    const cursors = new QueryCursorStore();
    const o: QueryOptions = { isOfModel: testIsOfModel, cursors, pageSize: 5 };
    const p = executeQuery(twins(30), text, o);
    expect(
      errorOf(() => executeQuery(twins(30), text, { ...o, continuationToken: p.continuationToken })).code,
    ).toBe('InvalidContinuationToken');
  });

  it('any token a client makes up is a clear 400 or 410, never a crash or another page', () => {
    const g = twins(30);
    const cursors = new QueryCursorStore();
    const o: QueryOptions = { isOfModel: testIsOfModel, cursors, pageSize: 5 };
    const real = executeQuery(g, text, o).continuationToken as string;
    const [payload] = real.split('.') as [string, string];
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string().map((sig) => `${payload}.${sig}`),
          fc
            .jsonValue()
            .map((v) => `${Buffer.from(JSON.stringify(v)).toString('base64url')}.${real.split('.')[1]}`),
        ),
        (token) => {
          if (token === '' || token === real) return;
          const e = errorOf(() => executeQuery(g, text, { ...o, continuationToken: token }));
          expect(['InvalidContinuationToken', 'ContinuationTokenExpired']).toContain(e.code);
        },
      ),
    );
    // The real token still works after all that.
    expect(executeQuery(g, text, { ...o, continuationToken: real }).value).toHaveLength(5);
  });

  it('property: whatever is written between pages, no row repeats and no surviving twin is skipped', () => {
    type Op = { kind: 'delete' | 'update' | 'add'; i: number };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(
          fc.array(fc.record({ kind: fc.constantFrom('delete', 'update', 'add'), i: fc.nat(80) }), {
            maxLength: 6,
          }),
          {
            maxLength: 20,
          },
        ),
        (n, pageSize, writes: Op[][]) => {
          const g = twins(n);
          const o: QueryOptions = { isOfModel: testIsOfModel, cursors: new QueryCursorStore(), pageSize };
          const seen: string[] = [];
          const deleted = new Set<string>();
          let page = executeQuery(g, text, o);
          let k = 0;
          for (;;) {
            seen.push(...(page.value as { id: string }[]).map((r) => r.id));
            if (!page.continuationToken) break;
            for (const w of writes[k++ % Math.max(1, writes.length)] ?? []) {
              const id = `t${w.i}`;
              if (w.kind === 'delete' && g.getTwin(id)) {
                g.deleteTwin(id);
                deleted.add(id);
              } else if (w.kind === 'update' && g.getTwin(id)) g.putTwin(twin(id, 'Node', { i: -w.i }));
              else if (w.kind === 'add' && !g.getTwin(`x${w.i}`))
                g.putTwin(twin(`x${w.i}`, 'Node', { i: w.i }));
            }
            page = executeQuery(g, text, { ...o, continuationToken: page.continuationToken });
          }
          expect(new Set(seen).size).toBe(seen.length); // nothing repeats
          for (let i = 0; i < n; i++) if (!deleted.has(`t${i}`)) expect(seen).toContain(`t${i}`); // nothing skipped
          for (const id of seen) expect(id.startsWith('t')).toBe(true); // twins created after the query began are not in it
          // A deleted twin is returned only if it was returned before its deletion: seen order is creation order.
          expect(seen).toEqual([...seen].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))));
        },
      ),
      { numRuns: 60 },
    );
  });
});
