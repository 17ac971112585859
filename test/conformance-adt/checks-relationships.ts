/** Relationships (DigitalTwins_*Relationship*, incoming relationships): raw REST and the JS SDK. */
import type { Check, CheckContext } from './harness.js';
import { expectEq, expectSet, expectStatus, expectTrue, p, expectSdkError } from './harness.js';
import { putRel, putTwin, room, sensor } from './fixtures.js';

type Rel = Record<string, unknown> & { $relationshipId?: string; $etag?: string };

const rest = (name: string, source: string, run: Check['run']): Check => ({
  area: 'relationships',
  via: 'rest',
  name,
  source,
  run,
});

/** r-A (Room) with sensors r-S1, r-S2 and rooms r-B. */
async function pair(ctx: CheckContext): Promise<void> {
  await ctx.once('rel-twins', async () => {
    await putTwin(ctx, 'r-A', room());
    await putTwin(ctx, 'r-B', room());
    await putTwin(ctx, 'r-S1', sensor({ kind: 'co2' }));
    await putTwin(ctx, 'r-S2', sensor({ kind: 'temp' }));
  });
}

export const relationshipChecks: Check[] = [
  rest(
    'create: 200 with $relationshipId, $sourceId, $targetId, $relationshipName, $etag = ETag header',
    'spec:DigitalTwins_AddRelationship; example CreateRelationshipAdvancedExample',
    async (ctx) => {
      await pair(ctx);
      const res = await ctx.rest.put(p`/digitaltwins/${'r-A'}/relationships/${'a-s1'}`, {
        $targetId: 'r-S1',
        $relationshipName: 'contains',
        since: '2020',
      });
      expectStatus(res, 200);
      const b = res.body as Rel;
      expectEq(
        'ids',
        ['a-s1', 'r-A', 'r-S1', 'contains'],
        [b.$relationshipId, b.$sourceId, b.$targetId, b.$relationshipName],
      );
      expectEq('since', '2020', b.since);
      expectTrue('$etag = ETag header', typeof b.$etag === 'string' && b.$etag === res.headers.get('etag'), [
        b.$etag,
        res.headers.get('etag'),
      ]);
    },
  ),
  rest('get by id: 200 with an ETag header', 'spec:DigitalTwins_GetRelationshipById', async (ctx) => {
    await pair(ctx);
    await putRel(ctx, 'r-A', 'a-s2', 'r-S2', 'contains');
    const res = await ctx.rest.get(p`/digitaltwins/${'r-A'}/relationships/${'a-s2'}`);
    expectStatus(res, 200);
    expectEq('$targetId', 'r-S2', (res.body as Rel).$targetId);
    expectTrue('ETag header', !!res.headers.get('etag'), null);
  }),
  rest(
    'If-None-Match: * on an existing relationship: 412',
    'spec:DigitalTwins_AddRelationship (if-none-match-star)',
    async (ctx) => {
      await pair(ctx);
      await putRel(ctx, 'r-A', 'a-inm', 'r-B', 'next');
      const res = await ctx.rest.put(
        p`/digitaltwins/${'r-A'}/relationships/${'a-inm'}`,
        { $targetId: 'r-B', $relationshipName: 'next' },
        { headers: { 'if-none-match': '*' } },
      );
      expectStatus(res, 412);
    },
  ),
  rest(
    'patch relationship properties: 204 with a new ETag; stale If-Match: 412',
    'spec:DigitalTwins_UpdateRelationship; example PatchRelationshipBasicExample',
    async (ctx) => {
      await pair(ctx);
      const etag = await putRel(ctx, 'r-A', 'a-patch', 'r-S1', 'contains', { since: '2019' });
      const res = await ctx.rest.patch(
        p`/digitaltwins/${'r-A'}/relationships/${'a-patch'}`,
        [{ op: 'replace', path: '/since', value: '2024' }],
        {
          headers: { 'if-match': etag },
        },
      );
      expectStatus(res, 204);
      expectTrue(
        'a new ETag header',
        !!res.headers.get('etag') && res.headers.get('etag') !== etag,
        res.headers.get('etag'),
      );
      expectEq(
        'since',
        '2024',
        ((await ctx.rest.get(p`/digitaltwins/${'r-A'}/relationships/${'a-patch'}`)).body as Rel).since,
      );
      const stale = await ctx.rest.patch(
        p`/digitaltwins/${'r-A'}/relationships/${'a-patch'}`,
        [{ op: 'replace', path: '/since', value: 'x' }],
        {
          headers: { 'if-match': etag },
        },
      );
      expectStatus(stale, 412);
    },
  ),
  rest(
    'list relationships: all outgoing, and ?relationshipName= filters',
    'spec:DigitalTwins_ListRelationships; examples GetRelationship, GetRelationshipByRelationshipName',
    async (ctx) => {
      await putTwin(ctx, 'r-L', room());
      await pair(ctx);
      await putRel(ctx, 'r-L', 'l1', 'r-S1', 'contains');
      await putRel(ctx, 'r-L', 'l2', 'r-B', 'next');
      const all = await ctx.rest.get(p`/digitaltwins/${'r-L'}/relationships`);
      expectStatus(all, 200);
      expectSet(
        'all',
        ['l1', 'l2'],
        (all.body as { value: Rel[] }).value.map((r) => String(r.$relationshipId)),
      );
      const named = await ctx.rest.get(p`/digitaltwins/${'r-L'}/relationships`, {
        query: { relationshipName: 'next' },
      });
      expectSet(
        'named next',
        ['l2'],
        (named.body as { value: Rel[] }).value.map((r) => String(r.$relationshipId)),
      );
    },
  ),
  rest(
    'incoming relationships: $relationshipId, $sourceId, $relationshipName, $relationshipLink',
    'spec:DigitalTwins_ListIncomingRelationships; example GetIncomingRelationship',
    async (ctx) => {
      await putTwin(ctx, 'r-T', sensor());
      await putTwin(ctx, 'r-From', room());
      await putRel(ctx, 'r-From', 'in1', 'r-T', 'contains');
      const res = await ctx.rest.get(p`/digitaltwins/${'r-T'}/incomingrelationships`);
      expectStatus(res, 200);
      const [r] = (res.body as { value: Rel[] }).value;
      expectEq(
        'incoming',
        ['in1', 'r-From', 'contains'],
        [r?.$relationshipId, r?.$sourceId, r?.$relationshipName],
      );
      expectTrue(
        '$relationshipLink names the relationship',
        typeof r?.$relationshipLink === 'string' && r.$relationshipLink.includes('in1'),
        r?.$relationshipLink,
      );
    },
  ),
  rest('delete: 204; GET is then 404', 'spec:DigitalTwins_DeleteRelationship', async (ctx) => {
    await pair(ctx);
    await putRel(ctx, 'r-A', 'a-del', 'r-B', 'next');
    expectStatus(await ctx.rest.delete(p`/digitaltwins/${'r-A'}/relationships/${'a-del'}`), 204);
    expectStatus(await ctx.rest.get(p`/digitaltwins/${'r-A'}/relationships/${'a-del'}`), 404);
  }),
  rest(
    'deleting a twin is refused while relationships reference it; allowed after they are gone',
    'spec:DigitalTwins_Delete ("All relationships referencing the digital twin must already be deleted")',
    async (ctx) => {
      await putTwin(ctx, 'r-X', room());
      await putTwin(ctx, 'r-Y', room());
      await putRel(ctx, 'r-X', 'xy', 'r-Y', 'next');
      expectStatus(await ctx.rest.delete(p`/digitaltwins/${'r-Y'}`), 400);
      expectStatus(await ctx.rest.delete(p`/digitaltwins/${'r-X'}/relationships/${'xy'}`), 204);
      expectStatus(await ctx.rest.delete(p`/digitaltwins/${'r-Y'}`), 204);
    },
  ),
  {
    area: 'relationships',
    via: 'sdk',
    name: 'upsertRelationship, getRelationship, updateRelationship, listRelationships, listIncomingRelationships, deleteRelationship',
    source: 'spec:DigitalTwins_*Relationship* via @azure/digital-twins-core',
    async run(ctx) {
      await putTwin(ctx, 'r-sdkA', room());
      await putTwin(ctx, 'r-sdkS', sensor());
      const up = await ctx.sdk.upsertRelationship('r-sdkA', 'sdk1', {
        $relationshipId: 'sdk1',
        $sourceId: 'r-sdkA',
        $targetId: 'r-sdkS',
        $relationshipName: 'contains',
      });
      expectTrue('etag', !!up.etag, up.etag);
      await ctx.sdk.updateRelationship('r-sdkA', 'sdk1', [{ op: 'add', path: '/since', value: '2023' }]);
      expectEq('since', '2023', ((await ctx.sdk.getRelationship('r-sdkA', 'sdk1')).body as Rel).since);
      const out: string[] = [];
      for await (const r of ctx.sdk.listRelationships('r-sdkA')) out.push(String((r as Rel).$relationshipId));
      expectEq('listRelationships', ['sdk1'], out);
      const inc: string[] = [];
      for await (const r of ctx.sdk.listIncomingRelationships('r-sdkS')) inc.push(String(r.sourceId));
      expectEq('listIncomingRelationships sourceId', ['r-sdkA'], inc);
      await ctx.sdk.deleteRelationship('r-sdkA', 'sdk1');
      await expectSdkError(ctx.sdk.getRelationship('r-sdkA', 'sdk1'), 404, 'RelationshipNotFound');
    },
  },
];
