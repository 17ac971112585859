/** Test support for the live stream: events as ingestion makes them. */
import type { LiveEvent } from './live-events.js';

export type TelemetryEvent = Extract<LiveEvent, { type: 'telemetry' }>;

/** A device's telemetry event of workspace 'default' and model dtmi:x:Pump;1 (keys in ingestion's order). */
export const telemetryEvent = <V extends Record<string, unknown>>(
  twinId: string,
  time: number,
  values: V,
  more: Partial<TelemetryEvent> = {},
): TelemetryEvent & { values: V } =>
  ({
    type: 'telemetry',
    workspace: 'default',
    twinId,
    modelId: 'dtmi:x:Pump;1',
    time,
    values,
    ...more,
  }) as TelemetryEvent & { values: V };
