/**
 * Query (Query_QueryTwins) paging as the SDKs do it, the query-charge header, the SDK's queryTwins,
 * and the query error codes.
 */
import type { Check } from './harness.js';
import { expectError, expectSet, expectStatus, expectTrue } from './harness.js';
import { Q, buildQueryGraph } from './fixtures.js';
import { queryAll, twinIds } from './checks-query.js';

type Row = Record<string, unknown>;
const JOIN = 'learn:reference-query-clause-join';

export const queryPagingChecks: Check[] = [
  {
    area: 'query',
    via: 'rest',
    name: 'paging: max-items-per-page pages; page 2+ sent with only continuationToken (.NET SDK)',
    source:
      'spec:Query_QueryTwins (max-items-per-page; QuerySpecification.continuationToken); example QueryNextPage',
    async run(ctx) {
      await buildQueryGraph(ctx);
      const { rows: got, pages } = await queryAll(
        ctx,
        `SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('${Q.space}')`,
        2,
      );
      expectSet('all rows over the pages', ['q-B1', 'q-F1', 'q-F2', 'q-R1', 'q-R2', 'q-R3'], twinIds(got));
      expectTrue('at least 3 pages of 2', pages >= 3, pages);
    },
  },
  {
    area: 'query',
    via: 'rest',
    name: 'paging: query and continuationToken together, as the JS and Python SDKs send page 2+ (the query is ignored)',
    source:
      'spec:definitions/QuerySpecification ("This value is ignored if a continuation token is provided")',
    async run(ctx) {
      await buildQueryGraph(ctx);
      const query = `SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('${Q.space}')`;
      const headers = { 'max-items-per-page': '4' };
      const first = await ctx.rest.post('/query', { query }, { headers });
      expectStatus(first, 200);
      const b1 = first.body as { value: Row[]; continuationToken?: string };
      expectTrue('a continuationToken', typeof b1.continuationToken === 'string', b1.continuationToken);
      const second = await ctx.rest.post(
        '/query',
        { query, continuationToken: b1.continuationToken },
        { headers },
      );
      expectStatus(second, 200);
      expectSet(
        'both pages',
        ['q-B1', 'q-F1', 'q-F2', 'q-R1', 'q-R2', 'q-R3'],
        twinIds([...b1.value, ...(second.body as { value: Row[] }).value]),
      );
    },
  },
  {
    area: 'query',
    via: 'rest',
    name: 'the last page has no continuationToken (absent or null)',
    source: 'spec:definitions/QueryResult (continuationToken optional)',
    async run(ctx) {
      await buildQueryGraph(ctx);
      const res = await ctx.rest.post('/query', {
        query: "SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'q-R1'",
      });
      expectStatus(res, 200);
      const t = (res.body as { continuationToken?: unknown }).continuationToken;
      expectTrue('no continuationToken', t === undefined || t === null, t);
    },
  },
  {
    area: 'query',
    via: 'rest',
    name: 'query-charge header on 200',
    source: 'spec:Query_QueryTwins (response header query-charge)',
    async run(ctx) {
      await buildQueryGraph(ctx);
      const res = await ctx.rest.post('/query', { query: 'SELECT * FROM DIGITALTWINS' });
      expectStatus(res, 200);
      const h = res.headers.get('query-charge');
      expectTrue('a numeric query-charge header', h !== null && Number.isFinite(Number(h)), h);
    },
  },
  {
    area: 'query',
    via: 'sdk',
    name: 'queryTwins(query, 2).byPage() returns every row over pages (page 2+ sends query and continuationToken)',
    source: 'spec:Query_QueryTwins via @azure/digital-twins-core',
    async run(ctx) {
      await buildQueryGraph(ctx);
      const got: string[] = [];
      let pages = 0;
      for await (const page of ctx.sdk
        .queryTwins(`SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('${Q.space}')`, 2)
        .byPage()) {
        pages++;
        for (const r of page.value ?? []) got.push(String((r as Row).$dtId));
      }
      expectSet('rows', ['q-B1', 'q-F1', 'q-F2', 'q-R1', 'q-R2', 'q-R3'], got);
      expectTrue('3 pages or more', pages >= 3, pages);
    },
  },
  {
    area: 'query',
    via: 'sdk',
    name: 'queryTwins iterates JOIN rows',
    source: `${JOIN}#example via @azure/digital-twins-core`,
    async run(ctx) {
      await buildQueryGraph(ctx);
      const got: string[] = [];
      for await (const r of ctx.sdk.queryTwins(
        "SELECT R FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE F.$dtId = 'q-F1'",
      ))
        got.push(String(((r as Row).R as Row | undefined)?.$dtId));
      expectSet('rows', ['q-R1', 'q-R2'], got);
    },
  },
  {
    area: 'query',
    via: 'rest',
    name: 'a syntax error: 400 SqlQueryError',
    source: 'spec:Query_QueryTwins (400 SqlQueryError)',
    async run(ctx) {
      expectError(
        await ctx.rest.post('/query', { query: 'SELEKT * FROM DIGITALTWINS' }),
        400,
        'SqlQueryError',
      );
    },
  },
  {
    area: 'query',
    via: 'rest',
    name: 'an invalid continuationToken: 400 BadRequest',
    source: 'spec:Query_QueryTwins (400 BadRequest - The continuation token is invalid)',
    async run(ctx) {
      expectError(await ctx.rest.post('/query', { continuationToken: 'not-a-token' }), 400, 'BadRequest');
    },
  },
];
