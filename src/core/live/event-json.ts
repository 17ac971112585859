/**
 * Writing a device's telemetry event into a live frame without serialising its values again.
 *
 * The live stream sends each committed event as JSON. For the common telemetry event — a device's
 * one-object payload of numbers and booleans, every value taken as it is — ingestion keeps the
 * payload's own text beside the event (live-events.ts ValuesJson), and the frame writer copies it
 * as the `values` instead of calling JSON.stringify: formatting the numbers again was most of the
 * ingest thread's cost per event with readers on the stream. The rest of the event (type,
 * workspace, twin id, model id) is the same for every reading of a twin, so its bytes are kept per
 * twin (TelemetryPrefixes, bounded) and only the time is written per event.
 *
 * The result parses to the same value as JSON.stringify(event): the keys are in the same order and
 * the values text holds the same names and values (JSON.parse of the text was what validation saw).
 * Only the spelling of the values may differ (`2.50` stays `2.50`, spacing is the device's).
 */
import type { LiveDelivered } from './live-filters.js';

const ZERO = 0x30;
/** `,"values":` between the time and the values text. */
const VALUES_KEY: Uint8Array = Buffer.from(',"values":');

/**
 * True when `text` names no key twice, for a text validation took as `values` (one flat object of
 * numbers and booleans whose names, being DTDL names, hold no quote): then every `"` in it opens or
 * closes a key, so twice as many quotes as `values` has keys means no key is repeated. A repeated
 * key would let the text carry a value validation never saw (JSON.parse keeps only the last one).
 */
export function valuesJsonFits(text: string, values: Readonly<Record<string, unknown>>): boolean {
  let keys = 0;
  for (const k in values) if (Object.hasOwn(values, k)) keys++;
  let quotes = 0;
  for (let i = text.indexOf('"'); i !== -1; i = text.indexOf('"', i + 1)) {
    if (++quotes > 2 * keys) return false;
  }
  return quotes === 2 * keys;
}

interface Prefix {
  workspace: string;
  modelId: string;
  /** `{"type":"telemetry","workspace":…,"twinId":…,"modelId":…,"time":` as UTF-8. */
  bytes: Uint8Array;
}

/**
 * The bytes of telemetry events up to their time, per twin, bounded: past `maxTwins` the cache is
 * emptied and refilled by the twins still reporting (a twin's prefix costs one JSON.stringify).
 */
export class TelemetryPrefixes {
  private readonly byTwin = new Map<string, Prefix>();

  constructor(private readonly maxTwins = 10_000) {}

  get size(): number {
    return this.byTwin.size;
  }

  /** The prefix of a device's telemetry event (no component, not derived). */
  of(ev: { workspace: string; twinId: string; modelId: string }): Uint8Array {
    const p = this.byTwin.get(ev.twinId);
    if (p !== undefined && p.workspace === ev.workspace && p.modelId === ev.modelId) return p.bytes;
    if (p === undefined && this.byTwin.size >= this.maxTwins) this.byTwin.clear();
    const text = `{"type":"telemetry","workspace":${JSON.stringify(ev.workspace)},"twinId":${JSON.stringify(ev.twinId)},"modelId":${JSON.stringify(ev.modelId)},"time":`;
    const bytes = Buffer.from(text, 'utf8');
    this.byTwin.set(ev.twinId, { workspace: ev.workspace, modelId: ev.modelId, bytes });
    return bytes;
  }
}

/**
 * Most bytes writeTelemetryEvent writes for a prefix and a values text: the prefix, at most 16
 * digits of time, the key, the text at 3 bytes per UTF-16 unit, the closing brace.
 */
export function telemetryEventBound(prefix: Uint8Array, text: string): number {
  return prefix.length + 16 + VALUES_KEY.length + 3 * text.length + 1;
}

/**
 * True when `ev` can be written by writeTelemetryEvent with `text` as its values: a device's
 * telemetry event (no component, not derived: those have other keys, in another order), a time
 * that is a whole non-negative number of ms, and a text that repeats no key.
 */
export function fastTelemetry(
  ev: LiveDelivered,
  text: string,
): ev is Extract<LiveDelivered, { type: 'telemetry' }> {
  return (
    ev.type === 'telemetry' &&
    ev.component === undefined &&
    ev.derived === undefined &&
    Number.isSafeInteger(ev.time) &&
    ev.time >= 0 &&
    valuesJsonFits(text, ev.values)
  );
}

/**
 * Writes `prefix`, the event's time, `,"values":`, `text` and `}` at `out[at]`; returns where it
 * ended. `out` must have telemetryEventBound(prefix, text) bytes free from `at`.
 */
export function writeTelemetryEvent(
  out: Buffer,
  at: number,
  prefix: Uint8Array,
  time: number,
  text: string,
): number {
  out.set(prefix, at);
  at += prefix.length;
  at = writeDigits(out, at, time);
  out.set(VALUES_KEY, at);
  at += VALUES_KEY.length;
  at += out.write(text, at, 'utf8');
  out[at++] = 0x7d; // }
  return at;
}

/**
 * A non-negative safe integer's decimal digits at `out[at]`; returns where they end. In two parts
 * below 2^30 (small integers: integer arithmetic), not digit by digit on the double (`%` on a
 * double is a library call: 170 → 70 ns for a 13-digit time).
 */
function writeDigits(out: Buffer, at: number, n: number): number {
  if (n < 1e9) return writeSmall(out, at, n);
  const hi = Math.floor(n / 1e9);
  at = writeSmall(out, at, hi);
  let lo = n - hi * 1e9;
  for (let i = at + 8; i >= at; i--) {
    const q = (lo / 10) | 0;
    out[i] = ZERO + lo - q * 10;
    lo = q;
  }
  return at + 9;
}

/** An integer in [0, 1e9)'s digits, without leading zeros. */
function writeSmall(out: Buffer, at: number, n: number): number {
  let digits = 1;
  for (let m = n; m >= 10; m = (m / 10) | 0) digits++;
  const end = at + digits;
  for (let i = end - 1; i >= at; i--) {
    const q = (n / 10) | 0;
    out[i] = ZERO + n - q * 10;
    n = q;
  }
  return end;
}
