/**
 * Every documented error code, each as the spec lists it under its operation: the HTTP status, the
 * `x-ms-error-code` header and the body's `error.code` (spec: every operation's default response).
 */
import type { Check } from './harness.js';
import { expectError, expectSdkError, p } from './harness.js';
import { DTDL_V3, M, iface, putRel, putTwin, room, sensor, twinModels } from './fixtures.js';

const e = (name: string, source: string, run: Check['run']): Check => ({
  area: 'errors',
  via: 'rest',
  name,
  source,
  run,
});

export const errorChecks: Check[] = [
  e('DigitalTwinModels_Add 400 DTDLParserError (not DTDL)', 'spec:DigitalTwinModels_Add', async (ctx) => {
    const bad = iface('dtmi:conf:e:Bad;1', DTDL_V3, {
      contents: [{ '@type': 'Property', name: 'x', schema: 'noSuchSchema' }],
    });
    expectError(await ctx.rest.post('/models', [bad]), 400, 'DTDLParserError');
  }),
  e(
    'DigitalTwinModels_Add 400 DTDLParserError (extends a model that is not there)',
    'spec:DigitalTwinModels_Add',
    async (ctx) => {
      expectError(
        await ctx.rest.post('/models', [
          iface('dtmi:conf:e:Orphan;1', DTDL_V3, { extends: 'dtmi:conf:e:Nowhere;1' }),
        ]),
        400,
        'DTDLParserError',
      );
    },
  ),
  e(
    'DigitalTwinModels_Add 400 ModelVersionNotSupported (a DTDL version ADT does not support: dtmi:dtdl:context;4) or DTDLParserError',
    'spec:DigitalTwinModels_Add (ModelVersionNotSupported - The version of DTDL used is not supported); ADT supports DTDL v2 and v3',
    async (ctx) => {
      const v4 = iface('dtmi:conf:e:Four;1', 'dtmi:dtdl:context;4');
      expectError(await ctx.rest.post('/models', [v4]), 400, ['ModelVersionNotSupported', 'DTDLParserError']);
    },
  ),
  e('DigitalTwinModels_Add 409 ModelAlreadyExists', 'spec:DigitalTwinModels_Add', async (ctx) => {
    const m = iface('dtmi:conf:e:Twice;1', DTDL_V3);
    await ctx.rest.post('/models', [m]);
    expectError(await ctx.rest.post('/models', [m]), 409, 'ModelAlreadyExists');
  }),
  e(
    'DigitalTwinModels_Add 400 (an empty array: minItems 1): DTDLParserError or InvalidArgument',
    'spec:DigitalTwinModels_Add (models: minItems 1)',
    async (ctx) => {
      expectError(await ctx.rest.post('/models', []), 400, ['DTDLParserError', 'InvalidArgument']);
    },
  ),
  e('DigitalTwinModels_GetById 404 ModelNotFound', 'spec:DigitalTwinModels_GetById', async (ctx) => {
    expectError(await ctx.rest.get(p`/models/${'dtmi:conf:e:Missing;1'}`), 404, 'ModelNotFound');
  }),
  e(
    'DigitalTwinModels_List 404 ModelNotFound (dependenciesFor a missing model)',
    'spec:DigitalTwinModels_List',
    async (ctx) => {
      expectError(
        await ctx.rest.get('/models', { query: { dependenciesFor: 'dtmi:conf:e:Missing;1' } }),
        404,
        'ModelNotFound',
      );
    },
  ),
  e(
    'DigitalTwinModels_Update 400 JsonPatchInvalid (a path other than /decommissioned)',
    'spec:DigitalTwinModels_Update ("Only the decommissioned property can be replaced")',
    async (ctx) => {
      const id = 'dtmi:conf:e:Patchy;1';
      await ctx.rest.post('/models', [iface(id, DTDL_V3)]);
      expectError(
        await ctx.rest.patch(p`/models/${id}`, [{ op: 'replace', path: '/displayName', value: 'x' }]),
        400,
        'JsonPatchInvalid',
      );
    },
  ),
  e('DigitalTwinModels_Update 404 ModelNotFound', 'spec:DigitalTwinModels_Update', async (ctx) => {
    expectError(
      await ctx.rest.patch(p`/models/${'dtmi:conf:e:Missing;1'}`, [
        { op: 'replace', path: '/decommissioned', value: true },
      ]),
      404,
      'ModelNotFound',
    );
  }),
  e('DigitalTwinModels_Delete 404 ModelNotFound', 'spec:DigitalTwinModels_Delete', async (ctx) => {
    expectError(await ctx.rest.delete(p`/models/${'dtmi:conf:e:Missing;1'}`), 404, 'ModelNotFound');
  }),
  e(
    'DigitalTwinModels_Delete 409 ModelReferencesNotDeleted (another model extends it)',
    'spec:DigitalTwinModels_Delete',
    async (ctx) => {
      await ctx.rest.post('/models', [
        iface(M.base, DTDL_V3),
        iface(M.derived, DTDL_V3, { extends: M.base }),
      ]);
      expectError(await ctx.rest.delete(p`/models/${M.base}`), 409, 'ModelReferencesNotDeleted');
    },
  ),
  e('DigitalTwins_Add 400 ModelDecommissioned', 'spec:DigitalTwins_Add', async (ctx) => {
    const id = 'dtmi:conf:e:Retired;1';
    await ctx.rest.post('/models', [iface(id, DTDL_V3)]);
    await ctx.rest.patch(p`/models/${id}`, [{ op: 'replace', path: '/decommissioned', value: true }]);
    expectError(
      await ctx.rest.put(p`/digitaltwins/${'e-retired'}`, { $metadata: { $model: id } }),
      400,
      'ModelDecommissioned',
    );
  }),
  e(
    'DigitalTwins_Add 400 ValidationFailed (a property of the wrong type)',
    'spec:DigitalTwins_Add',
    async (ctx) => {
      await twinModels(ctx);
      expectError(
        await ctx.rest.put(p`/digitaltwins/${'e-type'}`, room({ temperature: 'hot' })),
        400,
        'ValidationFailed',
      );
    },
  ),
  e(
    'DigitalTwins_Add 400 ValidationFailed (a property not in the model)',
    'spec:DigitalTwins_Add',
    async (ctx) => {
      await twinModels(ctx);
      expectError(
        await ctx.rest.put(p`/digitaltwins/${'e-extra'}`, room({ colour: 'red' })),
        400,
        'ValidationFailed',
      );
    },
  ),
  e(
    'DigitalTwins_Add 412 PreconditionFailed (If-None-Match: * on an existing twin)',
    'spec:DigitalTwins_Add',
    async (ctx) => {
      await putTwin(ctx, 'e-exists', room());
      expectError(
        await ctx.rest.put(p`/digitaltwins/${'e-exists'}`, room(), { headers: { 'if-none-match': '*' } }),
        412,
        'PreconditionFailed',
      );
    },
  ),
  e('DigitalTwins_GetById 404 DigitalTwinNotFound', 'spec:DigitalTwins_GetById', async (ctx) => {
    expectError(await ctx.rest.get(p`/digitaltwins/${'e-missing'}`), 404, 'DigitalTwinNotFound');
  }),
  e('DigitalTwins_Update 404 DigitalTwinNotFound', 'spec:DigitalTwins_Update', async (ctx) => {
    expectError(
      await ctx.rest.patch(p`/digitaltwins/${'e-missing'}`, [{ op: 'add', path: '/temperature', value: 1 }]),
      404,
      'DigitalTwinNotFound',
    );
  }),
  e(
    "DigitalTwins_Update 400 JsonPatchInvalid (op 'move': only add, replace and remove)",
    'spec:DigitalTwins_Update (patchDocument)',
    async (ctx) => {
      await putTwin(ctx, 'e-patch', room({ temperature: 1 }));
      expectError(
        await ctx.rest.patch(p`/digitaltwins/${'e-patch'}`, [
          { op: 'move', from: '/temperature', path: '/name' },
        ]),
        400,
        'JsonPatchInvalid',
      );
    },
  ),
  e(
    'DigitalTwins_Update 400 JsonPatchInvalid (not an array)',
    'spec:DigitalTwins_Update (patchDocument is an array)',
    async (ctx) => {
      await putTwin(ctx, 'e-patch', room({ temperature: 1 }));
      expectError(
        await ctx.rest.patch(p`/digitaltwins/${'e-patch'}`, { op: 'add', path: '/temperature', value: 1 }),
        400,
        'JsonPatchInvalid',
      );
    },
  ),
  e(
    'DigitalTwins_Update 400 ValidationFailed (the patched twin is invalid)',
    'spec:DigitalTwins_Update',
    async (ctx) => {
      await putTwin(ctx, 'e-patch', room({ temperature: 1 }));
      expectError(
        await ctx.rest.patch(p`/digitaltwins/${'e-patch'}`, [
          { op: 'add', path: '/temperature', value: 'hot' },
        ]),
        400,
        'ValidationFailed',
      );
    },
  ),
  e('DigitalTwins_Update 412 PreconditionFailed', 'spec:DigitalTwins_Update', async (ctx) => {
    await putTwin(ctx, 'e-patch', room({ temperature: 1 }));
    const stale = 'W/"00000000-0000-0000-0000-000000000000"';
    expectError(
      await ctx.rest.patch(p`/digitaltwins/${'e-patch'}`, [{ op: 'add', path: '/temperature', value: 2 }], {
        headers: { 'if-match': stale },
      }),
      412,
      'PreconditionFailed',
    );
  }),
  e('DigitalTwins_Delete 404 DigitalTwinNotFound', 'spec:DigitalTwins_Delete', async (ctx) => {
    expectError(await ctx.rest.delete(p`/digitaltwins/${'e-missing'}`), 404, 'DigitalTwinNotFound');
  }),
  e('DigitalTwins_Delete 400 RelationshipsNotDeleted', 'spec:DigitalTwins_Delete', async (ctx) => {
    await putTwin(ctx, 'e-src', room());
    await putTwin(ctx, 'e-dst', sensor());
    await putRel(ctx, 'e-src', 'e-r', 'e-dst', 'contains');
    expectError(await ctx.rest.delete(p`/digitaltwins/${'e-src'}`), 400, 'RelationshipsNotDeleted');
  }),
  e('DigitalTwins_Delete 412 PreconditionFailed', 'spec:DigitalTwins_Delete', async (ctx) => {
    await putTwin(ctx, 'e-delpre', room());
    expectError(
      await ctx.rest.delete(p`/digitaltwins/${'e-delpre'}`, { headers: { 'if-match': 'W/"stale"' } }),
      412,
      'PreconditionFailed',
    );
  }),
  e('DigitalTwins_GetComponent 404 ComponentNotFound', 'spec:DigitalTwins_GetComponent', async (ctx) => {
    await putTwin(ctx, 'e-comp', room());
    expectError(
      await ctx.rest.get(p`/digitaltwins/${'e-comp'}/components/${'nope'}`),
      404,
      'ComponentNotFound',
    );
  }),
  e('DigitalTwins_GetComponent 404 DigitalTwinNotFound', 'spec:DigitalTwins_GetComponent', async (ctx) => {
    expectError(
      await ctx.rest.get(p`/digitaltwins/${'e-missing'}/components/${'thermostat'}`),
      404,
      'DigitalTwinNotFound',
    );
  }),
  e(
    'DigitalTwins_UpdateComponent 404 DigitalTwinNotFound',
    'spec:DigitalTwins_UpdateComponent',
    async (ctx) => {
      expectError(
        await ctx.rest.patch(p`/digitaltwins/${'e-missing'}/components/${'thermostat'}`, [
          { op: 'add', path: '/setPoint', value: 1 },
        ]),
        404,
        'DigitalTwinNotFound',
      );
    },
  ),
  e(
    'DigitalTwins_AddRelationship 404 TargetTwinNotFound',
    'spec:DigitalTwins_AddRelationship',
    async (ctx) => {
      await putTwin(ctx, 'e-src2', room());
      expectError(
        await ctx.rest.put(p`/digitaltwins/${'e-src2'}/relationships/${'to-nowhere'}`, {
          $targetId: 'e-missing',
          $relationshipName: 'next',
        }),
        404,
        'TargetTwinNotFound',
      );
    },
  ),
  e(
    'DigitalTwins_AddRelationship 404 DigitalTwinNotFound (missing source)',
    'spec:DigitalTwins_AddRelationship',
    async (ctx) => {
      await putTwin(ctx, 'e-dst2', room());
      expectError(
        await ctx.rest.put(p`/digitaltwins/${'e-missing'}/relationships/${'r'}`, {
          $targetId: 'e-dst2',
          $relationshipName: 'next',
        }),
        404,
        'DigitalTwinNotFound',
      );
    },
  ),
  e(
    'DigitalTwins_AddRelationship 400 (a relationship name not in the model): InvalidRelationship or ValidationFailed',
    'spec:DigitalTwins_AddRelationship',
    async (ctx) => {
      await putTwin(ctx, 'e-a', room());
      await putTwin(ctx, 'e-b', room());
      expectError(
        await ctx.rest.put(p`/digitaltwins/${'e-a'}/relationships/${'bogus'}`, {
          $targetId: 'e-b',
          $relationshipName: 'noSuchRel',
        }),
        400,
        ['InvalidRelationship', 'ValidationFailed'],
      );
    },
  ),
  e(
    'DigitalTwins_AddRelationship 412 PreconditionFailed',
    'spec:DigitalTwins_AddRelationship',
    async (ctx) => {
      await putTwin(ctx, 'e-a', room());
      await putTwin(ctx, 'e-b', room());
      await putRel(ctx, 'e-a', 'e-ab', 'e-b', 'next');
      expectError(
        await ctx.rest.put(
          p`/digitaltwins/${'e-a'}/relationships/${'e-ab'}`,
          { $targetId: 'e-b', $relationshipName: 'next' },
          { headers: { 'if-none-match': '*' } },
        ),
        412,
        'PreconditionFailed',
      );
    },
  ),
  e(
    'DigitalTwins_GetRelationshipById 404 RelationshipNotFound',
    'spec:DigitalTwins_GetRelationshipById',
    async (ctx) => {
      await putTwin(ctx, 'e-a', room());
      expectError(
        await ctx.rest.get(p`/digitaltwins/${'e-a'}/relationships/${'nope'}`),
        404,
        'RelationshipNotFound',
      );
    },
  ),
  e(
    'DigitalTwins_GetRelationshipById 404 DigitalTwinNotFound',
    'spec:DigitalTwins_GetRelationshipById',
    async (ctx) => {
      expectError(
        await ctx.rest.get(p`/digitaltwins/${'e-missing'}/relationships/${'nope'}`),
        404,
        'DigitalTwinNotFound',
      );
    },
  ),
  e(
    'DigitalTwins_DeleteRelationship 404 RelationshipNotFound',
    'spec:DigitalTwins_DeleteRelationship',
    async (ctx) => {
      await putTwin(ctx, 'e-a', room());
      expectError(
        await ctx.rest.delete(p`/digitaltwins/${'e-a'}/relationships/${'nope'}`),
        404,
        'RelationshipNotFound',
      );
    },
  ),
  e(
    'DigitalTwins_UpdateRelationship 404 RelationshipNotFound',
    'spec:DigitalTwins_UpdateRelationship',
    async (ctx) => {
      await putTwin(ctx, 'e-a', room());
      expectError(
        await ctx.rest.patch(p`/digitaltwins/${'e-a'}/relationships/${'nope'}`, [
          { op: 'add', path: '/since', value: 'x' },
        ]),
        404,
        'RelationshipNotFound',
      );
    },
  ),
  e(
    'DigitalTwins_ListRelationships 404 DigitalTwinNotFound',
    'spec:DigitalTwins_ListRelationships',
    async (ctx) => {
      expectError(
        await ctx.rest.get(p`/digitaltwins/${'e-missing'}/relationships`),
        404,
        'DigitalTwinNotFound',
      );
    },
  ),
  e(
    'DigitalTwins_ListIncomingRelationships 404 DigitalTwinNotFound',
    'spec:DigitalTwins_ListIncomingRelationships',
    async (ctx) => {
      expectError(
        await ctx.rest.get(p`/digitaltwins/${'e-missing'}/incomingrelationships`),
        404,
        'DigitalTwinNotFound',
      );
    },
  ),
  e('Query_QueryTwins 400 SqlQueryError', 'spec:Query_QueryTwins', async (ctx) => {
    expectError(await ctx.rest.post('/query', { query: 'SELECT FROM WHERE' }), 400, 'SqlQueryError');
  }),
  e('ImportJobs_GetById 404 ImportJobNotFound', 'spec:ImportJobs_GetById', async (ctx) => {
    expectError(await ctx.rest.get(p`/jobs/imports/${'no-such-job'}`), 404, 'ImportJobNotFound');
  }),
  e('EventRoutes_GetById 404 EventRouteNotFound', 'spec:EventRoutes_GetById', async (ctx) => {
    expectError(await ctx.rest.get(p`/eventroutes/${'no-such-route'}`), 404, 'EventRouteNotFound');
  }),
  {
    area: 'errors',
    via: 'sdk',
    name: 'the SDK surfaces the error code (RestError.code) of DigitalTwinNotFound, ModelNotFound, TargetTwinNotFound',
    source: 'spec default responses; core-http RestError.code from error.code',
    async run(ctx) {
      await expectSdkError(ctx.sdk.getDigitalTwin('e-missing'), 404, 'DigitalTwinNotFound');
      await expectSdkError(ctx.sdk.getModel('dtmi:conf:e:Missing;1'), 404, 'ModelNotFound');
      await twinModels(ctx);
      await putTwin(ctx, 'e-sdk-src', room());
      await expectSdkError(
        ctx.sdk.upsertRelationship('e-sdk-src', 'x', {
          $relationshipId: 'x',
          $sourceId: 'e-sdk-src',
          $targetId: 'e-missing',
          $relationshipName: 'next',
        }),
        404,
        'TargetTwinNotFound',
      );
    },
  },
];
