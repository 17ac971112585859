/**
 * Load generator process for bench/ingest: C TCP connections, each simulating devices/C devices and
 * keeping W QoS 1 PUBLISHes in flight; 5 readings per message. MQTT 3.1.1 is written and read by hand
 * (a few dozen bytes per packet) so the generator stays cheap next to the system under test.
 * argv: host port connections window devices durationMs topicPrefix [ratePerS] [payload]
 * payload (optional): 'generic' (default: temperature, vibration, pressure, flow, rpm), 'pumpline'
 * (the pump-line pilot's Pump telemetry: vibration, temperature, flow, dischargePressure, running, as
 * sawtooth ramps: vibration jumps 2 → 5 mm/s every 31 messages) or 'pump' (the same telemetry as a
 * healthy pump reports it: per-device nominal values with the sensor noise of the pilot's pump
 * behaviour, pilots/pump-line/behaviours/pump.behaviour.yaml: vibration σ 0.05 mm/s, temperature
 * σ 0.1 °C at 0.1 °C resolution, flow σ 0.3 m³/h, pressure σ 0.01 bar).
 * ratePerS (optional, 0 = as fast as the acknowledgements allow): a steady total rate at most,
 * paced per connection (what falls behind is not made up in a burst). Answers 'mark' with
 * { type: 'counts', published, acked, t } (counts so far, for a window seen from the devices' side);
 * 'stop' ends it before durationMs. Sends { type: 'done', published, acked, elapsedMs } at the end.
 * 'ackMark' answers { type: 'acks', count, p50, p99, p999, max } (ms from PUBLISH written to PUBACK
 * read, over the acknowledgements since the last 'ackMark') and starts a new period.
 */
import { pumpPayloadJson, uniformSource } from './pump-payload.js';
import { connect } from 'node:net';
import type { Socket } from 'node:net';

const [
  host = '127.0.0.1',
  portS = '1883',
  connS = '20',
  winS = '200',
  devS = '1000',
  durS = '10000',
  prefix = 'twins/',
  rateS = '0',
  payloadKind = 'generic',
] = process.argv.slice(2);
const port = Number(portS);
const connections = Number(connS);
const window = Number(winS);
const devices = Number(devS);
const durationMs = Number(durS);
/** Messages per second per connection when paced, else 0. */
const connRate = Number(rateS) > 0 ? Number(rateS) / connections : 0;
if (payloadKind !== 'generic' && payloadKind !== 'pumpline' && payloadKind !== 'pump')
  throw new Error(`load generator: unknown payload '${payloadKind}' (generic | pumpline | pump)`);

const uniform = uniformSource();

/** The JSON of message `seq` for `device`: 5 readings. */
function payloadOf(seq: number, device: number): Buffer {
  if (payloadKind === 'pump') return Buffer.from(pumpPayloadJson(device, uniform));
  if (payloadKind === 'pumpline')
    return Buffer.from(
      `{"vibration":${(2 + (seq % 31) / 10).toFixed(1)},"temperature":${(40 + (seq % 50) / 10).toFixed(1)},"flow":${40 + (seq % 9)},"dischargePressure":${(3 + (seq % 13) / 10).toFixed(1)},"running":${seq % 211 !== 0}}`,
    );
  return Buffer.from(
    `{"temperature":${(20 + (seq % 50) / 10).toFixed(1)},"vibration":${(seq % 97) / 10},"pressure":${(3 + (seq % 13) / 10).toFixed(1)},"flow":${seq % 41},"rpm":${1400 + (seq % 100)}}`,
  );
}

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 128;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([
    Buffer.from([0, 4, 77, 81, 84, 84, 4, 2, 0, 60]),
    Buffer.from([id.length >> 8, id.length & 255]),
    id,
  ]);
  return Buffer.concat([Buffer.from([0x10]), varint(body.length), body]);
}

function publishPacket(topic: string, messageId: number, payload: Buffer): Buffer {
  const t = Buffer.from(topic);
  const rem = 2 + t.length + 2 + payload.length;
  const head = Buffer.concat([Buffer.from([0x32]), varint(rem)]);
  const buf = Buffer.allocUnsafe(head.length + rem);
  head.copy(buf, 0);
  let o = head.length;
  buf.writeUInt16BE(t.length, o);
  o += 2;
  t.copy(buf, o);
  o += t.length;
  buf.writeUInt16BE(messageId, o);
  o += 2;
  payload.copy(buf, o);
  return buf;
}

let published = 0;
let acked = 0;
/** PUBLISH → PUBACK times since the last 'ackMark': 0.05 ms buckets up to 5 s, and the largest. */
const ACK_BUCKET_MS = 0.05;
const ackHist = new Uint32Array(100_000);
let ackCount = 0;
let ackMax = 0;
function ackPercentile(q: number): number {
  let want = Math.ceil(q * ackCount);
  for (let i = 0; i < ackHist.length; i++) {
    want -= ackHist[i]!;
    if (want <= 0) return (i + 1) * ACK_BUCKET_MS;
  }
  return ackMax;
}
let stopping = false;
const start = Date.now();

function runConnection(index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const perConn = Math.ceil(devices / connections);
    const first = index * perConn + 1;
    const last = Math.min(devices, first + perConn - 1);
    let device = first;
    let nextId = 1;
    let inflight = 0;
    let pending: Buffer = Buffer.alloc(0);
    const sock: Socket = connect(port, host);
    sock.setNoDelay(true);
    let seq = 0;
    /** When each message id in flight was written (performance.now). */
    const sentAt = new Float64Array(65536);
    // Paced: a token bucket of connRate per second holding at most 100 ms of them, so a connection
    // held back (slow acknowledgements) does not burst to catch up: the rate is at most connRate.
    let tokens = 0;
    let filledAt = 0;
    const allowed = (): boolean => {
      if (connRate === 0) return true;
      if (filledAt === 0) return false; // before CONNACK
      const now = Date.now();
      tokens = Math.min(Math.max(1, connRate / 10), tokens + ((now - filledAt) * connRate) / 1000);
      filledAt = now;
      if (tokens < 1) return false;
      tokens--;
      return true;
    };
    const sendMore = () => {
      if (stopping) return;
      sock.cork();
      while (inflight < window && allowed()) {
        seq++;
        const payload = payloadOf(seq, device);
        sock.write(publishPacket(`${prefix}pump-${device}/telemetry`, nextId, payload));
        sentAt[nextId] = performance.now();
        nextId = nextId === 65535 ? 1 : nextId + 1;
        device = device === last ? first : device + 1;
        inflight++;
        published++;
      }
      sock.uncork();
    };
    sock.on('connect', () => sock.write(connectPacket(`tl-bench-load-${process.pid}-${index}`)));
    sock.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let o = 0;
      while (pending.length - o >= 2) {
        const type = pending[o]! >> 4;
        const len = pending[o + 1]!; // server packets here are tiny (remaining length < 128)
        if (pending.length - o < 2 + len) break;
        if (type === 2) {
          if (pending[o + 3] !== 0) return reject(new Error(`CONNACK refused: ${pending[o + 3]}`));
          filledAt = Date.now();
          if (connRate > 0) pacer.push(sendMore);
          sendMore();
        } else if (type === 4) {
          inflight--;
          acked++;
          const ms = performance.now() - sentAt[(pending[o + 2]! << 8) | pending[o + 3]!]!;
          ackHist[Math.min(ackHist.length - 1, Math.floor(ms / ACK_BUCKET_MS))]!++;
          ackCount++;
          if (ms > ackMax) ackMax = ms;
        }
        o += 2 + len;
      }
      pending = pending.subarray(o);
      if (stopping) {
        if (inflight === 0) sock.end();
      } else sendMore();
    });
    sock.on('error', reject);
    sock.on('close', () => resolve());
    stopTimers.push(() => {
      if (inflight === 0) sock.end();
    });
  });
}

const stopTimers: (() => void)[] = [];
/** Paced connections, given the chance to send every 10 ms. */
const pacer: (() => void)[] = [];
if (connRate > 0)
  setInterval(() => {
    for (const f of pacer) f();
  }, 10).unref();
process.on('message', (m: { type?: string }) => {
  if (m.type === 'mark') process.send?.({ type: 'counts', published, acked, t: Date.now() });
  else if (m.type === 'stop') stopAll();
  else if (m.type === 'ackMark') {
    process.send?.({
      type: 'acks',
      count: ackCount,
      p50: ackPercentile(0.5),
      p99: ackPercentile(0.99),
      p999: ackPercentile(0.999),
      max: ackMax,
    });
    ackHist.fill(0);
    ackCount = 0;
    ackMax = 0;
  }
});
// The benchmark is gone (interrupted): no load left running behind it.
process.on('disconnect', () => process.exit(0));
/** Stops publishing; ends each connection once its messages are acknowledged. */
function stopAll(): void {
  if (stopping) return;
  stopping = true;
  for (const f of stopTimers) f();
  // Unacknowledged messages after a grace period are reported as such (acked < published).
  setTimeout(() => finish(), 15_000).unref();
}
setTimeout(stopAll, durationMs);

let finished = false;
function finish(): void {
  if (finished) return;
  finished = true;
  process.send?.({ type: 'done', published, acked, elapsedMs: Date.now() - start });
  setTimeout(() => process.exit(0), 50);
}

Promise.all(Array.from({ length: connections }, (_, i) => runConnection(i))).then(finish, (e: unknown) => {
  console.error(`load generator: ${(e as Error).message}`);
  finish();
});
