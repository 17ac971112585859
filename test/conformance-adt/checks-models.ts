/** Models (DigitalTwinModels_*) and api-versions: raw REST and the JS SDK. */
import type { Check, CheckContext } from './harness.js';
import { GA_VERSIONS, expectEq, expectSet, expectStatus, expectTrue, p, Mismatch } from './harness.js';
import { DEP_MODELS, DTDL_V3, M, V2_MODEL, V3_MODEL, iface } from './fixtures.js';

interface ModelData {
  id: string;
  uploadTime?: string;
  decommissioned?: boolean;
  model?: { '@id'?: string };
  displayName?: Record<string, string>;
}

async function uploadOnce(ctx: CheckContext, key: string, models: unknown[]): Promise<void> {
  await ctx.once(key, async () => {
    const res = await ctx.rest.post('/models', models);
    if (res.status !== 409) expectStatus(res, 201);
  });
}

/** Every model of GET /models, following nextLink. */
async function listAll(
  ctx: CheckContext,
  query: Record<string, string | string[] | boolean> = {},
): Promise<ModelData[]> {
  const out: ModelData[] = [];
  let res = await ctx.rest.get('/models', { query });
  for (let i = 0; i < 100; i++) {
    expectStatus(res, 200);
    const b = res.body as { value: ModelData[]; nextLink?: string };
    out.push(...b.value);
    if (!b.nextLink) return out;
    res = await ctx.rest.fetchUrl('GET', b.nextLink);
  }
  throw new Mismatch('nextLink chain to end', 'more than 100 pages');
}

const rest = (name: string, source: string, run: Check['run']): Check => ({
  area: 'models',
  via: 'rest',
  name,
  source,
  run,
});
const sdk = (name: string, source: string, run: Check['run']): Check => ({
  area: 'models',
  via: 'sdk',
  name,
  source,
  run,
});

export const modelChecks: Check[] = [
  rest(
    'upload DTDL v3 models: 201 with id, uploadTime, decommissioned false',
    'spec:DigitalTwinModels_Add',
    async (ctx) => {
      const res = await ctx.rest.post('/models', [V3_MODEL]);
      expectStatus(res, 201);
      const [m] = res.body as ModelData[];
      expectEq('id', M.v3, m?.id);
      expectTrue(
        'uploadTime is a date-time',
        typeof m?.uploadTime === 'string' && !Number.isNaN(Date.parse(m.uploadTime)),
        m,
      );
      expectEq('decommissioned', false, m?.decommissioned);
    },
  ),
  rest(
    'upload DTDL v2 models: 201',
    'spec:DigitalTwinModels_Add (examples use dtmi:dtdl:context;2); learn:concepts-models#dtdl-versions',
    async (ctx) => {
      const res = await ctx.rest.post('/models', [V2_MODEL]);
      expectStatus(res, 201);
      expectEq(
        'ids',
        [M.v2],
        (res.body as ModelData[]).map((m) => m.id),
      );
    },
  ),
  rest(
    'list models: value array with every uploaded model, no definition by default',
    'spec:DigitalTwinModels_List',
    async (ctx) => {
      await uploadOnce(ctx, 'dep', DEP_MODELS);
      const all = await listAll(ctx);
      const ids = all.map((m) => m.id);
      for (const id of [M.depTop, M.depBase, M.depPart, M.depOther])
        expectTrue(`list holds ${id}`, ids.includes(id), ids);
      expectTrue(
        'no model definition without includeModelDefinition',
        all.every((m) => m.model === undefined),
        all[0],
      );
    },
  ),
  rest(
    'list models with max-items-per-page: pages of at most that size chained by nextLink',
    'spec:DigitalTwinModels_List (x-ms-pageable nextLink, max-items-per-page)',
    async (ctx) => {
      await uploadOnce(ctx, 'dep', DEP_MODELS);
      const first = await ctx.rest.get('/models', { headers: { 'max-items-per-page': '2' } });
      expectStatus(first, 200);
      const b = first.body as { value: ModelData[]; nextLink?: string };
      expectTrue(
        'first page has at most 2 models',
        b.value.length <= 2 && b.value.length > 0,
        b.value.length,
      );
      expectTrue('nextLink is present when more models exist', typeof b.nextLink === 'string', b.nextLink);
      const second = await ctx.rest.fetchUrl('GET', b.nextLink!, { headers: { 'max-items-per-page': '2' } });
      expectStatus(second, 200);
      const ids2 = (second.body as { value: ModelData[] }).value.map((m) => m.id);
      expectTrue(
        'second page is different',
        ids2.every((id) => !b.value.some((m) => m.id === id)),
        ids2,
      );
    },
  ),
  rest(
    'dependenciesFor: the model, what it extends and its component schemas, nothing else',
    'spec:DigitalTwinModels_List (dependenciesFor); example ModelsGetWithDependenciesAndIncludeModelDefinition',
    async (ctx) => {
      await uploadOnce(ctx, 'dep', DEP_MODELS);
      const got = await listAll(ctx, { dependenciesFor: [M.depTop] });
      expectSet(
        'models',
        [M.depTop, M.depBase, M.depPart],
        got.map((m) => m.id),
      );
    },
  ),
  rest(
    'includeModelDefinition=true on list: each item has model',
    'spec:DigitalTwinModels_List (includeModelDefinition)',
    async (ctx) => {
      await uploadOnce(ctx, 'dep', DEP_MODELS);
      const got = await listAll(ctx, { dependenciesFor: [M.depTop], includeModelDefinition: true });
      expectTrue(
        'every item has model[@id] = id',
        got.length > 0 && got.every((m) => m.model?.['@id'] === m.id),
        got,
      );
    },
  ),
  rest(
    'get model: 200, metadata, displayName as a language map',
    'spec:DigitalTwinModels_GetById; DigitalTwinsModelData.displayName',
    async (ctx) => {
      await uploadOnce(ctx, 'v3', [V3_MODEL]);
      const res = await ctx.rest.get(p`/models/${M.v3}`);
      expectStatus(res, 200);
      const m = res.body as ModelData;
      expectEq('id', M.v3, m.id);
      expectEq('displayName', { en: 'A DTDL v3 model' }, m.displayName);
      expectEq('model (not asked for)', undefined, m.model);
    },
  ),
  rest(
    'get model with includeModelDefinition=true: model is the uploaded definition',
    'spec:DigitalTwinModels_GetById (includeModelDefinition); example ModelGetByIdWithIncludeModelDefinition',
    async (ctx) => {
      await uploadOnce(ctx, 'v2', [V2_MODEL]);
      const res = await ctx.rest.get(p`/models/${M.v2}`, { query: { includeModelDefinition: true } });
      expectStatus(res, 200);
      const m = (res.body as ModelData).model as Record<string, unknown> | undefined;
      expectEq('model @id', M.v2, m?.['@id']);
      expectEq('model @context', 'dtmi:dtdl:context;2', m?.['@context']);
    },
  ),
  rest(
    'decommission by JSON Patch replace /decommissioned: 204, then decommissioned true',
    'spec:DigitalTwinModels_Update; example ModelUpdateDecommissioned',
    async (ctx) => {
      await uploadOnce(ctx, 'old', [iface(M.old, DTDL_V3)]);
      const res = await ctx.rest.patch(p`/models/${M.old}`, [
        { op: 'replace', path: '/decommissioned', value: true },
      ]);
      expectStatus(res, 204);
      const got = await ctx.rest.get(p`/models/${M.old}`);
      expectEq('decommissioned', true, (got.body as ModelData).decommissioned);
    },
  ),
  rest(
    'an upload with one invalid model uploads none of them',
    'spec:DigitalTwinModels_Add ("When any error occurs, no models are uploaded")',
    async (ctx) => {
      const good = iface('dtmi:conf:m:AllOrNothing;1', DTDL_V3);
      const bad = iface('dtmi:conf:m:Broken;1', DTDL_V3, { contents: [{ '@type': 'Nope', name: 'x' }] });
      expectStatus(await ctx.rest.post('/models', [good, bad]), 400);
      expectStatus(await ctx.rest.get(p`/models/${'dtmi:conf:m:AllOrNothing;1'}`), 404);
    },
  ),
  rest(
    'a twin of a model decommissioned after it was created can still be updated',
    'learn .NET DigitalTwinsClient.DecommissionModel remarks ("existing digital twins may continue to use this model"); learn:concepts-models#model-decommissioning',
    async (ctx) => {
      const id = 'dtmi:conf:m:Sunset;1';
      expectStatus(
        await ctx.rest.post('/models', [
          iface(id, DTDL_V3, { contents: [{ '@type': 'Property', name: 'v', schema: 'double' }] }),
        ]),
        201,
      );
      expectStatus(
        await ctx.rest.put(p`/digitaltwins/${'m-sunset'}`, { $metadata: { $model: id }, v: 1 }),
        200,
      );
      expectStatus(
        await ctx.rest.patch(p`/models/${id}`, [{ op: 'replace', path: '/decommissioned', value: true }]),
        204,
      );
      expectStatus(
        await ctx.rest.patch(p`/digitaltwins/${'m-sunset'}`, [{ op: 'replace', path: '/v', value: 2 }]),
        204,
      );
    },
  ),
  rest('delete a model nothing references: 204, then 404', 'spec:DigitalTwinModels_Delete', async (ctx) => {
    const id = 'dtmi:conf:m:Lonely;1';
    expectStatus(await ctx.rest.post('/models', [iface(id, DTDL_V3)]), 201);
    expectStatus(await ctx.rest.delete(p`/models/${id}`), 204);
    expectStatus(await ctx.rest.get(p`/models/${id}`), 404);
  }),
  rest(
    'delete order: the derived model first, then its base',
    'spec:DigitalTwinModels_Delete (only if no other models reference it)',
    async (ctx) => {
      const base = 'dtmi:conf:m:Base2;1';
      const derived = 'dtmi:conf:m:Derived2;1';
      expectStatus(
        await ctx.rest.post('/models', [iface(base, DTDL_V3), iface(derived, DTDL_V3, { extends: base })]),
        201,
      );
      expectStatus(await ctx.rest.delete(p`/models/${derived}`), 204);
      expectStatus(await ctx.rest.delete(p`/models/${base}`), 204);
    },
  ),
  rest(
    'models whose relationships target each other can both be deleted',
    'learn:how-to-manage-model#delete-models (dependencies are extends and components; relationship targets do not block)',
    async (ctx) => {
      const a = iface(M.peerA, DTDL_V3, {
        contents: [{ '@type': 'Relationship', name: 'toB', target: M.peerB }],
      });
      const b = iface(M.peerB, DTDL_V3, {
        contents: [{ '@type': 'Relationship', name: 'toA', target: M.peerA }],
      });
      expectStatus(await ctx.rest.post('/models', [a, b]), 201);
      expectStatus(await ctx.rest.delete(p`/models/${M.peerA}`), 204);
      expectStatus(await ctx.rest.delete(p`/models/${M.peerB}`), 204);
    },
  ),
  sdk(
    'createModels, getModel(includeModelDefinition), listModels',
    'spec:DigitalTwinModels_Add/_GetById/_List via @azure/digital-twins-core',
    async (ctx) => {
      const created = await ctx.sdk.createModels([
        iface(M.sdkV3, DTDL_V3, { contents: [{ '@type': 'Property', name: 'x', schema: 'double' }] }),
      ]);
      expectEq(
        'created ids',
        [M.sdkV3],
        created.map((m) => m.id),
      );
      const got = await ctx.sdk.getModel(M.sdkV3, true);
      expectEq('model @id', M.sdkV3, (got.model as { '@id': string } | undefined)?.['@id']);
      const ids: string[] = [];
      for await (const m of ctx.sdk.listModels(undefined, false)) ids.push(m.id);
      expectTrue('listModels holds the model', ids.includes(M.sdkV3), ids);
    },
  ),
  sdk(
    'listModels(dependenciesFor).byPage({maxPageSize: 1}) walks pages',
    'spec:DigitalTwinModels_List via @azure/digital-twins-core',
    async (ctx) => {
      await uploadOnce(ctx, 'dep', DEP_MODELS);
      const ids: string[] = [];
      let pages = 0;
      for await (const page of ctx.sdk.listModels([M.depTop], false, 1).byPage({ maxPageSize: 1 })) {
        pages++;
        for (const m of page.value ?? []) ids.push(m.id);
      }
      expectSet('models', [M.depTop, M.depBase, M.depPart], ids);
      expectTrue('more than one page', pages >= 2, pages);
    },
  ),
  sdk(
    'decomissionModel and deleteModel',
    'spec:DigitalTwinModels_Update/_Delete via @azure/digital-twins-core',
    async (ctx) => {
      const id = 'dtmi:conf:m:SdkGone;1';
      await ctx.sdk.createModels([iface(id, DTDL_V3)]);
      await ctx.sdk.decomissionModel(id);
      expectEq('decommissioned', true, (await ctx.sdk.getModel(id)).decommissioned);
      await ctx.sdk.deleteModel(id);
      const after = await ctx.rest.get(p`/models/${id}`);
      expectStatus(after, 404);
    },
  ),
];

const av = (name: string, source: string, run: Check['run']): Check => ({
  area: 'api-versions',
  via: 'rest',
  name,
  source,
  run,
});

export const apiVersionChecks: Check[] = [
  ...GA_VERSIONS.map((v) =>
    av(
      `api-version=${v}: list models and query answer 200`,
      `spec:stable/${v}/digitaltwins.json`,
      async (ctx) => {
        expectStatus(await ctx.rest.get('/models', { apiVersion: v }), 200);
        expectStatus(
          await ctx.rest.post('/query', { query: 'SELECT * FROM DIGITALTWINS' }, { apiVersion: v }),
          200,
        );
      },
    ),
  ),
  av(
    'an unknown api-version is refused with 400',
    'spec:parameters/api-version (the requested API version; only published versions exist)',
    async (ctx) => {
      const res = await ctx.rest.get('/models', { apiVersion: '2019-01-01' });
      expectStatus(res, 400);
    },
  ),
  {
    area: 'api-versions',
    via: 'sdk',
    name: 'the JS SDK 1.1.0 (api-version 2022-05-31) is served',
    source: '@azure/digital-twins-core 1.1.0 sends api-version 2022-05-31',
    async run(ctx) {
      const ids: string[] = [];
      for await (const m of ctx.sdk.listModels()) ids.push(m.id);
      expectTrue('listModels resolves', Array.isArray(ids), ids);
    },
  },
];
