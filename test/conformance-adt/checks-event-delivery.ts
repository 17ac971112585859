/**
 * Event routes that deliver: with a route (filter `true`) to the endpoint the server declares, the
 * notifications ADT emits reach the runner's webhook receiver as CloudEvents
 * (learn:concepts-event-notifications): type, subject and data as documented. Needs `--twinloop-config`
 * declaring an endpoint at ${CONFORMANCE_WEBHOOK_URL} and `--endpoint` naming it; fails otherwise.
 */
import type { Check, CheckContext } from './harness.js';
import { Mismatch, expectStatus, p, show } from './harness.js';
import { putRel, putTwin, room, sensor } from './fixtures.js';

const SRC = 'learn:concepts-event-notifications';

interface Ev {
  type?: string;
  source?: string;
  subject?: string;
  data?: unknown;
}

/** CloudEvents in structured mode (JSON body, one or a batch) or binary mode (ce-* headers). */
export function cloudEvents(deliveries: { headers: Record<string, unknown>; body: string }[]): Ev[] {
  const out: Ev[] = [];
  for (const d of deliveries) {
    let body: unknown;
    try {
      body = JSON.parse(d.body);
    } catch {
      body = d.body;
    }
    const ceType = d.headers['ce-type'];
    if (typeof ceType === 'string') {
      out.push({
        type: ceType,
        source: String(d.headers['ce-source'] ?? ''),
        subject: String(d.headers['ce-subject'] ?? ''),
        data: body,
      });
      continue;
    }
    for (const e of Array.isArray(body) ? body : [body]) {
      const x = e as { type?: unknown; source?: unknown; subject?: unknown; data?: unknown } | null;
      if (x && typeof x.type === 'string')
        out.push({
          type: x.type,
          source: String(x.source ?? ''),
          subject: String(x.subject ?? ''),
          data: x.data,
        });
    }
  }
  return out;
}

async function route(ctx: CheckContext): Promise<void> {
  await ctx.once('delivery-route', async () => {
    expectStatus(
      await ctx.rest.put(p`/eventroutes/${'route-deliver'}`, { endpointName: ctx.endpoint, filter: 'true' }),
      204,
    );
  });
}

async function expectEvent(ctx: CheckContext, what: string, match: (e: Ev) => boolean): Promise<void> {
  const end = Date.now() + 15_000;
  let seen: Ev[] = [];
  while (Date.now() < end) {
    seen = cloudEvents(await ctx.webhookEvents());
    if (seen.some(match)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Mismatch(what, `${seen.length} events: ${show(seen.slice(-3).map((e) => [e.type, e.subject]))}`);
}

const d = (name: string, source: string, run: Check['run']): Check => ({
  area: 'event-routes',
  via: 'rest',
  name,
  source,
  run,
});

export const eventDeliveryChecks: Check[] = [
  d(
    'a created twin arrives as Microsoft.DigitalTwins.Twin.Create, subject the twin id, data the twin',
    `${SRC}#digital-twin-lifecycle-notifications`,
    async (ctx) => {
      await route(ctx);
      await putTwin(ctx, 'ev-create', room({ temperature: 1 }));
      await expectEvent(
        ctx,
        'a Twin.Create event for ev-create',
        (e) =>
          e.type === 'Microsoft.DigitalTwins.Twin.Create' &&
          e.subject === 'ev-create' &&
          (e.data as { $dtId?: string })?.$dtId === 'ev-create',
      );
    },
  ),
  d(
    'a patched twin arrives as Microsoft.DigitalTwins.Twin.Update with data.modelId and data.patch',
    `${SRC}#digital-twin-change-notifications`,
    async (ctx) => {
      await route(ctx);
      await putTwin(ctx, 'ev-update', room({ temperature: 1 }));
      expectStatus(
        await ctx.rest.patch(p`/digitaltwins/${'ev-update'}`, [
          { op: 'replace', path: '/temperature', value: 2 },
        ]),
        204,
      );
      await expectEvent(ctx, 'a Twin.Update event for ev-update with the patch', (e) => {
        const data = e.data as
          { modelId?: string; patch?: { op?: string; path?: string; value?: unknown }[] } | undefined;
        return (
          e.type === 'Microsoft.DigitalTwins.Twin.Update' &&
          e.subject === 'ev-update' &&
          typeof data?.modelId === 'string' &&
          (data.patch ?? []).some((op) => op.path === '/temperature' && op.value === 2)
        );
      });
    },
  ),
  d(
    'a created relationship arrives as Microsoft.DigitalTwins.Relationship.Create, subject <source>/relationships/<id>',
    `${SRC}#digital-twin-relationship-change-notifications`,
    async (ctx) => {
      await route(ctx);
      await putTwin(ctx, 'ev-src', room());
      await putTwin(ctx, 'ev-dst', sensor());
      await putRel(ctx, 'ev-src', 'ev-rel', 'ev-dst', 'contains');
      await expectEvent(
        ctx,
        'a Relationship.Create event with subject ev-src/relationships/ev-rel',
        (e) =>
          e.type === 'Microsoft.DigitalTwins.Relationship.Create' &&
          e.subject === 'ev-src/relationships/ev-rel',
      );
    },
  ),
  d(
    'a deleted twin arrives as Microsoft.DigitalTwins.Twin.Delete',
    `${SRC}#digital-twin-lifecycle-notifications`,
    async (ctx) => {
      await route(ctx);
      await putTwin(ctx, 'ev-delete', room());
      expectStatus(await ctx.rest.delete(p`/digitaltwins/${'ev-delete'}`), 204);
      await expectEvent(
        ctx,
        'a Twin.Delete event for ev-delete',
        (e) => e.type === 'Microsoft.DigitalTwins.Twin.Delete' && e.subject === 'ev-delete',
      );
    },
  ),
  d(
    'telemetry arrives as microsoft.iot.telemetry, source naming the twin, data the telemetry body',
    `${SRC}#digital-twin-telemetry-messages`,
    async (ctx) => {
      await route(ctx);
      await putTwin(ctx, 'ev-tel', room());
      expectStatus(
        await ctx.rest.post(
          p`/digitaltwins/${'ev-tel'}/telemetry`,
          { humidity: 61 },
          { headers: { 'message-id': 'ev-tel-1' } },
        ),
        204,
      );
      await expectEvent(
        ctx,
        'a microsoft.iot.telemetry event for ev-tel',
        (e) =>
          e.type === 'microsoft.iot.telemetry' &&
          // The page's example names the twin at the end of `source` (<instance>/digitaltwins/<twin-ID>)
          // and has no subject; a subject holding the twin id is taken too.
          (e.source?.endsWith('/digitaltwins/ev-tel') === true || e.subject === 'ev-tel') &&
          (e.data as { humidity?: number })?.humidity === 61,
      );
    },
  ),
];
