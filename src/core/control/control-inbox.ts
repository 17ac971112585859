/**
 * Where the MQTT adapters hand what devices send back (the DeviceInbox port): command responses go
 * to the CommandService, reported state and presence to the device-state service. The broker starts
 * before these services exist, so the inbox is made first and `attach`ed once they are: a message
 * arriving in between waits (its PUBACK with it) rather than being lost.
 */
import { parseUntrustedJson } from '../json/untrusted-json.js';
import type { DeadLetter } from '../ports/storage-ports.js';
import type { DeviceControlMessage, DeviceInbox, PresenceSource } from '../ports/device-channel.js';
import type { CommandService } from './command-service.js';
import { deviceDeadLetter } from './device-dead-letter.js';
import { isDeviceControlTopic, parseDeviceTopic } from './device-topics.js';

/** What the inbox needs of the device-state service (desired versus reported, presence). */
export interface DeviceStateHandler {
  reported(twinId: string, message: DeviceControlMessage): Promise<void>;
  /** A connection message: presence, or a dead letter when it is malformed or names no twin. */
  connection(twinId: string, message: DeviceControlMessage): Promise<void>;
  presence(
    twinId: string,
    state: 'connected' | 'disconnected',
    at: number,
    source: PresenceSource,
  ): Promise<void>;
  seen(twinId: string, at: number): void;
}

export interface ControlHandlers {
  commands: Pick<CommandService, 'response' | 'deviceReady' | 'deviceGone' | 'delivered'>;
  deviceState?: DeviceStateHandler;
}

export interface ControlInboxOptions {
  workspace: string;
  deadLetters: { add(letters: readonly DeadLetter[]): Promise<void> };
  /** Told of failures that have no caller to reject to (a delivery acknowledgement). */
  onError?: (error: unknown, what: string) => void;
}

export class ControlInbox implements DeviceInbox {
  private handlers: ControlHandlers | undefined;
  private attached: Promise<ControlHandlers>;
  private resolveAttached: (h: ControlHandlers) => void = () => undefined;

  constructor(private readonly o: ControlInboxOptions) {
    this.attached = new Promise((resolve) => (this.resolveAttached = resolve));
  }

  /** Connects the services; messages that waited for them go on now. */
  attach(handlers: ControlHandlers): void {
    this.handlers = handlers;
    this.resolveAttached(handlers);
  }

  async receive(m: DeviceControlMessage): Promise<void> {
    const topic = parseDeviceTopic(m.topic);
    if (!isDeviceControlTopic(topic))
      return this.keep(m, undefined, 'BadRequest', `'${m.topic}' is not a topic devices answer on.`);
    const h = this.handlers ?? (await this.attached);
    h.deviceState?.seen(topic.twinId, m.receivedAt);
    switch (topic.kind) {
      case 'commandResponse':
        return h.commands.response(topic.twinId, topic.command, m);
      case 'reported':
        if (h.deviceState) return h.deviceState.reported(topic.twinId, m);
        return this.keep(m, topic.twinId, 'NotSupported', 'Reported state is not taken by this platform.');
      case 'connection': {
        const parsed = parseUntrustedJson(m.payload, { what: 'The connection message', source: m.topic });
        const state = parsed.ok ? (parsed.value as { state?: unknown } | null)?.state : undefined;
        if (state !== 'connected' && state !== 'disconnected') {
          if (h.deviceState) return h.deviceState.connection(topic.twinId, m); // it says why, with a pointer
          const reason = parsed.ok
            ? 'A connection message is {"state":"connected"} or {"state":"disconnected"}.'
            : parsed.problem.message;
          return this.keep(m, topic.twinId, 'InvalidConnectionMessage', reason);
        }
        if (state === 'connected') h.commands.deviceReady(topic.twinId);
        else h.commands.deviceGone(topic.twinId);
        await h.deviceState?.connection(topic.twinId, m);
        return;
      }
    }
  }

  async presence(
    twinId: string,
    state: 'connected' | 'disconnected',
    at: number,
    source: PresenceSource,
  ): Promise<void> {
    const h = this.handlers ?? (await this.attached);
    if (state === 'disconnected') h.commands.deviceGone(twinId);
    await h.deviceState?.presence(twinId, state, at, source);
  }

  ready(twinId: string): void {
    if (this.handlers) this.handlers.commands.deviceReady(twinId);
    else void this.attached.then((h) => h.commands.deviceReady(twinId));
  }

  delivered(twinId: string, requestId: string, at: number): void {
    void this.attached
      .then((h) => h.commands.delivered(twinId, requestId, at))
      .catch((e: unknown) => this.o.onError?.(e, `storing the acknowledgement of command ${requestId}`));
  }

  private async keep(
    m: DeviceControlMessage,
    twinId: string | undefined,
    code: string,
    reason: string,
  ): Promise<void> {
    await this.o.deadLetters.add([deviceDeadLetter(this.o.workspace, m, twinId, code, reason)]);
  }
}
