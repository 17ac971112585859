/**
 * Query (Query_QueryTwins): every documented feature of the query language with its expected rows on
 * the fixed graph of fixtures.ts, and paging as the SDKs do it. Pages of learn.microsoft.com cited as
 * learn:<page>#<section>.
 */
import type { Check, CheckContext, RestResponse } from './harness.js';
import { expectEq, expectSet, expectStatus, expectTrue, Mismatch } from './harness.js';
import { Q, buildQueryGraph } from './fixtures.js';

type Row = Record<string, unknown>;

/** Every row of a query, following continuationToken the way the .NET SDK does (page 2+: only the token). */
export async function queryAll(
  ctx: CheckContext,
  query: string,
  pageSize?: number,
): Promise<{ rows: Row[]; pages: number; first: RestResponse }> {
  const headers: Record<string, string> = pageSize ? { 'max-items-per-page': String(pageSize) } : {};
  const first = await ctx.rest.post('/query', { query }, { headers });
  if (first.status !== 200)
    throw new Mismatch(`HTTP 200 for ${query}`, `HTTP ${first.status} ${first.text.slice(0, 200)}`);
  let body = first.body as { value: Row[]; continuationToken?: string | null };
  const rows = [...body.value];
  let pages = 1;
  while (body.continuationToken && body.continuationToken !== 'null') {
    const next = await ctx.rest.post('/query', { continuationToken: body.continuationToken }, { headers });
    expectStatus(next, 200);
    body = next.body as typeof body;
    rows.push(...body.value);
    if (++pages > 1000) throw new Mismatch('the continuation chain to end', 'over 1000 pages');
  }
  return { rows, pages, first };
}

export const twinIds = (rows: Row[], alias?: string): string[] =>
  rows.map((r) => String(((alias ? r[alias] : r) as { $dtId?: string } | undefined)?.$dtId));

/** A check that the query returns these twin ids (from `SELECT *` rows, or the alias's column). */
function rows(name: string, source: string, query: string, expected: string[], alias?: string): Check {
  return {
    area: 'query',
    via: 'rest',
    name,
    source,
    async run(ctx) {
      await buildQueryGraph(ctx);
      const { rows: got } = await queryAll(ctx, query);
      expectSet(query, expected, twinIds(got, alias));
    },
  };
}

const SEL = 'learn:reference-query-clause-select';
const WHERE = 'learn:reference-query-clause-where';
const OPS = 'learn:reference-query-operators';
const FN = 'learn:reference-query-functions';
const JOIN = 'learn:reference-query-clause-join';
const MATCH = 'learn:reference-query-clause-match';
const FROM = 'learn:reference-query-clause-from';
const ROOMS = `IS_OF_MODEL('${Q.room}')`;

export const queryChecks: Check[] = [
  rows(
    'IS_OF_MODEL includes derived models',
    `${FN}#is_of_model`,
    `SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('${Q.space}')`,
    ['q-B1', 'q-F1', 'q-F2', 'q-R1', 'q-R2', 'q-R3'],
  ),
  rows(
    'IS_OF_MODEL(..., exact) only the model itself',
    `${FN}#is_of_model`,
    `SELECT * FROM DIGITALTWINS DT WHERE IS_OF_MODEL(DT, '${Q.floor}', exact)`,
    ['q-F1', 'q-F2'],
  ),
  rows('WHERE T.$dtId = ...', `${WHERE}#example`, "SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'q-R1'", [
    'q-R1',
  ]),
  rows(
    'comparison > and <=',
    `${OPS}#comparison-operators`,
    `SELECT * FROM DIGITALTWINS T WHERE ${ROOMS} AND T.temperature > 20 AND T.temperature <= 25`,
    ['q-R2', 'q-R3'],
  ),
  rows(
    '!= ',
    `${OPS}#comparison-operators`,
    `SELECT * FROM DIGITALTWINS T WHERE ${ROOMS} AND T.temperature != 22`,
    ['q-R1', 'q-R3'],
  ),
  rows(
    'IN [...]',
    `${OPS}#comparison-operators`,
    "SELECT * FROM DIGITALTWINS T WHERE T.$dtId IN ['q-R1', 'q-R3', 'nope']",
    ['q-R1', 'q-R3'],
  ),
  rows(
    'NIN [...]',
    `${OPS}#comparison-operators`,
    `SELECT * FROM DIGITALTWINS T WHERE ${ROOMS} AND T.$dtId NIN ['q-R1', 'q-R3']`,
    ['q-R2'],
  ),
  rows(
    'OR and NOT',
    `${OPS}#logical-operators`,
    `SELECT * FROM DIGITALTWINS T WHERE ${ROOMS} AND (T.temperature < 21 OR NOT T.temperature < 25)`,
    ['q-R1', 'q-R3'],
  ),
  rows(
    'unqualified property names',
    `${FROM}#select-from-digitaltwins`,
    `SELECT * FROM DIGITALTWINS WHERE ${ROOMS} AND temperature >= 22`,
    ['q-R2', 'q-R3'],
  ),
  rows(
    '$metadata.$model in WHERE',
    'spec example GetTwin ($metadata.$model is part of the twin JSON the query filters)',
    `SELECT * FROM DIGITALTWINS T WHERE T.$metadata.$model = '${Q.floor}'`,
    ['q-F1', 'q-F2'],
  ),
  rows(
    'nested object property',
    'learn:how-to-query-graph#query-by-property (T.<property>.<key>, QueryByProperty4)',
    `SELECT * FROM DIGITALTWINS T WHERE T.info.wing = 'east'`,
    ['q-R1'],
  ),
  rows('STARTSWITH', `${FN}#startswith`, "SELECT * FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 'q-R')", [
    'q-R1',
    'q-R2',
    'q-R3',
  ]),
  rows('ENDSWITH', `${FN}#endswith`, "SELECT * FROM DIGITALTWINS T WHERE ENDSWITH(T.name, 'floor')", [
    'q-F1',
    'q-F2',
  ]),
  rows(
    'CONTAINS (string)',
    `${FN}#contains`,
    "SELECT * FROM DIGITALTWINS T WHERE CONTAINS(T.name, 'sensor')",
    ['q-S1', 'q-S2'],
  ),
  rows(
    'IS_DEFINED',
    `${FN}#is_defined`,
    `SELECT * FROM DIGITALTWINS T WHERE ${ROOMS} AND IS_DEFINED(T.humidity)`,
    ['q-R1'],
  ),
  rows('IS_BOOL', `${FN}#is_bool`, 'SELECT * FROM DIGITALTWINS T WHERE IS_BOOL(T.occupied)', [
    'q-R1',
    'q-R2',
  ]),
  rows(
    'IS_BOOL with != false',
    `${FN}#is_bool`,
    'SELECT * FROM DIGITALTWINS T WHERE IS_BOOL(T.occupied) AND T.occupied != false',
    ['q-R1'],
  ),
  rows(
    'IS_NUMBER',
    `${FN}#is_number`,
    "SELECT * FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 'q-') AND IS_NUMBER(T.level)",
    ['q-F1', 'q-F2'],
  ),
  rows(
    'IS_STRING',
    `${FN}#is_string`,
    "SELECT * FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 'q-') AND IS_STRING(T.kind)",
    ['q-S1', 'q-S2'],
  ),
  rows(
    'IS_OBJECT',
    `${FN}#is_object`,
    "SELECT * FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 'q-') AND IS_OBJECT(T.info)",
    ['q-R1'],
  ),
  rows(
    'IS_PRIMITIVE',
    `${FN}#is_primitive`,
    "SELECT * FROM DIGITALTWINS T WHERE T.$dtId IN ['q-R1', 'q-R2', 'q-F1'] AND IS_PRIMITIVE(T.temperature)",
    ['q-R1', 'q-R2'],
  ),
  rows(
    'ARRAY_CONTAINS (string)',
    `${FN}#array_contains`,
    "SELECT * FROM DIGITALTWINS T WHERE ARRAY_CONTAINS(T.tags, 'north')",
    ['q-R1'],
  ),
  rows(
    'ARRAY_CONTAINS: no match',
    `${FN}#array_contains`,
    "SELECT * FROM DIGITALTWINS T WHERE ARRAY_CONTAINS(T.tags, 'west')",
    [],
  ),
  rows(
    '[[reserved]] escaping of a property named group',
    'learn:reference-query-reserved#escaping-reserved-keywords-in-queries',
    "SELECT * FROM DIGITALTWINS WHERE [[group]] = 'alpha'",
    ['q-B1', 'q-R1'],
  ),
  {
    area: 'query',
    via: 'rest',
    name: 'SELECT T: each row holds the twin under the alias',
    source: `${SEL}#project-collection-example`,
    async run(ctx) {
      await buildQueryGraph(ctx);
      const { rows: got } = await queryAll(ctx, "SELECT T FROM DIGITALTWINS T WHERE T.$dtId = 'q-R1'");
      expectEq('rows', 1, got.length);
      expectEq('T.$dtId', 'q-R1', (got[0]?.T as Row | undefined)?.$dtId);
    },
  },
  {
    area: 'query',
    via: 'rest',
    name: 'property projection; a property a row lacks is absent from that row',
    source: `${SEL}#project-property-example-property-not-present-for-a-data-row`,
    async run(ctx) {
      await buildQueryGraph(ctx);
      const { rows: got } = await queryAll(
        ctx,
        "SELECT T.name, T.humidity FROM DIGITALTWINS T WHERE T.$dtId IN ['q-R1', 'q-R2']",
      );
      const byName = Object.fromEntries(got.map((r) => [String(r.name), r]));
      expectEq('Lab row', { name: 'Lab', humidity: 40 }, byName.Lab);
      expectEq('Meeting room row', { name: 'Meeting room' }, byName['Meeting room']);
    },
  },
  {
    area: 'query',
    via: 'rest',
    name: 'SELECT COUNT(): one row {COUNT: n}',
    source: `${SEL}#select-count`,
    async run(ctx) {
      await buildQueryGraph(ctx);
      const { rows: got } = await queryAll(
        ctx,
        `SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('${Q.space}')`,
      );
      expectEq('rows', [{ COUNT: 6 }], got);
    },
  },
  rows(
    "a string literal with an escaped single quote ('Chef\\'s kitchen')",
    'learn:how-to-query-graph#query-by-property (EscapedSingleQuote)',
    "SELECT * FROM DIGITALTWINS WHERE name = 'Chef\\'s kitchen'",
    ['q-R3'],
  ),
  {
    area: 'query',
    via: 'rest',
    name: 'SELECT COUNT() with a JOIN',
    source: 'learn:how-to-query-graph#count-items (SelectCount3)',
    async run(ctx) {
      await buildQueryGraph(ctx);
      const { rows: got } = await queryAll(
        ctx,
        "SELECT COUNT() FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE F.$dtId = 'q-F1'",
      );
      expectEq('rows', [{ COUNT: 2 }], got);
    },
  },
  {
    area: 'query',
    via: 'rest',
    name: 'projections with AS aliases over a JOIN',
    source: 'learn:how-to-query-graph#specify-return-set-with-projections (Projections4)',
    async run(ctx) {
      await buildQueryGraph(ctx);
      const { rows: got } = await queryAll(
        ctx,
        "SELECT R.name AS roomName, Rel.since AS since, F.level AS floorLevel FROM DIGITALTWINS F JOIN R RELATED F.contains Rel WHERE F.$dtId = 'q-F1' AND R.$dtId = 'q-R1'",
      );
      expectEq('rows', [{ roomName: 'Lab', since: '2020', floorLevel: 1 }], got);
    },
  },
  {
    area: 'query',
    via: 'rest',
    name: 'SELECT COUNT() FROM RELATIONSHIPS',
    source: `${SEL}#select-count`,
    async run(ctx) {
      await buildQueryGraph(ctx);
      const { rows: got } = await queryAll(
        ctx,
        "SELECT COUNT() FROM RELATIONSHIPS R WHERE R.$relationshipName = 'feeds'",
      );
      expectEq('rows', [{ COUNT: 1 }], got);
    },
  },
  {
    area: 'query',
    via: 'rest',
    name: 'SELECT TOP(n) without a projection: n twins',
    source: `${SEL}#select-top`,
    async run(ctx) {
      await buildQueryGraph(ctx);
      const { rows: got } = await queryAll(ctx, `SELECT TOP(2) FROM DIGITALTWINS WHERE ${ROOMS}`);
      expectEq('rows', 2, got.length);
      expectTrue(
        'each row is a room twin',
        got.every((r) => String(r.$dtId).startsWith('q-R')),
        got.map((r) => r.$dtId),
      );
    },
  },
  {
    area: 'query',
    via: 'rest',
    name: 'FROM RELATIONSHIPS with $sourceId IN [...]',
    source: `${FROM}#select-from-relationships`,
    async run(ctx) {
      await buildQueryGraph(ctx);
      const { rows: got } = await queryAll(
        ctx,
        "SELECT * FROM RELATIONSHIPS WHERE $sourceId IN ['q-F1', 'q-F2']",
      );
      expectSet(
        'relationships',
        ['f1-r1', 'f1-r2', 'f2-r3'],
        got.map((r) => String(r.$relationshipId)),
      );
    },
  },
  rows(
    'JOIN ... RELATED',
    `${JOIN}#example`,
    "SELECT R FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE F.$dtId = 'q-F1'",
    ['q-R1', 'q-R2'],
    'R',
  ),
  rows(
    'JOIN with a relationship alias filtered in WHERE',
    `${JOIN}#example; ${SEL}#project-with-join-example`,
    "SELECT R FROM DIGITALTWINS F JOIN R RELATED F.contains Rel WHERE F.$dtId = 'q-F1' AND Rel.since = '2021'",
    ['q-R2'],
    'R',
  ),
  rows(
    'three chained JOINs',
    `${JOIN}#multiple-joins-example`,
    "SELECT S FROM DIGITALTWINS B JOIN F RELATED B.contains JOIN R RELATED F.contains JOIN S RELATED R.contains WHERE B.$dtId = 'q-B1'",
    ['q-S1', 'q-S2'],
    'S',
  ),
  {
    area: 'query',
    via: 'rest',
    name: 'SELECT * rows are twins with $dtId, $etag and $metadata.$model',
    source: 'spec:Query_QueryTwins; example QueryFirstPage',
    async run(ctx) {
      await buildQueryGraph(ctx);
      const { rows: got } = await queryAll(ctx, "SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'q-F1'");
      const t = got[0] ?? {};
      expectEq(
        '$dtId, $metadata.$model',
        ['q-F1', Q.floor],
        [t.$dtId, (t.$metadata as Row | undefined)?.$model],
      );
      expectTrue('$etag', typeof t.$etag === 'string', t.$etag);
    },
  },
  {
    area: 'query',
    via: 'rest',
    name: 'JOIN projecting twin, twin and relationship',
    source: `${SEL}#project-with-join-example`,
    async run(ctx) {
      await buildQueryGraph(ctx);
      const { rows: got } = await queryAll(
        ctx,
        "SELECT F, R, Rel FROM DIGITALTWINS F JOIN R RELATED F.contains Rel WHERE F.$dtId = 'q-F2'",
      );
      expectEq('rows', 1, got.length);
      const r = got[0] ?? {};
      expectEq(
        'F, R, Rel',
        ['q-F2', 'q-R3', 'f2-r3'],
        [(r.F as Row)?.$dtId, (r.R as Row)?.$dtId, (r.Rel as Row)?.$relationshipId],
      );
    },
  },
  rows(
    'MATCH one hop, left to right',
    `${MATCH}#specify-relationship-direction`,
    "SELECT X FROM DIGITALTWINS MATCH (B)-[:contains]->(X) WHERE B.$dtId = 'q-B1'",
    ['q-F1', 'q-F2'],
    'X',
  ),
  rows(
    'MATCH right to left',
    `${MATCH}#specify-relationship-direction`,
    "SELECT R FROM DIGITALTWINS MATCH (S)<-[:contains]-(R) WHERE S.$dtId = 'q-S1'",
    ['q-R1'],
    'R',
  ),
  rows(
    'MATCH non-directional',
    `${MATCH}#specify-relationship-direction`,
    "SELECT X FROM DIGITALTWINS MATCH (R)-[:feeds]-(X) WHERE R.$dtId = 'q-R2'",
    ['q-R1'],
    'X',
  ),
  rows(
    'MATCH with a list of relationship names',
    `${MATCH}#specify-relationship-name`,
    "SELECT X FROM DIGITALTWINS MATCH (R)-[:contains|feeds]->(X) WHERE R.$dtId = 'q-R1'",
    ['q-S1', 'q-R2'],
    'X',
  ),
  rows(
    'MATCH with no relationship name',
    `${MATCH}#specify-relationship-name`,
    "SELECT X FROM DIGITALTWINS MATCH (R)-[]->(X) WHERE R.$dtId = 'q-R1'",
    ['q-S1', 'q-R2'],
    'X',
  ),
  rows(
    'MATCH exact hops [*2]',
    `${MATCH}#specify-number-of-hops`,
    "SELECT X FROM DIGITALTWINS MATCH (B)-[:contains*2]->(X) WHERE B.$dtId = 'q-B1'",
    ['q-R1', 'q-R2', 'q-R3'],
    'X',
  ),
  rows(
    'MATCH exact hops [*3]',
    `${MATCH}#specify-number-of-hops`,
    "SELECT X FROM DIGITALTWINS MATCH (B)-[:contains*3]->(X) WHERE B.$dtId = 'q-B1'",
    ['q-S1', 'q-S2'],
    'X',
  ),
  rows(
    'MATCH [*1..3]: the starting limit is excluded, the ending one included (2 or 3 hops)',
    `${MATCH}#specify-number-of-hops`,
    "SELECT X FROM DIGITALTWINS MATCH (B)-[:contains*1..3]->(X) WHERE B.$dtId = 'q-B1'",
    ['q-R1', 'q-R2', 'q-R3', 'q-S1', 'q-S2'],
    'X',
  ),
  rows(
    'MATCH [*..2]: up to and including 2 hops',
    `${MATCH}#specify-number-of-hops`,
    "SELECT X FROM DIGITALTWINS MATCH (B)-[:contains*..2]->(X) WHERE B.$dtId = 'q-B1'",
    ['q-F1', 'q-F2', 'q-R1', 'q-R2', 'q-R3'],
    'X',
  ),
  rows(
    'MATCH non-directional over 2 hops: a relationship is traversed only once',
    `${MATCH}#specify-relationship-direction ("Cyclic relationships are automatically detected, so that a relationship is traversed only once")`,
    "SELECT X FROM DIGITALTWINS MATCH (S)-[:contains*2]-(X) WHERE S.$dtId = 'q-S1'",
    ['q-F1'],
    'X',
  ),
  rows(
    'MATCH with a relationship variable filtered in WHERE',
    `${MATCH}#assign-query-variable-to-relationship-and-specify-relationship-properties`,
    "SELECT X FROM DIGITALTWINS MATCH (F)-[r:contains]->(X) WHERE F.$dtId = 'q-F1' AND r.since = '2020'",
    ['q-R1'],
    'X',
  ),
  rows(
    'MATCH chained conditions',
    `${MATCH}#combine-match-operations`,
    "SELECT R FROM DIGITALTWINS MATCH (B)-[:contains]->(F)-[:contains]->(R) WHERE B.$dtId = 'q-B1'",
    ['q-R1', 'q-R2', 'q-R3'],
    'R',
  ),
  rows(
    'MATCH (a) with no relationship condition',
    `${MATCH}#syntax (no relationship condition)`,
    "SELECT A FROM DIGITALTWINS MATCH (A) WHERE A.$dtId = 'q-R1'",
    ['q-R1'],
    'A',
  ),
  rows(
    'MATCH with a twin property filter',
    `${MATCH}#example`,
    "SELECT X FROM DIGITALTWINS MATCH (F)-[:contains]->(X) WHERE F.$dtId = 'q-F1' AND X.temperature > 21",
    ['q-R2'],
    'X',
  ),
];
