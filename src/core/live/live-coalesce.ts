/**
 * Merging of two updates of the same twin, used when a subscriber falls behind: the later
 * telemetry values overwrite the earlier ones of the same names, and property patches are
 * concatenated with the operations a later one overwrites removed. The result applied to the
 * subscriber's state gives the same state as applying both, in order.
 */
import type { LiveEvent } from './live-events.js';

type TelemetryEvent = Extract<LiveEvent, { type: 'telemetry' }>;
type PropertyChangeEvent = Extract<LiveEvent, { type: 'propertyChange' }>;
type PatchOp = PropertyChangeEvent['patch'][number];

/** Merges two telemetry readings of one twin+component (b is later). Never mutates its inputs. */
export function mergeTelemetry(a: TelemetryEvent, b: TelemetryEvent): TelemetryEvent {
  return { ...a, time: Math.max(a.time, b.time), values: { ...a.values, ...b.values } };
}

// An array insertion ("add /arr/0", "add /arr/-") does not overwrite what is at its path.
const ARRAY_POSITION = /^(?:\d+|-)$/;

function overwrites(later: PatchOp, earlierPath: string): boolean {
  if (later.op !== 'add' && later.op !== 'replace' && later.op !== 'remove') return false;
  const last = later.path.slice(later.path.lastIndexOf('/') + 1);
  if (later.op === 'add' && ARRAY_POSITION.test(last)) return false;
  if (earlierPath.startsWith(`${later.path}/`)) return true;
  // Same path: an earlier array insertion or removal shifted the elements, so it must stay.
  return (
    earlierPath === later.path && !ARRAY_POSITION.test(earlierPath.slice(earlierPath.lastIndexOf('/') + 1))
  );
}

/**
 * Concatenates two JSON Patches (b is later), dropping each earlier operation that a later one
 * overwrites (same path or below it) — but only those that only write (add/replace/remove), so
 * moves, copies and tests keep their meaning.
 */
export function mergePatches(a: readonly PatchOp[], b: readonly PatchOp[]): PatchOp[] {
  const kept = a.filter(
    (op) =>
      !(
        (op.op === 'add' || op.op === 'replace' || op.op === 'remove') &&
        b.some((later) => overwrites(later, op.path))
      ),
  );
  return [...kept, ...b];
}

/** Merges two property changes of one twin (b is later). Never mutates its inputs. */
export function mergePropertyChanges(a: PropertyChangeEvent, b: PropertyChangeEvent): PropertyChangeEvent {
  return { ...a, time: Math.max(a.time, b.time), patch: mergePatches(a.patch, b.patch) };
}
