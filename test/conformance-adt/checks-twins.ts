/** Twins (DigitalTwins_GetById/_Add/_Update/_Delete) and components: raw REST and the JS SDK. */
import type { Check } from './harness.js';
import { expectEq, expectStatus, expectTrue, p, expectSdkError, Mismatch } from './harness.js';
import { T, putTwin, room, twinModels } from './fixtures.js';

type Twin = { $dtId?: string; $etag?: string; $metadata?: Record<string, unknown> } & Record<string, unknown>;

const WEAK_ETAG = /^W\/".+"$/;
const rest = (name: string, source: string, run: Check['run']): Check => ({
  area: 'twins',
  via: 'rest',
  name,
  source,
  run,
});
const sdk = (name: string, source: string, run: Check['run']): Check => ({
  area: 'twins',
  via: 'sdk',
  name,
  source,
  run,
});

export const twinChecks: Check[] = [
  rest(
    'create: 200 with $dtId, $etag, $metadata.$model; ETag header = $etag (weak)',
    'spec:DigitalTwins_Add; example PutTwinAdvancedExample',
    async (ctx) => {
      await twinModels(ctx);
      const res = await ctx.rest.put(p`/digitaltwins/${'t-create'}`, room({ temperature: 21, name: 'A' }));
      expectStatus(res, 200);
      const b = res.body as Twin;
      expectEq('$dtId', 't-create', b.$dtId);
      expectEq('$metadata.$model', T.room, b.$metadata?.$model);
      expectTrue('$etag is a weak etag', WEAK_ETAG.test(String(b.$etag)), b.$etag);
      expectEq('ETag header', b.$etag, res.headers.get('etag'));
    },
  ),
  rest(
    'get: 200, ETag header, $metadata.$lastUpdateTime and per-property lastUpdateTime',
    'spec:DigitalTwins_GetById; example QueryFirstPage ($metadata shape)',
    async (ctx) => {
      await putTwin(ctx, 't-get', room({ temperature: 21 }));
      const res = await ctx.rest.get(p`/digitaltwins/${'t-get'}`);
      expectStatus(res, 200);
      const b = res.body as Twin;
      expectEq('ETag header', b.$etag, res.headers.get('etag'));
      expectEq('temperature', 21, b.temperature);
      const md = b.$metadata as { $lastUpdateTime?: string; temperature?: { lastUpdateTime?: string } };
      expectTrue(
        '$metadata.$lastUpdateTime is a date-time',
        !Number.isNaN(Date.parse(String(md.$lastUpdateTime))),
        md,
      );
      expectTrue(
        '$metadata.temperature.lastUpdateTime',
        !Number.isNaN(Date.parse(String(md.temperature?.lastUpdateTime))),
        md,
      );
    },
  ),
  rest(
    'the $dtId in the body is ignored: the path names the twin',
    'spec:DigitalTwins_Add (twin: "If provided, the $dtId property is ignored")',
    async (ctx) => {
      await twinModels(ctx);
      const res = await ctx.rest.put(p`/digitaltwins/${'t-path'}`, room({ $dtId: 'something-else' }));
      expectStatus(res, 200);
      expectEq('$dtId', 't-path', (res.body as Twin).$dtId);
    },
  ),
  rest(
    'replace with PUT: properties not in the new body are gone',
    'spec:DigitalTwins_Add ("Adds or replaces a digital twin")',
    async (ctx) => {
      await putTwin(ctx, 't-replace', room({ temperature: 21, name: 'old' }));
      await putTwin(ctx, 't-replace', room({ temperature: 22 }));
      const b = (await ctx.rest.get(p`/digitaltwins/${'t-replace'}`)).body as Twin;
      expectEq('name', undefined, b.name);
      expectEq('temperature', 22, b.temperature);
    },
  ),
  rest(
    'If-None-Match: * creates a new twin (200) and refuses an existing one (412)',
    'spec:DigitalTwins_Add (if-none-match-star)',
    async (ctx) => {
      await twinModels(ctx);
      const first = await ctx.rest.put(p`/digitaltwins/${'t-inm'}`, room(), {
        headers: { 'if-none-match': '*' },
      });
      expectStatus(first, 200);
      const again = await ctx.rest.put(p`/digitaltwins/${'t-inm'}`, room(), {
        headers: { 'if-none-match': '*' },
      });
      expectStatus(again, 412);
    },
  ),
  rest(
    'JSON Patch add/replace/remove: 204 with a new ETag; GET shows the changes',
    'spec:DigitalTwins_Update; example PatchTwinAdvancedExample',
    async (ctx) => {
      const etag = await putTwin(ctx, 't-patch', room({ temperature: 21, name: 'n' }));
      const res = await ctx.rest.patch(p`/digitaltwins/${'t-patch'}`, [
        { op: 'replace', path: '/temperature', value: 23 },
        { op: 'remove', path: '/name' },
      ]);
      expectStatus(res, 204);
      const newEtag = res.headers.get('etag');
      expectTrue('a new ETag header', !!newEtag && newEtag !== etag, newEtag);
      const b = (await ctx.rest.get(p`/digitaltwins/${'t-patch'}`)).body as Twin;
      expectEq('temperature', 23, b.temperature);
      expectEq('name', undefined, b.name);
      expectStatus(
        await ctx.rest.patch(p`/digitaltwins/${'t-patch'}`, [{ op: 'add', path: '/name', value: 'again' }]),
        204,
      );
    },
  ),
  rest(
    'If-Match: the current etag applies (204), a stale one is refused (412)',
    'spec:DigitalTwins_Update (if-match)',
    async (ctx) => {
      const etag = await putTwin(ctx, 't-ifmatch', room({ temperature: 1 }));
      const ok = await ctx.rest.patch(
        p`/digitaltwins/${'t-ifmatch'}`,
        [{ op: 'replace', path: '/temperature', value: 2 }],
        {
          headers: { 'if-match': etag },
        },
      );
      expectStatus(ok, 204);
      const stale = await ctx.rest.patch(
        p`/digitaltwins/${'t-ifmatch'}`,
        [{ op: 'replace', path: '/temperature', value: 3 }],
        {
          headers: { 'if-match': etag },
        },
      );
      expectStatus(stale, 412);
      const star = await ctx.rest.patch(
        p`/digitaltwins/${'t-ifmatch'}`,
        [{ op: 'replace', path: '/temperature', value: 4 }],
        {
          headers: { 'if-match': '*' },
        },
      );
      expectStatus(star, 204);
    },
  ),
  rest(
    'PATCH /$metadata/$model moves a twin to another model it validates against',
    'spec:DigitalTwins_Update ("Updates to property values and $model elements may happen in the same request")',
    async (ctx) => {
      await putTwin(ctx, 't-remodel', room({ temperature: 5 }));
      const res = await ctx.rest.patch(p`/digitaltwins/${'t-remodel'}`, [
        { op: 'replace', path: '/$metadata/$model', value: T.hall },
      ]);
      expectStatus(res, 204);
      const b = (await ctx.rest.get(p`/digitaltwins/${'t-remodel'}`)).body as Twin;
      expectEq('$metadata.$model', T.hall, b.$metadata?.$model);
    },
  ),
  rest(
    'sourceTime on a property: set by PATCH /$metadata/<prop>/sourceTime, shown in $metadata',
    'learn:how-to-manage-twin#update-sourcetime-field; example QueryFirstPage ($metadata.temp.sourceTime)',
    async (ctx) => {
      await putTwin(ctx, 't-source', room({ temperature: 5 }));
      const when = '2022-05-31T12:00:00.000125009Z';
      const res = await ctx.rest.patch(p`/digitaltwins/${'t-source'}`, [
        { op: 'replace', path: '/temperature', value: 6 },
        { op: 'replace', path: '/$metadata/temperature/sourceTime', value: when },
      ]);
      expectStatus(res, 204);
      const md = ((await ctx.rest.get(p`/digitaltwins/${'t-source'}`)).body as Twin).$metadata as Record<
        string,
        { sourceTime?: string }
      >;
      expectTrue(
        'sourceTime kept',
        typeof md.temperature?.sourceTime === 'string' &&
          Date.parse(md.temperature.sourceTime) === Date.parse(when),
        md.temperature,
      );
    },
  ),
  rest('delete: 204; then GET is 404', 'spec:DigitalTwins_Delete', async (ctx) => {
    await putTwin(ctx, 't-del', room());
    expectStatus(await ctx.rest.delete(p`/digitaltwins/${'t-del'}`), 204);
    expectStatus(await ctx.rest.get(p`/digitaltwins/${'t-del'}`), 404);
  }),
  rest(
    'delete with a stale If-Match: 412; with the current one: 204',
    'spec:DigitalTwins_Delete (if-match)',
    async (ctx) => {
      const old = await putTwin(ctx, 't-delif', room({ temperature: 1 }));
      await putTwin(ctx, 't-delif', room({ temperature: 2 }));
      expectStatus(
        await ctx.rest.delete(p`/digitaltwins/${'t-delif'}`, { headers: { 'if-match': old } }),
        412,
      );
      const cur = (await ctx.rest.get(p`/digitaltwins/${'t-delif'}`)).headers.get('etag') ?? '';
      expectStatus(
        await ctx.rest.delete(p`/digitaltwins/${'t-delif'}`, { headers: { 'if-match': cur } }),
        204,
      );
    },
  ),
  rest(
    'a twin id of 5,000 characters gets an ADT error body that does not echo the id',
    'spec:definitions/ErrorResponse; learn:reference-service-limits (twin id length)',
    async (ctx) => {
      const id = 'x'.repeat(5000);
      const res = await ctx.rest.get(p`/digitaltwins/${id}`);
      const err = (res.body as { error?: { code?: unknown } } | undefined)?.error;
      expectTrue(
        '4xx with {error:{code}}',
        res.status >= 400 && res.status < 500 && typeof err?.code === 'string',
        `${res.status} ${res.text.slice(0, 120)}`,
      );
      expectTrue('the body does not echo the id', !res.text.includes(id), res.text.length);
    },
  ),
  sdk(
    'upsertDigitalTwin, getDigitalTwin, updateDigitalTwin(ifMatch), deleteDigitalTwin',
    'spec:DigitalTwins_* via @azure/digital-twins-core',
    async (ctx) => {
      await twinModels(ctx);
      const created = await ctx.sdk.upsertDigitalTwin('t-sdk', JSON.stringify(room({ temperature: 20 })));
      expectEq('etag = body $etag', (created.body as Twin).$etag, created.etag);
      const upd = await ctx.sdk.updateDigitalTwin(
        't-sdk',
        [{ op: 'replace', path: '/temperature', value: 24 }],
        { ifMatch: created.etag! },
      );
      expectTrue('update answers a new etag', !!upd.etag && upd.etag !== created.etag, upd.etag);
      await expectSdkError(
        ctx.sdk.updateDigitalTwin('t-sdk', [{ op: 'replace', path: '/temperature', value: 1 }], {
          ifMatch: created.etag!,
        }),
        412,
      );
      expectEq('temperature', 24, ((await ctx.sdk.getDigitalTwin('t-sdk')).body as Twin).temperature);
      await ctx.sdk.deleteDigitalTwin('t-sdk');
      await expectSdkError(ctx.sdk.getDigitalTwin('t-sdk'), 404, 'DigitalTwinNotFound');
    },
  ),
  sdk(
    'upsertDigitalTwin with ifNoneMatch "*" on an existing twin: 412',
    'spec:DigitalTwins_Add via @azure/digital-twins-core',
    async (ctx) => {
      await putTwin(ctx, 't-sdk-inm', room());
      await expectSdkError(
        ctx.sdk.upsertDigitalTwin('t-sdk-inm', JSON.stringify(room()), { ifNoneMatch: '*' }),
        412,
      );
    },
  ),
];

const crest = (name: string, source: string, run: Check['run']): Check => ({
  area: 'components',
  via: 'rest',
  name,
  source,
  run,
});

export const componentChecks: Check[] = [
  crest(
    'get component: 200 with $metadata and an ETag header',
    'spec:DigitalTwins_GetComponent; example GetComponent',
    async (ctx) => {
      await putTwin(ctx, 'c-get', room({ thermostat: { $metadata: {}, setPoint: 19 } }));
      const res = await ctx.rest.get(p`/digitaltwins/${'c-get'}/components/${'thermostat'}`);
      expectStatus(res, 200);
      const b = res.body as Twin;
      expectEq('setPoint', 19, b.setPoint);
      expectTrue('$metadata object', typeof b.$metadata === 'object' && b.$metadata !== null, b);
      expectTrue('ETag header', !!res.headers.get('etag'), null);
    },
  ),
  crest(
    'patch component: 204 with an ETag header; GET shows the change',
    'spec:DigitalTwins_UpdateComponent; example PatchComponentAdvancedExample',
    async (ctx) => {
      await putTwin(ctx, 'c-patch', room());
      const res = await ctx.rest.patch(p`/digitaltwins/${'c-patch'}/components/${'thermostat'}`, [
        { op: 'add', path: '/setPoint', value: 21 },
        { op: 'add', path: '/mode', value: 'eco' },
      ]);
      expectStatus(res, 204);
      expectTrue('ETag header', !!res.headers.get('etag'), null);
      const b = (await ctx.rest.get(p`/digitaltwins/${'c-patch'}/components/${'thermostat'}`)).body as Twin;
      expectEq('setPoint, mode', [21, 'eco'], [b.setPoint, b.mode]);
    },
  ),
  crest(
    'the component is also in the twin, under its name',
    'spec:DigitalTwins_GetById; example PutTwinAdvancedExample (components inside the twin)',
    async (ctx) => {
      await putTwin(ctx, 'c-in', room({ thermostat: { $metadata: {}, setPoint: 18 } }));
      const b = (await ctx.rest.get(p`/digitaltwins/${'c-in'}`)).body as {
        thermostat?: { setPoint?: number };
      };
      expectEq('thermostat.setPoint', 18, b.thermostat?.setPoint);
    },
  ),
  crest(
    'patch component with a stale If-Match: 412',
    'spec:DigitalTwins_UpdateComponent (if-match)',
    async (ctx) => {
      await putTwin(ctx, 'c-ifm', room());
      const stale = 'W/"00000000-0000-0000-0000-000000000000"';
      const res = await ctx.rest.patch(
        p`/digitaltwins/${'c-ifm'}/components/${'thermostat'}`,
        [{ op: 'add', path: '/setPoint', value: 1 }],
        {
          headers: { 'if-match': stale },
        },
      );
      expectStatus(res, 412);
    },
  ),
  {
    area: 'components',
    via: 'sdk',
    name: 'getComponent and updateComponent',
    source: 'spec:DigitalTwins_GetComponent/_UpdateComponent via @azure/digital-twins-core',
    async run(ctx) {
      await putTwin(ctx, 'c-sdk', room());
      await ctx.sdk.updateComponent('c-sdk', 'thermostat', [{ op: 'add', path: '/setPoint', value: 22.5 }]);
      const got = await ctx.sdk.getComponent('c-sdk', 'thermostat');
      expectEq('setPoint', 22.5, (got.body as Twin).setPoint);
      if (!got.etag) throw new Mismatch('an etag', 'none');
      await expectSdkError(ctx.sdk.getComponent('c-sdk', 'nope'), 404, 'ComponentNotFound');
    },
  },
];
