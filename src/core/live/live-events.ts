/**
 * Events the platform emits as writes commit: what the WebSocket stream (and later the analytics
 * and rules engines) consume. Emitted only after the write is durable.
 */
import type { CommandState } from '../ports/command-state.js';
import { alarmToJson, transitionTime, type AlarmEvent, type AlarmTransition } from '../alarms/alarm.js';

export type LiveEvent =
  | {
      type: 'telemetry';
      workspace: string;
      twinId: string;
      modelId: string;
      component?: string;
      /** Source time (ms since epoch) of these readings. */
      time: number;
      values: Record<string, unknown>;
      /** Set when the platform derived these values (analytics, shadow mode), not a device. */
      derived?: true;
    }
  | {
      type: 'propertyChange';
      workspace: string;
      twinId: string;
      modelId: string;
      time: number;
      /** The JSON Patch applied (ADT form). */
      patch: readonly { op: string; path: string; value?: unknown }[];
    }
  | {
      type: 'twinCreated' | 'twinReplaced' | 'twinDeleted';
      workspace: string;
      twinId: string;
      modelId: string;
      time: number;
    }
  | {
      type: 'relationshipCreated' | 'relationshipReplaced' | 'relationshipUpdated' | 'relationshipDeleted';
      workspace: string;
      twinId: string; // the source twin
      modelId: string; // the source twin's model
      relationshipId: string;
      relationshipName: string;
      targetId: string;
      time: number;
    }
  | {
      type: 'alarm';
      workspace: string;
      twinId: string;
      /** The twin's model ('' when the twin is unknown). */
      modelId: string;
      /** When the transition happened (ms). */
      time: number;
      transition: AlarmTransition;
      /** The alarm after the transition, as GET /alarms/{id} answers it. */
      alarm: Record<string, unknown>;
    }
  | {
      /** A command was made or changed state (docs/control.md). */
      type: 'command';
      workspace: string;
      twinId: string;
      /** The twin's model ('' when the twin is unknown). */
      modelId: string;
      /** When it reached this state (ms). */
      time: number;
      state: CommandState;
      /** The command as GET /digitaltwins/{id}/commands/{requestId} answers it. */
      command: Record<string, unknown>;
    }
  | DeviceLiveEvent;

/**
 * The device side of a twin (docs/control.md), family `device` of the live stream:
 * - `connection`: its device connected or disconnected (`time` = since);
 * - `reported`: it reported writable properties or acknowledged a desired version (`properties`:
 *   their keys, "prop" or "comp/prop"); the twin's `$metadata` shows the new values;
 * - `desiredState`: a property stayed pending longer than the limit (`diverged`, once), or agreed
 *   again after that (`converged`).
 */
export type DeviceLiveEvent =
  | {
      type: 'connection';
      workspace: string;
      twinId: string;
      modelId: string;
      time: number;
      state: 'connected' | 'disconnected';
      /** When the device was last heard, ms. */
      lastSeen: number;
    }
  | {
      type: 'reported';
      workspace: string;
      twinId: string;
      modelId: string;
      time: number;
      properties: readonly string[];
    }
  | {
      type: 'desiredState';
      workspace: string;
      twinId: string;
      modelId: string;
      time: number;
      transition: 'diverged' | 'converged';
      /** "prop" or "comp/prop". */
      property: string;
      desiredValue: unknown;
      reportedValue: unknown;
      desiredVersion?: number;
      /** Since when it was pending, ms. */
      pendingSince: number;
    };

/** The live event of an alarm transition. */
export function alarmLiveEvent(e: AlarmEvent, modelId: string | undefined): LiveEvent {
  return {
    type: 'alarm',
    workspace: e.alarm.workspace,
    twinId: e.alarm.twinId,
    modelId: modelId ?? '',
    time: transitionTime(e),
    transition: e.transition,
    alarm: alarmToJson(e.alarm),
  };
}

/**
 * Beside a batch of events, by index (sparse): a device's own JSON text of a telemetry event's
 * `values`, where ingestion knows the text holds them (one plain object, every value a number or
 * boolean taken as it is; ReadingCheck.json), possibly with a `$ts` member too. The live stream
 * writes it, less any `$ts` member, instead of serialising the values again, after checking that the
 * text names no key twice (event-json.ts); every other listener can ignore it. Kept beside the
 * events, never on them: a copy or merge of an event (coalescing, catch-ups) must not carry a text
 * that no longer matches.
 */
export type ValuesJson = readonly (string | undefined)[];

export type LiveListener = (events: readonly LiveEvent[], valuesJson?: ValuesJson) => void;

/** In-process fan-out of committed events. Listeners must be fast and never throw. */
export class LiveEventBus {
  private readonly listeners = new Set<LiveListener>();

  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Delivers a batch of committed events to every listener, in order (with their values' texts, if known). */
  publish(events: readonly LiveEvent[], valuesJson?: ValuesJson): void {
    if (events.length === 0) return;
    for (const l of this.listeners) {
      try {
        l(events, valuesJson);
      } catch {
        // A faulty listener must not break ingestion; listeners count their own errors.
      }
    }
  }
}
