/**
 * Control: what the platform sends back to devices (docs/mqtt.md, "Commands and desired state").
 * - Commands: `sendCommand` checks the command against the twin's model (its request payload too)
 *   and publishes it once, QoS 1, to `twins/{id}/commands/{name}`.
 * - Desired state: every committed change of a twin's writable properties (API patch, create,
 *   replace) republishes the twin's desired-state document, retained, to `twins/{id}/desired`; a
 *   device connecting later gets it at once. `publishAllDesired` does the same for every twin at start
 *   (the embedded broker keeps retained messages in memory only).
 *
 * Not yet: durable commands (stored, retried, with device responses and timeouts) — later work.
 */
import { randomUUID } from 'node:crypto';
import { TwinloopError, errors } from '../errors/errors.js';
import type { GraphView, TwinRecord } from '../graph/graph-types.js';
import type { LiveEvent, LiveEventBus } from '../live/live-events.js';
import type { CommandInfo, ModelLookup } from '../models/model-types.js';
import { validateValue } from '../models/validate-value.js';
import type { DeviceChannel } from '../ports/device-channel.js';
import { desiredDocument } from './desired-state.js';
import {
  commandResponseTopic,
  commandTopic,
  desiredTopic,
  type CommandMessage,
  type DesiredStateMessage,
} from './device-topics.js';

export interface ControlServiceOptions {
  workspace: string;
  graph: GraphView;
  models: ModelLookup;
  channel: DeviceChannel;
  /** Called when publishing desired state fails (the write itself has committed). */
  onError?: (error: unknown, twinId: string) => void;
}

export interface CommandReceipt {
  requestId: string;
  twinId: string;
  command: string;
  topic: string;
  sentAt: string;
  /** 'sent': the broker took it; no response from the device is awaited yet. */
  status: 'sent';
}

export type CommandListener = (twinId: string, command: string, request: unknown) => void;

export class ControlService {
  private unsubscribe: (() => void) | undefined;
  private readonly commandListeners = new Set<CommandListener>();

  constructor(private readonly o: ControlServiceOptions) {}

  /**
   * Sends a command to a twin's device.
   * @throws TwinloopError DigitalTwinNotFound; NotFound when the model has no such command;
   *   ValidationFailed when the request payload does not match the command's request schema;
   *   ServiceUnavailable when the broker does not take it.
   */
  async sendCommand(twinId: string, command: string, request: unknown): Promise<CommandReceipt> {
    const twin = this.o.graph.getTwin(twinId);
    if (!twin) throw errors.twinNotFound(twinId);
    const info = this.commandOf(twin, command);
    const hasRequest = request !== undefined;
    if (info.request === undefined && hasRequest && request !== null)
      throw new TwinloopError(
        'ValidationFailed',
        `Command '${command}' of ${twin.modelId} takes no request payload; send an empty body.`,
      );
    if (info.request !== undefined) {
      if (!hasRequest || request === null) {
        if (!info.request.nullable)
          throw new TwinloopError(
            'ValidationFailed',
            `Command '${command}' needs a request payload '${info.request.name}'.`,
          );
      } else {
        const problems = validateValue(info.request.schema, request, `/${info.request.name}`);
        if (problems.length)
          throw errors.validation(
            'ValidationFailed',
            `The request payload of command '${command}' does not match its schema.`,
            problems,
          );
      }
    }
    const msg: CommandMessage = {
      requestId: randomUUID(),
      command,
      ...(hasRequest ? { request } : {}),
      sentAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 600_000).toISOString(),
      responseTopic: commandResponseTopic(twinId, command),
    };
    const topic = commandTopic(twinId, command);
    try {
      await this.o.channel.publish(topic, JSON.stringify(msg), { qos: 1, retain: false });
    } catch (e) {
      throw new TwinloopError(
        'ServiceUnavailable',
        `Command '${command}' for '${twinId}' could not be sent: ${(e as Error).message}`,
        { cause: e },
      );
    }
    for (const l of this.commandListeners) {
      try {
        l(twinId, command, request);
      } catch {
        // a listener's failure is its own (it logs); the command was sent
      }
    }
    return { requestId: msg.requestId, twinId, command, topic, sentAt: msg.sentAt, status: 'sent' };
  }

  /** Called after each command the broker took (shadow mode follows them). Returns the remover. */
  onCommand(listener: CommandListener): () => void {
    this.commandListeners.add(listener);
    return () => this.commandListeners.delete(listener);
  }

  /** The twin's desired-state document (its writable properties that are set). */
  desiredState(twinId: string): DesiredStateMessage {
    const twin = this.o.graph.getTwin(twinId);
    if (!twin) throw errors.twinNotFound(twinId);
    return this.desiredOf(twin);
  }

  /** Publishes one twin's desired state (retained). */
  async publishDesired(twinId: string): Promise<void> {
    const twin = this.o.graph.getTwin(twinId);
    if (!twin) return;
    await this.o.channel.publish(desiredTopic(twinId), JSON.stringify(this.desiredOf(twin)), {
      qos: 1,
      retain: true,
    });
  }

  /** Publishes the desired state of every twin that has writable properties set. */
  async publishAllDesired(): Promise<number> {
    let n = 0;
    for (const twin of this.o.graph.allTwins()) {
      const doc = this.desiredOf(twin);
      if (Object.keys(doc.desired).length === 0) continue;
      await this.o.channel.publish(desiredTopic(twin.id), JSON.stringify(doc), { qos: 1, retain: true });
      n++;
    }
    return n;
  }

  /** Republishes desired state after committed writes (until `stop`). */
  start(bus: LiveEventBus): void {
    this.unsubscribe ??= bus.subscribe((events) => this.onEvents(events));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private onEvents(events: readonly LiveEvent[]): void {
    const twins = new Set<string>();
    for (const e of events) {
      if (e.workspace !== this.o.workspace) continue;
      if (e.type === 'propertyChange' || e.type === 'twinCreated' || e.type === 'twinReplaced')
        twins.add(e.twinId);
    }
    for (const id of twins) {
      this.publishDesired(id).catch((err: unknown) => this.o.onError?.(err, id));
    }
  }

  private commandOf(twin: TwinRecord, command: string): CommandInfo {
    const iface = this.o.models.getInterface(twin.modelId);
    const content = iface?.contents.get(command);
    if (content?.kind !== 'Command') {
      const known = iface
        ? [...iface.contents.values()].filter((c) => c.kind === 'Command').map((c) => c.name)
        : [];
      throw new TwinloopError(
        'NotFound',
        `Model ${twin.modelId} of twin '${twin.id}' has no command '${command}'${known.length ? ` (it has: ${known.join(', ')})` : ' (it has none)'}.`,
      );
    }
    return content;
  }

  private desiredOf(twin: TwinRecord): DesiredStateMessage {
    return desiredDocument(twin, this.o.models);
  }
}
