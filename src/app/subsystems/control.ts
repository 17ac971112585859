/**
 * Control: commands and desired state back to devices over the device channel, following the live
 * event bus (a desired-property change publishes the twin's desired state); on start, every twin's
 * desired state is published once (retained) for devices that connect later.
 */
import type { Logger } from 'pino';
import { ControlService } from '../../core/control/control-service.js';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { LiveEventBus } from '../../core/live/live-events.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { DeviceChannel } from '../../core/ports/device-channel.js';
import { subsystem, type Subsystem } from './subsystem.js';

export interface ControlSubsystem extends Subsystem {
  control: ControlService;
}

export function startControl(o: {
  logger: Logger;
  /** The MQTT connector's logger (control's messages are about the broker). */
  mqttLogger: Logger;
  workspace: string;
  graph: InMemoryTwinGraph;
  models: ModelService;
  channel: DeviceChannel;
  live: LiveEventBus;
}): Promise<ControlSubsystem> {
  const mqttLogger = o.mqttLogger;
  return subsystem(o.logger, async (closers) => {
    const control = new ControlService({
      workspace: o.workspace,
      graph: o.graph,
      models: o.models,
      channel: o.channel,
      onError: (err, twinId) =>
        mqttLogger.warn({ err, twin: twinId }, 'could not publish the desired state of a twin'),
    });
    control.start(o.live);
    closers.push(() => control.stop());
    const desiredCount = await control.publishAllDesired();
    if (desiredCount) mqttLogger.debug({ twins: desiredCount }, 'desired state published');
    return { control };
  });
}
