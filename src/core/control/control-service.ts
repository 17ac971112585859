/**
 * Desired state back to devices (docs/control.md; commands are the CommandService's): every
 * committed change of a twin's writable properties (API patch, create, replace) republishes the
 * twin's desired-state document, retained, to `twins/{id}/desired`; a device connecting later gets
 * it at once. `publishAllDesired` does the same for every twin at start (the embedded broker keeps
 * retained messages in memory only).
 */
import { errors } from '../errors/errors.js';
import type { GraphView, TwinRecord } from '../graph/graph-types.js';
import type { LiveEvent, LiveEventBus } from '../live/live-events.js';
import type { ModelLookup } from '../models/model-types.js';
import type { DeviceChannel } from '../ports/device-channel.js';
import { desiredDocument } from './desired-state.js';
import { desiredTopic, type DesiredStateMessage } from './device-topics.js';

export interface ControlServiceOptions {
  workspace: string;
  graph: GraphView;
  models: ModelLookup;
  channel: DeviceChannel;
  /** Called when publishing desired state fails (the write itself has committed). */
  onError?: (error: unknown, twinId: string) => void;
}

export class ControlService {
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly o: ControlServiceOptions) {}

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

  private desiredOf(twin: TwinRecord): DesiredStateMessage {
    return desiredDocument(twin, this.o.models);
  }
}
