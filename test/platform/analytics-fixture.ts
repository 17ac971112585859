/**
 * Test fixture: the analytics composed as the platform does, over real SQLite stores and the
 * pump-line pilot (its models, twins, derived values and anomaly plan), for tests of the analytics
 * subsystem (src/app/subsystems: analytics.svc.test.ts, analytics-worker-run.test.ts).
 */
import { pino, type Logger } from 'pino';
import { openTestWorkspace, type TestWorkspace } from '../adt-sdk/workspace-fixture.js';
import { DETECTOR_KINDS } from '../../src/analytics/anomaly/detector.js';
import { IngestService } from '../../src/core/telemetry/ingest-service.js';
import { createAlarms } from '../../src/app/alarm-wiring.js';
import { loadPilotAnalytics, type PilotAnalytics } from '../../src/app/pilot-analytics.js';
import { loadPilot } from '../../src/app/pilot-loader.js';
import type { StartAnalyticsOptions } from '../../src/app/subsystems/analytics.js';

export interface AnalyticsFixture {
  w: TestWorkspace;
  ingest: IngestService;
  pilot: PilotAnalytics;
  /**
   * The options of one node's analytics: this workspace, its stores, the pilot's derived values,
   * and an alarm service of its own over the one alarm store (as api nodes over PostgreSQL).
   */
  options(
    logger: Logger,
    more: Pick<StartAnalyticsOptions, 'config' | 'rules'> & Partial<StartAnalyticsOptions>,
  ): StartAnalyticsOptions;
  /** A device reading of `twinId` over MQTT, one second after the previous one. */
  reading(twinId: string, values: Record<string, number>): ReturnType<IngestService['ingest']>;
}

export async function openAnalyticsFixture(start: string): Promise<AnalyticsFixture> {
  const w = await openTestWorkspace();
  await loadPilot('pump-line', { models: w.models, twins: w.twins });
  const pilot = loadPilotAnalytics(
    'pump-line',
    { models: w.models, twinModel: (id) => w.graph.getTwin(id)?.modelId },
    DETECTOR_KINDS,
  );
  const ingest = new IngestService({
    workspace: (ws) => (ws === 'default' ? { graph: w.graph, models: w.models } : undefined),
    history: w.storage.history,
    deadLetters: w.storage.deadLetters,
    live: w.live,
  });
  let t = Date.parse(start);
  return {
    w,
    ingest,
    pilot,
    options: (logger, more) => ({
      logger,
      workspace: 'default',
      live: w.live,
      ingest,
      graph: w.graph,
      models: w.models,
      history: w.storage.history,
      alarms: createAlarms({
        storage: w.storage,
        live: w.live,
        modelOf: (_ws, id) => w.graph.getTwin(id)?.modelId,
        logger: pino({ level: 'silent' }),
      }),
      derived: pilot.derived,
      twins: w.twins,
      ...more,
    }),
    reading: (twinId, values) =>
      ingest.ingest({
        source: 'mqtt',
        workspace: 'default',
        twinId,
        receivedAt: Date.now(),
        payload: Buffer.from(JSON.stringify({ ...values, $ts: new Date((t += 1000)).toISOString() })),
      }),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `ok` every 20 ms until it holds; answers how long that took (ms); throws naming `what`. */
export async function until(
  what: string,
  ok: () => boolean | Promise<boolean>,
  ms = 10_000,
): Promise<number> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
  return Date.now() - t0;
}
