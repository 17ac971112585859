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

describe('POST /query paging as the SDKs call it', () => {
  let s: TestServer;
  let url: string;
  beforeAll(async () => {
    s = await startTestServer();
    const g = s.w.graph as unknown as TwinGraph;
    for (let i = 0; i < 25; i++) g.putTwin(twin(`p${String(i).padStart(2, '0')}`, 'Node', { i }));
    url = (await s.http.listen()).url;
  });
  afterAll(async () => s.close());

  type Page = { value: { id: string }[]; continuationToken: string | null };
  const Q = 'SELECT T.$dtId AS id FROM DIGITALTWINS T';
  const everyId = (): string[] => Array.from({ length: 25 }, (_, i) => `p${String(i).padStart(2, '0')}`);

  async function collect(next: (token: string) => unknown): Promise<{ ids: string[]; sizes: number[] }> {
    const r = await post(url, { query: Q }, { 'max-items-per-page': '10' });
    expect(r.status).toBe(200);
    expect(Number(r.headers.get('query-charge'))).toBeGreaterThan(0);
    let page = (await r.json()) as Page;
    const ids = page.value.map((x) => x.id);
    const sizes = [page.value.length];
    while (page.continuationToken) {
      // page 2 and on: no max-items-per-page header, as the .NET SDK sends them
      const n = await post(url, next(page.continuationToken));
      expect(n.status).toBe(200);
      page = (await n.json()) as Page;
      ids.push(...page.value.map((x) => x.id));
      sizes.push(page.value.length);
    }
    return { ids, sizes };
  }

  it('.NET: page 2 carries only {"continuationToken"} and keeps the first page size', async () => {
    const { ids, sizes } = await collect((token) => ({ continuationToken: token }));
    expect(ids.sort()).toEqual(everyId());
    expect(sizes).toEqual([10, 10, 5]);
  });

  it('JS and Python: page 2 carries the query and the token', async () => {
    const { ids, sizes } = await collect((token) => ({ query: Q, continuationToken: token }));
    expect(ids.sort()).toEqual(everyId());
    expect(sizes).toEqual([10, 10, 5]);
  });

  it('answers { value, continuationToken } and nothing else; continuationToken null on the last page', async () => {
    const r = await post(url, { query: 'SELECT TOP(2) FROM DIGITALTWINS' });
    const body = (await r.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['continuationToken', 'value']);
    expect(body.continuationToken).toBeNull();
    expect(body.value).toHaveLength(2);
    expect(r.headers.get('query-charge')).toBe('3');
  });

  it('a body with neither query nor token, or hostile bodies, are clear 400s', async () => {
    for (const body of [{}, { query: '' }, { continuationToken: null }, { query: '   ' }]) {
      const r = await post(url, body);
      expect(r.status).toBe(400);
      const { error } = (await r.json()) as { error: { code: string; details: { pointer?: string }[] } };
      expect(error.code).toBe('BadRequest');
      expect(error.details[0]?.pointer).toBe('/query');
    }
    const numeric = await post(url, { query: 42 }); // coerced to the text "42": not a query
    expect(numeric.status).toBe(400);
    const forged = await post(url, { continuationToken: 'eyJ4Ijox.fake' });
    expect(forged.status).toBe(400);
    // ADT's code on the wire (spec, Query_QueryTwins), Twinloop's in innererror.
    expect(forged.headers.get('x-ms-error-code')).toBe('BadRequest');
    expect(await forged.json()).toMatchObject({
      error: { code: 'BadRequest', innererror: { code: 'InvalidContinuationToken' } },
    });
    const proto = await fetch(`${url}/query${V}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query":"SELECT * FROM DIGITALTWINS","__proto__":{"x":1}}',
    });
    expect(proto.status).toBe(400);
    const deep = await fetch(`${url}/query${V}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"query":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
    });
    expect(deep.status).toBe(400);
  });

  it('hostile query texts are clear SqlQueryErrors with line and column', async () => {
    const cases = [
      `SELECT * FROM DIGITALTWINS WHERE ${'('.repeat(5000)}1 = 1${')'.repeat(5000)}`.slice(0, 7999),
      'SELECT * FROM DIGITALTWINS T WHERE T.x = 1e999',
      'SELECT * FROM DIGITALTWINS T WHERE T.__proto__ = 1',
      'SELECT T.name AS [[__proto__]] FROM DIGITALTWINS T',
      'SELECT * FROM DIGITALTWINS WHERE Group = 1',
    ];
    for (const query of cases) {
      const r = await post(url, { query });
      expect(r.status).toBe(400);
      const { error } = (await r.json()) as {
        error: { code: string; message: string; details?: { line?: number; column?: number }[] };
      };
      expect(error.code).toBe('SqlQueryError');
      expect(error.message).toMatch(/line \d+, column \d+/);
    }
  });
});
