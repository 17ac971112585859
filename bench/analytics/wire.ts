/**
 * Micro-benchmark of what carrying a message to the analytics worker and its outputs back costs,
 * per message, on each side: structured clone of the events as they were (v8.serialize on the
 * sender, v8.deserialize on the receiver: what postMessage does) against the compact wire of
 * analytics-worker-codec.ts (encode, the batch's structured clone with its buffer, decode).
 * Payload: bench:analytics's 'pump' readings (5 values) for 1000 pumps, in batches of 100; back,
 * one healthIndex property value per message and a derived set every other message.
 *
 * Usage: npm run bench:analytics:wire -- [--batches 2000]
 */
import v8 from 'node:v8';
import type { PropertyWritePolicy } from '../../src/analytics/analytics-types.js';
import type { LiveEvent } from '../../src/core/live/live-events.js';
import {
  ItemDecoder,
  ItemEncoder,
  OutDecoder,
  OutEncoder,
} from '../../src/app/subsystems/analytics-worker-codec.js';
import type { WorkerItem } from '../../src/app/subsystems/analytics-worker-protocol.js';
import { pumpPayloadJson, uniformSource } from '../ingest/pump-payload.js';
import { numberFlag } from '../results-file.js';

const argv = process.argv.slice(2);
const batches = numberFlag(argv, '--batches', 2000);
const PER = 100;
const uniform = uniformSource();
const events: LiveEvent[][] = [];
for (let b = 0; b < 50; b++) {
  const list: LiveEvent[] = [];
  for (let i = 0; i < PER; i++) {
    const p = (b * PER + i) % 1000;
    list.push({
      type: 'telemetry',
      workspace: 'default',
      twinId: `pump-${p + 1}`,
      modelId: 'dtmi:twinloop:pumpline:Pump;1',
      time: 1.8e12 + b * 50 + i,
      values: JSON.parse(pumpPayloadJson(p, uniform)) as Record<string, unknown>,
    });
  }
  events.push(list);
}
const policy: PropertyWritePolicy = { everyMs: 60_000, deadband: 0.01, integer: false };

function us(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1000;
}

function run(): Record<string, number> {
  let oldSend = 0;
  let oldRecv = 0;
  let newSend = 0;
  let newRecv = 0;
  let oldOutSend = 0;
  let oldOutRecv = 0;
  let newOutSend = 0;
  let newOutRecv = 0;
  const enc = new ItemEncoder<WorkerItem>();
  const dec = new ItemDecoder<WorkerItem>();
  const oenc = new OutEncoder();
  const odec = new OutDecoder();
  let sink = 0;
  const sinks = {
    derived: (_w: string, _t: string, time: number) => void (sink += time),
    property: (_w: string, _t: string, _time: number, _n: string, v: number) => void (sink += v),
  };
  for (let b = 0; b < batches; b++) {
    const list = events[b % events.length] as LiveEvent[];
    // ---- to the worker
    let buf: Buffer | undefined;
    oldSend += us(() => (buf = v8.serialize({ t: 'items', items: list })));
    oldRecv += us(() => void (sink += (v8.deserialize(buf as Buffer) as { items: unknown[] }).items.length));
    let wire: Buffer | undefined;
    let numsCopy: Float64Array = new Float64Array(0);
    newSend += us(() => {
      for (const e of list) enc.add(e);
      const x = enc.take()!;
      // postMessage transfers the buffer (no copy): serialized here without it, the bytes are copied after.
      const nums = x.wire.nums;
      wire = v8.serialize({ t: 'items', wire: { ...x.wire, nums: undefined }, rest: x.rest });
      numsCopy = nums;
    });
    newRecv += us(() => {
      const m = v8.deserialize(wire as Buffer) as {
        wire: Parameters<typeof dec.decode>[0];
        rest: WorkerItem[];
      };
      m.wire.nums = numsCopy;
      sink += dec.decode(m.wire, m.rest).length;
    });
    // ---- back: a property value per message, a derived set every other one
    const derived: unknown[] = [];
    const properties: unknown[] = [];
    oldOutSend += us(() => {
      for (let i = 0; i < list.length; i++) {
        const e = list[i] as { twinId: string; time: number };
        if (i % 2 === 0)
          derived.push([
            'default',
            e.twinId,
            e.time,
            { hydraulicPower: 1.25 + i, vibrationAnomalyScore: 0.1 },
          ]);
        properties.push(['default', e.twinId, e.time, 'healthIndex', 0.7 + i / 1000, policy]);
      }
      buf = v8.serialize({ t: 'out', derived, properties, alarms: [] });
    });
    oldOutRecv += us(() => {
      const m = v8.deserialize(buf as Buffer) as {
        derived: [string, string, number][];
        properties: [string, string, number][];
      };
      for (const d of m.derived) sink += d[2];
      for (const p of m.properties) sink += p[2];
    });
    newOutSend += us(() => {
      for (let i = 0; i < list.length; i++) {
        const e = list[i] as { twinId: string; time: number };
        if (i % 2 === 0)
          oenc.derived('default', e.twinId, e.time, { hydraulicPower: 1.25 + i, vibrationAnomalyScore: 0.1 });
        oenc.property('default', e.twinId, e.time, 'healthIndex', 0.7 + i / 1000, policy);
      }
      const x = oenc.take()!;
      numsCopy = x.wire.nums;
      wire = v8.serialize({ t: 'out', batch: { ...x, wire: { ...x.wire, nums: undefined } }, alarms: [] });
    });
    newOutRecv += us(() => {
      const m = v8.deserialize(wire as Buffer) as { batch: Parameters<typeof odec.decode>[0] };
      m.batch.wire.nums = numsCopy;
      odec.decode(m.batch, sinks);
    });
  }
  if (sink === 42) console.log('');
  const n = batches * PER;
  return {
    'to worker, sender (old)': oldSend / n,
    'to worker, receiver (old)': oldRecv / n,
    'to worker, sender (compact)': newSend / n,
    'to worker, receiver (compact)': newRecv / n,
    'back, sender (old)': oldOutSend / n,
    'back, receiver (old)': oldOutRecv / n,
    'back, sender (compact)': newOutSend / n,
    'back, receiver (compact)': newOutRecv / n,
  };
}

run(); // warm-up
const rounds = [run(), run(), run()];
for (const k of Object.keys(rounds[0]!)) {
  const xs = rounds.map((r) => r[k]!).sort((a, b) => a - b);
  console.log(
    `${k.padEnd(32)} ${xs[1]!.toFixed(2)} µs per message (rounds ${rounds.map((r) => r[k]!.toFixed(2)).join(' / ')})`,
  );
}
