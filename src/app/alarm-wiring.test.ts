// The alarm wiring on real SQLite storage: transitions reach the live bus and, for a matching
// route, the event outbox in the alarm's own commit.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { tempStorage } from '../adapters/sqlite/sqlite-test-fixture.js';
import { EventRouteService } from '../core/events/event-route-service.js';
import { LiveEventBus, type LiveEvent } from '../core/live/live-events.js';
import { createAlarms } from './alarm-wiring.js';

describe('createAlarms', () => {
  const fx = tempStorage();
  afterEach(async () => fx.cleanup());

  it('publishes alarm events with the twin model and journals the routed ones', async () => {
    const routes = new EventRouteService({
      store: fx.storage.eventRoutes,
      source: 'host-1',
      endpoints: [
        { name: 'hook', spec: { type: 'webhook', url: 'http://127.0.0.1:9/x', mode: 'structured' } as never },
      ],
      routes: [
        {
          id: 'crit',
          endpointName: 'hook',
          filter: "type = 'Twinloop.Alarm.Raised' AND $body.severity = 'critical'",
        },
      ],
    });
    await routes.load();
    const bus = new LiveEventBus();
    const seen: LiveEvent[] = [];
    bus.subscribe((evs) => seen.push(...evs));
    const alarms = createAlarms({
      storage: fx.storage,
      live: bus,
      modelOf: (_ws, id) => (id === 'pump-1' ? 'dtmi:ex:Pump;1' : undefined),
      routes,
      logger: pino({ level: 'silent' }),
    });
    const base = { workspace: 'default', ruleId: 'vib', ruleVersion: 1, message: 'm', time: 1000 };
    alarms.raise({ ...base, twinId: 'pump-1', severity: 'critical' });
    alarms.raise({ ...base, twinId: 'pump-2', severity: 'minor' });
    await alarms.flush();
    expect(seen.map((e) => [e.type, e.twinId, e.modelId])).toEqual([
      ['alarm', 'pump-1', 'dtmi:ex:Pump;1'],
      ['alarm', 'pump-2', ''],
    ]);
    const pending = await fx.storage.outbox.pending(0, 10);
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({
      endpoint: 'hook',
      orderKey: 'pump-1',
      event: {
        type: 'Twinloop.Alarm.Raised',
        source: 'host-1/digitaltwins/pump-1',
        data: { severity: 'critical' },
      },
    });
    await alarms.close();
  });
});
