import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../test/adt-sdk/http-fixture.js';
import type { TwinGraph } from '../../core/graph/graph-types.js';
import { rel, twin } from '../../core/query/query-test-graph.js';

const V = '?api-version=2023-10-31';

/** 320 twins, each linked to the next 16 (mod 320), written straight into the server's graph. */
function denseGraph(g: TwinGraph): void {
  for (let i = 0; i < 320; i++) g.putTwin(twin(`d${i}`, 'Node', { i }));
  for (let i = 0; i < 320; i++)
    for (let k = 1; k <= 16; k++) g.putRelationship(rel(`d${i}`, 'link', `d${(i + k) % 320}`));
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/query${V}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

const HEAVY = 'SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[*]-(b)-[*]-(c)';

describe('POST /query within its budget', () => {
  let s: TestServer;
  let url: string;
  beforeAll(async () => {
    s = await startTestServer();
    denseGraph(s.w.graph as unknown as TwinGraph);
    url = (await s.http.listen()).url;
  });
  afterAll(async () => s.close());

  it('an unanchored MATCH over 320 dense twins is a 422 QueryBudgetExceeded that names the limit', async () => {
    const r = await post(url, { query: HEAVY });
    expect(r.status).toBe(422);
    const { error } = (await r.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('QueryBudgetExceeded');
    expect(error.message).toContain('query.maxVisits');
    expect(error.message).toContain('TWINLOOP_QUERY_MAX_VISITS');
  });

  it('a token gives its page once; using it again is 410 ContinuationTokenExpired', async () => {
    const q = { query: 'SELECT T.$dtId AS id FROM DIGITALTWINS T' };
    const p1 = (await (await post(url, q, { 'max-items-per-page': '100' })).json()) as {
      continuationToken: string;
    };
    const p2 = await post(url, { ...q, continuationToken: p1.continuationToken });
    expect(p2.status).toBe(200);
    const again = await post(url, { ...q, continuationToken: p1.continuationToken });
    expect(again.status).toBe(410);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('ContinuationTokenExpired');
  });
});

describe('a heavy query does not hold the event loop', () => {
  let s: TestServer;
  let url: string;
  beforeAll(async () => {
    // A budget as large as an operator may set it: the query runs until its 1.5 s wall-time limit.
    s = await startTestServer({ query: { budget: { maxVisits: 1e12, timeoutMs: 1500, sliceMs: 5 } } });
    denseGraph(s.w.graph as unknown as TwinGraph);
    url = (await s.http.listen()).url;
  });
  afterAll(async () => s.close());

  it('/healthz keeps answering while the query runs, and the query then fails on its wall-time limit', async () => {
    const order: string[] = [];
    const heavy = post(url, { query: HEAVY }).then(async (r) => {
      order.push('query');
      return { status: r.status, body: (await r.json()) as { error: { code: string; details?: unknown } } };
    });
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the query start
    for (let i = 0; i < 5; i++) {
      const h = await fetch(`${url}/healthz`);
      expect(h.status).toBe(200);
      order.push('healthz');
    }
    const q = await heavy;
    expect(q.status).toBe(422);
    expect(q.body.error.code).toBe('QueryBudgetExceeded');
    expect(order).toEqual(['healthz', 'healthz', 'healthz', 'healthz', 'healthz', 'query']);
  });
});
