/**
 * Control: commands (stored, sent when their device can take them, followed to their answer),
 * desired state back to devices over the device channel, and the device's side (reported state,
 * presence, divergence: DeviceStateService). The inbox the MQTT connector feeds is made before the
 * connector starts (`createControlInbox`) and attached here once the services exist. On start,
 * every twin's desired state is published once (retained) for devices that connect later.
 */
import type { Logger } from 'pino';
import { CommandService } from '../../core/control/command-service.js';
import { ControlInbox } from '../../core/control/control-inbox.js';
import { ControlService } from '../../core/control/control-service.js';
import { DeviceStateService } from '../../core/control/device-state-service.js';
import type { ChangeJournal } from '../../core/ports/twin-write-ports.js';
import type { TwinService } from '../../core/twins/twin-service.js';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { LiveEventBus } from '../../core/live/live-events.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { CommandRecord } from '../../core/ports/command-store.js';
import type { DeviceChannel } from '../../core/ports/device-channel.js';
import type { Storage } from '../../core/ports/storage.js';
import type { TwinloopConfig } from '../config.js';
import { subsystem, type Subsystem } from './subsystem.js';

export interface ControlSubsystem extends Subsystem {
  control: ControlService;
  commands: CommandService;
  /** Reported state, presence and divergence of the twins' devices. */
  devices: DeviceStateService;
}

/** The inbox devices' answers arrive in; made before the MQTT connector, attached by startControl. */
export function createControlInbox(o: {
  workspace: string;
  storage: Pick<Storage, 'deadLetters'>;
  logger: Logger;
}): ControlInbox {
  return new ControlInbox({
    workspace: o.workspace,
    deadLetters: o.storage.deadLetters,
    onError: (err, what) => o.logger.error({ err }, `control: ${what} failed`),
  });
}

export function startControl(o: {
  config: Readonly<Pick<TwinloopConfig, 'control' | 'mqtt'>>;
  logger: Logger;
  /** The MQTT connector's logger (control's messages are about the broker). */
  mqttLogger: Logger;
  workspace: string;
  graph: InMemoryTwinGraph;
  models: ModelService;
  channel: DeviceChannel;
  storage: Pick<Storage, 'commands' | 'deadLetters'>;
  inbox: ControlInbox;
  live: LiveEventBus;
  /** Told of every command change (live events, event routes). */
  onCommands?: (records: readonly CommandRecord[]) => void;
  twins: TwinService;
  /** Event routes (Twinloop.Device.*, Twinloop.DesiredState.*). */
  journal?: ChangeJournal;
}): Promise<ControlSubsystem> {
  const { mqttLogger, config } = o;
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
    const commands = new CommandService({
      workspace: o.workspace,
      graph: o.graph,
      models: o.models,
      store: o.storage.commands,
      channel: o.channel,
      deadLetters: o.storage.deadLetters,
      // The embedded broker knows who subscribed; an external broker's sessions queue for offline devices.
      delivery: config.mqtt.url ? 'unlessDisconnected' : 'subscribed',
      defaultExpirySeconds: config.control.commandExpirySeconds,
      maxExpirySeconds: config.control.maxCommandExpirySeconds,
      maxQueuedPerTwin: config.control.maxQueuedPerTwin,
      ...(o.onCommands ? { onChange: o.onCommands } : {}),
      onError: (err, what) => mqttLogger.warn({ err }, `commands: ${what} failed`),
    });
    commands.start();
    closers.push(() => commands.stop());
    closers.push(
      o.live.subscribe((events) => {
        for (const e of events)
          if (e.type === 'twinDeleted' && e.workspace === o.workspace)
            commands
              .twinDeleted(e.twinId)
              .catch((err: unknown) =>
                mqttLogger.warn({ err, twin: e.twinId }, 'could not cancel the commands of a deleted twin'),
              );
      }),
    );
    const desiredCount = await control.publishAllDesired();
    if (desiredCount) mqttLogger.debug({ twins: desiredCount }, 'desired state published');
    const devices = new DeviceStateService({
      workspace: o.workspace,
      graph: o.graph,
      models: o.models,
      twins: o.twins,
      deadLetters: o.storage.deadLetters,
      live: o.live,
      ...(o.journal ? { journal: o.journal } : {}),
      debug: (fields, message) => mqttLogger.debug(fields, message),
      onError: (err, twinId) =>
        mqttLogger.warn({ err, twin: twinId }, 'could not store the device state of a twin'),
    });
    devices.start(o.live);
    closers.push(() => devices.stop());
    o.inbox.attach({ commands, deviceState: devices });
    return { control, commands, devices };
  });
}
