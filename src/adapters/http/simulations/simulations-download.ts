/**
 * Result downloads written as streams: the JSON and CSV documents are produced in chunks of about
 * 64 KiB, only as fast as the client reads them (a Readable pulled by the response's pipe, which
 * stops at its high-water mark while the socket is full), with a turn of the event loop between
 * chunks. A 64 MB document never exists in memory at once and never holds the loop: requests such
 * as /healthz, MQTT acknowledgements and the live stream are served between chunks.
 */
import { Readable } from 'node:stream';
import type { KeptResult, KeptTrajectory } from '../../../sim/whatif/what-if-kept.js';

/** About this many characters a chunk (the last one of a document may be shorter). */
export const DOWNLOAD_CHUNK_CHARS = 64 * 1024;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A number as JSON writes it; not finite → null. */
const jsonNumber = (v: number): string => (Number.isFinite(v) ? String(v) : 'null');

/** The document head (id, name, horizon, sampleInterval) followed by the twins, as JSON. */
export interface JsonDocumentHead {
  id: string;
  name?: string;
  horizon: number;
  sampleInterval: number;
}

/** Builds chunks; `out` collects text and `full()` says when a chunk is ready. */
class Chunker {
  text = '';
  full(): boolean {
    return this.text.length >= DOWNLOAD_CHUNK_CHARS;
  }
  take(): string {
    const t = this.text;
    this.text = '';
    return t;
  }
}

async function* jsonChunks(head: JsonDocumentHead, result: KeptResult): AsyncGenerator<string> {
  const c = new Chunker();
  c.text = `${JSON.stringify(head).slice(0, -1)},"twins":[`;
  for (let i = 0; i < result.twins.length; i++) {
    const tr = result.twins[i] as KeptTrajectory;
    c.text +=
      `${i > 0 ? ',' : ''}{"twinId":${JSON.stringify(tr.twinId)},"behaviour":${JSON.stringify(tr.behaviour)},` +
      `"fork":${JSON.stringify(tr.fork)},"forkTime":${jsonNumber(tr.forkTime)},"times":`;
    for await (const chunk of series(c, tr.times)) yield chunk;
    for (const [key, group] of [
      ['telemetry', tr.telemetry],
      ['properties', tr.properties],
      ['states', tr.states],
      ['outputs', tr.outputs],
    ] as const) {
      c.text += `,${JSON.stringify(key)}:{`;
      let first = true;
      for (const [name, values] of Object.entries(group)) {
        c.text += `${first ? '' : ','}${JSON.stringify(name)}:`;
        first = false;
        for await (const chunk of series(c, values)) yield chunk;
      }
      c.text += '}';
    }
    c.text += `,"units":${JSON.stringify(tr.units)}}`;
  }
  c.text += ']}';
  yield c.take();
}

/** One array of numbers into the chunker, yielding whenever a chunk is full. */
async function* series(c: Chunker, values: Float64Array): AsyncGenerator<string> {
  c.text += '[';
  for (let k = 0; k < values.length; k++) {
    c.text += (k > 0 ? ',' : '') + jsonNumber(values[k] as number);
    if (c.full()) {
      await turn();
      yield c.take();
    }
  }
  c.text += ']';
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * One CSV line per value; numbers in their shortest round-trip form, empty when not finite (null
 * in JSON).
 */
async function* csvChunks(result: KeptResult): AsyncGenerator<string> {
  const c = new Chunker();
  c.text = 'twin,time,kind,name,value\n';
  for (const tr of result.twins) {
    const twin = csvField(tr.twinId);
    const groups = [
      ['telemetry', tr.telemetry],
      ['property', tr.properties],
      ['state', tr.states],
      ['output', tr.outputs],
    ] as const;
    const list = groups.flatMap(([kind, byName]) =>
      Object.entries(byName).map(([name, values]) => ({ prefix: `,${kind},${csvField(name)},`, values })),
    );
    for (let i = 0; i < tr.times.length; i++) {
      const head = `${twin},${tr.times[i]}`;
      for (const s of list) {
        const v = s.values[i] as number;
        c.text += `${head}${s.prefix}${Number.isFinite(v) ? v : ''}\n`;
      }
      if (c.full()) {
        await turn();
        yield c.take();
      }
    }
  }
  yield c.take();
}

/** The JSON document as a stream that serialises only as fast as it is read. */
export function jsonDownload(head: JsonDocumentHead, result: KeptResult): Readable {
  return Readable.from(jsonChunks(head, result), { objectMode: false, highWaterMark: DOWNLOAD_CHUNK_CHARS });
}

/** The CSV document (`twin,time,kind,name,value`) as a stream, likewise. */
export function csvDownload(result: KeptResult): Readable {
  return Readable.from(csvChunks(result), { objectMode: false, highWaterMark: DOWNLOAD_CHUNK_CHARS });
}
