/**
 * Wiring of alarms, for the composition root: the alarm service on the storage's alarm store, its
 * transitions published on the live event bus (as `alarm` events, with the twin's model so model
 * subscriptions see them) and journaled for event routes (Twinloop.Alarm.*, written in the alarm's
 * own transaction). The rules engine gets the service as its AlarmSink; the HTTP server gets it as
 * `alarms` (GET /alarms …). Call `close()` before storage closes.
 *
 * @example
 *   const alarms = createAlarms({ storage, live: bus, modelOf: (ws, id) => graph.getTwin(id)?.modelId,
 *     routes: routing.service, logger });
 *   createHttpServer({ …, alarms });
 */
import type { Logger } from 'pino';
import { AlarmService, type AlarmServiceOptions } from '../analytics/alarms/alarm-service.js';
import type { AlarmEvent } from '../core/alarms/alarm.js';
import { alarmLiveEvent, type LiveEventBus } from '../core/live/live-events.js';
import type { OutboxRow } from '../core/ports/event-routing.js';
import type { Storage } from '../core/ports/storage.js';

export interface AlarmWiringOptions {
  storage: Pick<Storage, 'alarms'>;
  live: Pick<LiveEventBus, 'publish'>;
  /** The twin's model id (undefined when the twin is unknown). */
  modelOf: (workspace: string, twinId: string) => string | undefined;
  /**
   * Event routes (EventRouteService): the outbox rows of alarm transitions, written in the alarms'
   * transaction, and the nudge that wakes the delivery once they are.
   */
  routes?: { alarmRows(events: readonly AlarmEvent[]): OutboxRow[]; committed(): void };
  logger: Logger;
  service?: Omit<AlarmServiceOptions, 'store' | 'journal' | 'onError'>;
}

export function createAlarms(o: AlarmWiringOptions): AlarmService {
  const log = o.logger.child({ component: 'alarms' });
  const routes = o.routes;
  const service = new AlarmService({
    ...o.service,
    store: o.storage.alarms,
    ...(routes ? { journal: (events: readonly AlarmEvent[]) => routes.alarmRows(events) } : {}),
    onError: (err, what) => log.warn({ err }, `alarms: ${what} failed`),
  });
  service.subscribe((events) => {
    o.live.publish(events.map((e) => alarmLiveEvent(e, o.modelOf(e.alarm.workspace, e.alarm.twinId))));
    routes?.committed();
  });
  return service;
}
