import { describe, it, expect } from 'vitest';
import { TwinloopError } from '../errors/errors.js';
import { InMemoryTwinGraph } from '../graph/in-memory-twin-graph.js';
import { DEFAULT_QUERY_BUDGET } from './query-budget.js';
import { QueryCursorStore } from './query-cursors.js';
import { executeQuery, executeQueryAsync, type QueryOptions } from './query-executor.js';
import { rel, testIsOfModel, twin } from './query-test-graph.js';

/** c0 -next-> c1 -next-> … -next-> c(n-1). */
function chain(n: number): InMemoryTwinGraph {
  const g = new InMemoryTwinGraph();
  for (let i = 0; i < n; i++) g.putTwin(twin(`c${i}`, 'Node', { i }));
  for (let i = 0; i + 1 < n; i++) g.putRelationship(rel(`c${i}`, 'next', `c${i + 1}`));
  return g;
}

/** n twins, each linked to the next `degree` twins (mod n): every twin reaches every other. */
function dense(n: number, degree: number): InMemoryTwinGraph {
  const g = new InMemoryTwinGraph();
  for (let i = 0; i < n; i++) g.putTwin(twin(`d${i}`, 'Node', { i }));
  for (let i = 0; i < n; i++)
    for (let k = 1; k <= degree; k++) g.putRelationship(rel(`d${i}`, 'link', `d${(i + k) % n}`));
  return g;
}

const opts = (): QueryOptions => ({ isOfModel: testIsOfModel, cursors: new QueryCursorStore() });

async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<TwinloopError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(TwinloopError);
    return e as TwinloopError;
  }
  throw new Error('expected an error');
}

describe('every query has a work budget', () => {
  it('an unanchored MATCH over a 300-twin chain fails with QueryBudgetExceeded after maxVisits, naming the limit', async () => {
    const g = chain(300);
    const text = 'SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[*]->(b)-[*]->(c)';
    const e = await errorOf(executeQueryAsync(g, text, opts()));
    expect(e.code).toBe('QueryBudgetExceeded');
    expect(e.status).toBe(422);
    expect(e.details).toMatchObject({ limit: 'maxVisits', value: DEFAULT_QUERY_BUDGET.maxVisits });
    expect((e.details as { visits: number }).visits).toBe(DEFAULT_QUERY_BUDGET.maxVisits + 1);
    expect(e.message).toMatch(/query\.maxVisits.*TWINLOOP_QUERY_MAX_VISITS.*--query-max-visits/);
    // The same query within a raised budget: the answer, not an error.
    const small = chain(40);
    const page = executeQuery(small, text, { ...opts(), budget: { maxVisits: 1e9 } });
    expect(page.value).toEqual([{ COUNT: (40 * 39 * 38) / 6 }]);
  });

  it('an unanchored MATCH over 320 densely linked twins fails the same way, after the same work', async () => {
    const g = dense(320, 16);
    const e = await errorOf(
      executeQueryAsync(g, 'SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[*]-(b)-[*]-(c)', opts()),
    );
    expect(e.code).toBe('QueryBudgetExceeded');
    expect(e.details).toMatchObject({ limit: 'maxVisits' });
    // A small visit budget fails even the first page of a plain scan that does more work than it allows.
    const scan = await errorOf(() =>
      executeQuery(g, 'SELECT COUNT() FROM DIGITALTWINS T WHERE T.i > 1000', {
        ...opts(),
        budget: { maxVisits: 100 },
      }),
    );
    expect(scan.details).toMatchObject({ limit: 'maxVisits', value: 100, visits: 101 });
  });

  it('the wall-time limit stops a query whatever its visit count, and says how to raise it', async () => {
    let t = 0;
    const e = await errorOf(
      executeQueryAsync(dense(320, 16), 'SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[*]-(b)', {
        ...opts(),
        budget: { maxVisits: 1e12, timeoutMs: 1000, sliceMs: 5 },
        now: () => (t += 0.1), // a fake clock: 0.1 ms per reading
      }),
    );
    expect(e.code).toBe('QueryBudgetExceeded');
    expect(e.details).toMatchObject({ limit: 'timeoutMs', value: 1000 });
    expect(e.message).toMatch(/query\.timeoutMs.*TWINLOOP_QUERY_TIMEOUT_MS.*--query-timeout-ms/);
  });
});

describe('cooperative execution', () => {
  it('a heavy query yields the event loop between slices: timers run while it works', async () => {
    const g = dense(320, 16);
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    let pauses = 0;
    const page = await executeQueryAsync(g, 'SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[*]-(b)', {
      ...opts(),
      budget: { sliceMs: 1, maxVisits: 1e8 },
      yieldNow: () => {
        pauses++;
        return new Promise((resolve) => setImmediate(resolve));
      },
    });
    running = false;
    expect(page.value).toEqual([{ COUNT: 320 * 320 }]);
    expect(pauses).toBeGreaterThan(0);
    expect(ticks).toBeGreaterThanOrEqual(pauses);
  });

  it('backs off while the rest of the process is busy: waits twice what the others took, at most 50 ms', async () => {
    let t = 0;
    const sleeps: number[] = [];
    let busy = 0;
    await executeQueryAsync(dense(100, 8), 'SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[*]-(b)', {
      ...opts(),
      budget: { sliceMs: 5, maxVisits: 1e9, timeoutMs: 1e9 },
      now: () => (t += 0.05),
      // Every other pause, the rest of the process takes 20 ms (or 40 ms) before the query resumes.
      yieldNow: async () => {
        busy++;
        if (busy % 2 === 0) t += busy % 4 === 0 ? 40 : 20;
      },
      sleep: async (ms) => {
        sleeps.push(ms);
        t += ms;
      },
    });
    expect(busy).toBeGreaterThan(4);
    expect(sleeps.length).toBe(Math.floor(busy / 2));
    for (const ms of sleeps) expect([40, 50]).toContain(Math.round(ms));
  });

  it('a cancelled request stops its query at the next pause', async () => {
    const cancelled = new AbortController();
    let pauses = 0;
    const e = await errorOf(
      executeQueryAsync(dense(320, 16), 'SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[*]-(b)-[*]-(c)', {
        ...opts(),
        budget: { sliceMs: 1, maxVisits: 1e12, timeoutMs: 1e9 },
        signal: cancelled.signal,
        yieldNow: async () => {
          if (++pauses === 3) cancelled.abort();
        },
      }),
    );
    expect(e.code).toBe('BadRequest');
    expect(e.message).toContain('cancelled');
    expect(pauses).toBe(3);
  });

  it('writes that commit between slices: deleted twins are not returned, updated ones are read new', async () => {
    const g = chain(3000);
    let wrote = false;
    const page = await executeQueryAsync(g, 'SELECT T.$dtId AS id, T.i AS i FROM DIGITALTWINS T', {
      ...opts(),
      pageSize: 10_000,
      budget: { sliceMs: 0 }, // pause at every clock reading (every 256 visits)
      yieldNow: async () => {
        if (wrote) return;
        wrote = true;
        g.deleteRelationship('c2998', 'c2998-next-c2999');
        g.deleteTwin('c2999');
        g.putTwin(twin('c2998', 'Node', { i: -1 }));
        g.putTwin(twin('late', 'Node', { i: 0 }));
      },
    });
    expect(wrote).toBe(true);
    const rows = page.value as { id: string; i: number }[];
    expect(rows.map((r) => r.id)).not.toContain('c2999');
    expect(rows.find((r) => r.id === 'c2998')?.i).toBe(-1);
    // The start list is fixed when the query starts: a twin created after it is not in this result.
    expect(rows.map((r) => r.id)).not.toContain('late');
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    // …and a query started after the write sees it (read-your-writes).
    const after = executeQuery(g, "SELECT COUNT() FROM DIGITALTWINS T WHERE T.$dtId = 'late'", opts());
    expect(after.value).toEqual([{ COUNT: 1 }]);
  });
});

describe('unbounded hops are unbounded', () => {
  it('[*] and [*2..] walk a 250-hop chain to its end (no cut at 100)', () => {
    const g = chain(251);
    const count = (text: string): unknown => executeQuery(g, text, opts()).value;
    expect(count("SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[:next*]->(b) WHERE a.$dtId = 'c0'")).toEqual([
      { COUNT: 250 },
    ]);
    // *2.. is more than 2 hops: c3..c250
    expect(count("SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[:next*2..]->(b) WHERE a.$dtId = 'c0'")).toEqual(
      [{ COUNT: 248 }],
    );
    expect(
      executeQuery(g, "SELECT b.$dtId AS id FROM DIGITALTWINS MATCH (a)<-[*]-(b) WHERE a.$dtId = 'c250'", {
        ...opts(),
        pageSize: 1000,
      }).value,
    ).toContainEqual({ id: 'c0' });
    expect(count("SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[:next*200]->(b) WHERE a.$dtId = 'c0'")).toEqual(
      [{ COUNT: 1 }],
    );
  });
});
