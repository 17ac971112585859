/** Telemetry (DigitalTwins_SendTelemetry/_SendComponentTelemetry) and event routes (EventRoutes_*). */
import type { Check } from './harness.js';
import { expectEq, expectError, expectStatus, expectTrue, p, expectSdkError } from './harness.js';
import { putTwin, room } from './fixtures.js';

const tel = (name: string, source: string, run: Check['run']): Check => ({
  area: 'telemetry',
  via: 'rest',
  name,
  source,
  run,
});
const TWIN = 'tel-1';
const msg = (): Record<string, string> => ({ 'message-id': `m-${Math.random().toString(36).slice(2)}` });

export const telemetryChecks: Check[] = [
  tel(
    'a JSON object in the model: 204',
    'spec:DigitalTwins_SendTelemetry; example SendTelemetry',
    async (ctx) => {
      await putTwin(ctx, TWIN, room());
      expectStatus(
        await ctx.rest.post(p`/digitaltwins/${TWIN}/telemetry`, { humidity: 55 }, { headers: msg() }),
        204,
      );
    },
  ),
  tel(
    'with Telemetry-Source-Time: 204',
    'spec:DigitalTwins_SendTelemetry (Telemetry-Source-Time header)',
    async (ctx) => {
      await putTwin(ctx, TWIN, room());
      const res = await ctx.rest.post(
        p`/digitaltwins/${TWIN}/telemetry`,
        { humidity: 56 },
        {
          headers: { ...msg(), 'telemetry-source-time': '2024-01-01T00:00:00.000Z' },
        },
      );
      expectStatus(res, 204);
    },
  ),
  tel(
    'fields outside the model: 204 (ADT does not check telemetry against the model)',
    'learn:concepts-event-notifications#digital-twin-telemetry-messages; issue 8 finding',
    async (ctx) => {
      await putTwin(ctx, TWIN, room());
      expectStatus(
        await ctx.rest.post(
          p`/digitaltwins/${TWIN}/telemetry`,
          { notInModel: 1, alsoNot: 'x' },
          { headers: msg() },
        ),
        204,
      );
    },
  ),
  tel(
    'the body as a JSON string holding a JSON object (what the SDK samples send): 204',
    'SDK samples publishTelemetry(JSON.stringify(...)); spec telemetry body',
    async (ctx) => {
      await putTwin(ctx, TWIN, room());
      const res = await ctx.rest.call('POST', p`/digitaltwins/${TWIN}/telemetry`, {
        raw: JSON.stringify(JSON.stringify({ humidity: 57 })),
        headers: msg(),
      });
      expectStatus(res, 204);
    },
  ),
  tel(
    'component telemetry: 204',
    'spec:DigitalTwins_SendComponentTelemetry; example SendTelemetryFromComponent',
    async (ctx) => {
      await putTwin(ctx, TWIN, room());
      expectStatus(
        await ctx.rest.post(
          p`/digitaltwins/${TWIN}/components/${'thermostat'}/telemetry`,
          { reading: 20.5 },
          { headers: msg() },
        ),
        204,
      );
    },
  ),
  tel(
    'to a missing twin: 404 DigitalTwinNotFound',
    'spec:DigitalTwins_SendTelemetry (404 DigitalTwinNotFound)',
    async (ctx) => {
      expectError(
        await ctx.rest.post(p`/digitaltwins/${'tel-missing'}/telemetry`, { a: 1 }, { headers: msg() }),
        404,
        'DigitalTwinNotFound',
      );
    },
  ),
  tel(
    'to a missing component: 404 ComponentNotFound',
    'spec:DigitalTwins_SendComponentTelemetry (404 ComponentNotFound)',
    async (ctx) => {
      await putTwin(ctx, TWIN, room());
      expectError(
        await ctx.rest.post(
          p`/digitaltwins/${TWIN}/components/${'nope'}/telemetry`,
          { a: 1 },
          { headers: msg() },
        ),
        404,
        'ComponentNotFound',
      );
    },
  ),
  {
    area: 'telemetry',
    via: 'sdk',
    name: 'publishTelemetry with a JSON string payload, and publishComponentTelemetry',
    source:
      'spec:DigitalTwins_SendTelemetry/_SendComponentTelemetry via @azure/digital-twins-core (samples pass JSON strings)',
    async run(ctx) {
      await putTwin(ctx, TWIN, room());
      await ctx.sdk.publishTelemetry(TWIN, JSON.stringify({ humidity: 58 }), 'sdk-msg-1');
      await ctx.sdk.publishTelemetry(TWIN, { humidity: 59 }, 'sdk-msg-2');
      // 1.1.0 passes payload and message id to the generated client swapped: the server sees the id as
      // the body. ADT answers 204 to any JSON body, so the call succeeds there.
      await ctx.sdk.publishComponentTelemetry(
        TWIN,
        'thermostat',
        JSON.stringify({ reading: 1 }),
        'sdk-msg-3',
      );
    },
  },
];

const er = (name: string, source: string, run: Check['run']): Check => ({
  area: 'event-routes',
  via: 'rest',
  name,
  source,
  run,
});

export const eventRouteChecks: Check[] = [
  er('list: 200 with a value array', 'spec:EventRoutes_List; example EventRoutesList', async (ctx) => {
    const res = await ctx.rest.get('/eventroutes');
    expectStatus(res, 200);
    expectTrue('value is an array', Array.isArray((res.body as { value?: unknown })?.value), res.body);
  }),
  er(
    'add with filter "true": 204; get answers id, endpointName, filter; list holds it; delete 204 then 404',
    'spec:EventRoutes_Add/_GetById/_List/_Delete; examples EventRoutePut, EventRouteGet',
    async (ctx) => {
      const put = await ctx.rest.put(p`/eventroutes/${'route-1'}`, {
        endpointName: ctx.endpoint,
        filter: 'true',
      });
      expectStatus(put, 204);
      const get = await ctx.rest.get(p`/eventroutes/${'route-1'}`);
      expectStatus(get, 200);
      const r = get.body as { id?: string; endpointName?: string; filter?: string } | undefined;
      expectEq(
        'id, endpointName, filter',
        ['route-1', ctx.endpoint, 'true'],
        [r?.id, r?.endpointName, r?.filter],
      );
      const list = await ctx.rest.get('/eventroutes');
      expectTrue(
        'list holds route-1',
        ((list.body as { value?: { id: string }[] }).value ?? []).some((r) => r.id === 'route-1'),
        list.body,
      );
      expectStatus(await ctx.rest.delete(p`/eventroutes/${'route-1'}`), 204);
      expectStatus(await ctx.rest.get(p`/eventroutes/${'route-1'}`), 404);
    },
  ),
  er(
    "add with a type filter (type = 'Microsoft.DigitalTwins.Twin.Create'): 204",
    'spec:EventRoutes_Add; example EventRoutePutWithFilter; learn:how-to-create-routes#filter-events',
    async (ctx) => {
      const res = await ctx.rest.put(p`/eventroutes/${'route-2'}`, {
        endpointName: ctx.endpoint,
        filter: "type = 'Microsoft.DigitalTwins.Twin.Create'",
      });
      expectStatus(res, 204);
      expectStatus(await ctx.rest.delete(p`/eventroutes/${'route-2'}`), 204);
    },
  ),
  er(
    'add to an endpoint that does not exist: 400 EventRouteEndpointInvalid',
    'spec:EventRoutes_Add (400 EventRouteEndpointInvalid)',
    async (ctx) => {
      expectError(
        await ctx.rest.put(p`/eventroutes/${'route-bad-ep'}`, {
          endpointName: 'no-such-endpoint',
          filter: 'true',
        }),
        400,
        'EventRouteEndpointInvalid',
      );
    },
  ),
  er(
    'add with an invalid filter: 400 EventRouteFilterInvalid',
    'spec:EventRoutes_Add (400 EventRouteFilterInvalid)',
    async (ctx) => {
      expectError(
        await ctx.rest.put(p`/eventroutes/${'route-bad-filter'}`, {
          endpointName: ctx.endpoint,
          filter: "type = = '",
        }),
        400,
        'EventRouteFilterInvalid',
      );
    },
  ),
  er(
    'add without a filter: 400 (filter is required)',
    'spec:definitions/EventRoute (required: endpointName, filter)',
    async (ctx) => {
      expectStatus(
        await ctx.rest.put(p`/eventroutes/${'route-no-filter'}`, { endpointName: ctx.endpoint }),
        400,
      );
    },
  ),
  er(
    'get a missing route: 404 EventRouteNotFound',
    'spec:EventRoutes_GetById (404 EventRouteNotFound)',
    async (ctx) => {
      expectError(await ctx.rest.get(p`/eventroutes/${'route-missing'}`), 404, 'EventRouteNotFound');
    },
  ),
  er(
    'delete a missing route: 404 EventRouteNotFound',
    'spec:EventRoutes_Delete (404 EventRouteNotFound)',
    async (ctx) => {
      expectError(await ctx.rest.delete(p`/eventroutes/${'route-missing'}`), 404, 'EventRouteNotFound');
    },
  ),
  {
    area: 'event-routes',
    via: 'sdk',
    name: 'upsertEventRoute, getEventRoute, listEventRoutes, deleteEventRoute',
    source: 'spec:EventRoutes_* via @azure/digital-twins-core',
    async run(ctx) {
      await ctx.sdk.upsertEventRoute('route-sdk', ctx.endpoint, 'true');
      const got = await ctx.sdk.getEventRoute('route-sdk');
      expectEq('route', ['route-sdk', ctx.endpoint, 'true'], [got.id, got.endpointName, got.filter]);
      const ids: string[] = [];
      for await (const r of ctx.sdk.listEventRoutes()) ids.push(String(r.id));
      expectTrue('listEventRoutes holds it', ids.includes('route-sdk'), ids);
      await ctx.sdk.deleteEventRoute('route-sdk');
      await expectSdkError(ctx.sdk.getEventRoute('route-sdk'), 404, 'EventRouteNotFound');
    },
  },
];
