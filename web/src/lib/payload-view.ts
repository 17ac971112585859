/**
 * A dead letter's payload as the page shows it: always as text (React escapes it; it is never HTML),
 * bytes that are not UTF-8 shown as U+FFFD with a note and the hex of the first bytes, and a long
 * payload cut at `maxChars` with the sizes said (kept, and as received when the store kept its head).
 */
import type { DeadLetterJson } from '../api/types.js';

export interface PayloadView {
  text: string;
  /** The payload was not valid UTF-8 (it came as base64). */
  badUtf8: boolean;
  /** Hex of the first bytes, when it was not UTF-8. */
  hex?: string;
  /** What the view leaves out, in words (undefined: everything is shown). */
  note?: string;
}

function bytesOf(b64: string): Uint8Array {
  try {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return new Uint8Array(0);
  }
}

const n = (v: number) => v.toLocaleString('en');

export function payloadView(
  d: Pick<
    DeadLetterJson,
    'payload' | 'payloadEncoding' | 'payloadBytes' | 'payloadTruncated' | 'receivedBytes'
  >,
  maxChars = 4000,
): PayloadView {
  const badUtf8 = d.payloadEncoding === 'base64';
  let text = d.payload;
  let hex: string | undefined;
  if (badUtf8) {
    const bytes = bytesOf(d.payload);
    text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    hex = Array.from(bytes.subarray(0, 64), (b) => b.toString(16).padStart(2, '0')).join(' ');
    if (bytes.length > 64) hex += ' …';
  }
  const notes: string[] = [];
  if (badUtf8) notes.push('not valid UTF-8: bytes that are not are shown as �');
  if (text.length > maxChars) {
    text = text.slice(0, maxChars);
    notes.push(`showing the first ${n(maxChars)} characters of ${n(d.payloadBytes)} bytes kept`);
  }
  if (d.payloadTruncated && d.receivedBytes !== undefined)
    notes.push(`only the first ${n(d.payloadBytes)} bytes were kept of ${n(d.receivedBytes)} received`);
  return {
    text,
    badUtf8,
    ...(hex !== undefined ? { hex } : {}),
    ...(notes.length ? { note: notes.join('; ') } : {}),
  };
}
