/**
 * Control: commands and desired state back to devices over the device channel, following the live
 * event bus (a desired-property change publishes the twin's desired state); on start, every twin's
 * desired state is published once (retained) for devices that connect later. The device's side
 * (reported state, presence, divergence: DeviceStateService) is built here too; the MQTT adapters
 * feed it through the platform's DeviceInbox.
 */
import type { Logger } from 'pino';
import { ControlService } from '../../core/control/control-service.js';
import { DeviceStateService } from '../../core/control/device-state-service.js';
import type { ChangeJournal } from '../../core/ports/twin-write-ports.js';
import type { DeadLetterStore } from '../../core/ports/storage-ports.js';
import type { TwinService } from '../../core/twins/twin-service.js';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { LiveEventBus } from '../../core/live/live-events.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { DeviceChannel } from '../../core/ports/device-channel.js';
import { subsystem, type Subsystem } from './subsystem.js';

export interface ControlSubsystem extends Subsystem {
  control: ControlService;
  /** Reported state, presence and divergence of the twins' devices. */
  devices: DeviceStateService;
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
  twins: TwinService;
  deadLetters: DeadLetterStore;
  /** Event routes (Twinloop.Device.*, Twinloop.DesiredState.*). */
  journal?: ChangeJournal;
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
    const devices = new DeviceStateService({
      workspace: o.workspace,
      graph: o.graph,
      models: o.models,
      twins: o.twins,
      deadLetters: o.deadLetters,
      live: o.live,
      ...(o.journal ? { journal: o.journal } : {}),
      debug: (fields, message) => mqttLogger.debug(fields, message),
      onError: (err, twinId) =>
        mqttLogger.warn({ err, twin: twinId }, 'could not store the device state of a twin'),
    });
    devices.start(o.live);
    closers.push(() => devices.stop());
    return { control, devices };
  });
}
