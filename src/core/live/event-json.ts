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
 * Writes device telemetry events from their twin's cached prefix and the device's own text of the
 * values. `accepts(ev, text)` decides (and remembers what it found for the `write` that follows):
 * a device's telemetry event (no component, not derived: those have other keys, in another order),
 * a time that is a whole non-negative number of ms, and a text that holds exactly the values:
 *
 * - its `$ts` member, if any, is left out: found as `"$ts"` spelled plainly, once, with a number or
 *   a string value (validation accepted it as a time, so the string holds no escaped quote);
 * - no key is repeated: the values are numbers and booleans and their names, being DTDL names, hold
 *   no quote, so every `"` left opens or closes a key, and twice as many quotes as the event's
 *   values have keys means none is named twice. A repeated key would let the text carry a value
 *   validation never saw (JSON.parse keeps only the last one). A `$ts` spelled with escapes counts
 *   as a key too much: such a text is not used.
 */
export class TelemetryWriter {
  private readonly prefixes: TelemetryPrefixes;
  /** What accepts() found: the prefix, and the text's part to leave out ([cutFrom, cutTo), empty when none). */
  private prefix: Uint8Array = VALUES_KEY;
  private cutFrom = 0;
  private cutTo = 0;

  constructor(maxTwins = 10_000) {
    this.prefixes = new TelemetryPrefixes(maxTwins);
  }

  accepts(ev: LiveDelivered, text: string): ev is Extract<LiveDelivered, { type: 'telemetry' }> {
    if (ev.type !== 'telemetry' || ev.component !== undefined || ev.derived !== undefined) return false;
    if (!Number.isSafeInteger(ev.time) || ev.time < 0) return false;
    if (!this.cut(text)) return false;
    let keys = 0;
    for (const k in ev.values) if (Object.hasOwn(ev.values, k)) keys++;
    const quotes = quotesIn(text, 0, this.cutFrom, 2 * keys);
    if (quotes + quotesIn(text, this.cutTo, text.length, 2 * keys - quotes) !== 2 * keys) return false;
    this.prefix = this.prefixes.of(ev);
    return true;
  }

  /** Most bytes `write` takes for the text (accepts() said yes to it). */
  bound(text: string): number {
    return this.prefix.length + 16 + VALUES_KEY.length + 3 * text.length + 1;
  }

  /** Writes the event accepts() said yes to at `out[at]`; returns where it ended. `out` must have bound(text) bytes free. */
  write(out: Buffer, at: number, time: number, text: string): number {
    out.set(this.prefix, at);
    at += this.prefix.length;
    at = writeDigits(out, at, time);
    out.set(VALUES_KEY, at);
    at += VALUES_KEY.length;
    if (this.cutTo === 0) at += out.write(text, at, 'utf8');
    else {
      at += out.write(text.substring(0, this.cutFrom), at, 'utf8');
      at += out.write(text.substring(this.cutTo), at, 'utf8');
    }
    out[at++] = 0x7d; // }
    return at;
  }

  /**
   * Finds the `$ts` member to leave out (cutFrom/cutTo; both 0 when there is none); false when the
   * text has one that cannot be cut cleanly (then the event is serialised from its values).
   */
  private cut(text: string): boolean {
    this.cutFrom = 0;
    this.cutTo = 0;
    const at = text.indexOf('"$ts"');
    if (at === -1) return true;
    let i = skipSpace(text, at + 5);
    if (text.charCodeAt(i) !== 0x3a /* : */) return false;
    i = skipSpace(text, i + 1);
    let end: number;
    if (text.charCodeAt(i) === 0x22 /* " */) {
      const close = text.indexOf('"', i + 1);
      if (close === -1) return false;
      end = close + 1;
    } else {
      end = i;
      while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
      if (end === i) return false;
    }
    if (text.indexOf('"$ts"', end) !== -1) return false;
    const after = skipSpace(text, end);
    if (text.charCodeAt(after) === 0x2c /* , */) {
      // `"$ts":…,` then the values: leave the member and its comma out.
      this.cutFrom = at;
      this.cutTo = after + 1;
      return true;
    }
    // The last member: leave out the comma before it too.
    let before = at - 1;
    while (before > 0 && isSpace(text.charCodeAt(before))) before--;
    if (text.charCodeAt(before) !== 0x2c) return false; // `$ts` alone: no values (never accepted)
    this.cutFrom = before;
    this.cutTo = end;
    return true;
  }
}

/** Quotes in text[from, to), counting no further than `most` + 1. */
function quotesIn(text: string, from: number, to: number, most: number): number {
  let n = 0;
  for (let i = text.indexOf('"', from); i !== -1 && i < to; i = text.indexOf('"', i + 1)) {
    if (++n > most) return n;
  }
  return n;
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
/** Characters of a JSON number: digits, sign, point, exponent. */
const isNumberChar = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
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
