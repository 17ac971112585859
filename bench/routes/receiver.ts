/**
 * The bench's webhook (its own process, so it does not share the system's event loop): counts the
 * CloudEvents it receives (one per request, or batches) and the latency from each event's `time` (its commit) to its receipt.
 * IPC: sends { type: 'ready', port }; answers { type: 'report' } with the figures.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

interface Ev {
  id: string;
  time: string;
}

const latencies: number[] = [];
let first = 0;
let last = 0;
const seen = new Set<string>();
let duplicates = 0;

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const now = Date.now();
    try {
      // One event (structured mode) or a CloudEvents batch (an array, maxEventsPerBatch > 1).
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Ev | Ev[];
      for (const ev of Array.isArray(body) ? body : [body]) {
        if (seen.has(ev.id)) duplicates++;
        else {
          seen.add(ev.id);
          latencies.push(now - Date.parse(ev.time));
        }
      }
      if (!first) first = now;
      last = now;
    } catch {
      res.statusCode = 400;
    }
    res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

process.on('message', (m: { type: string }) => {
  if (m.type === 'report') {
    const sorted = [...latencies].sort((a, b) => a - b);
    process.send?.({
      type: 'report',
      count: latencies.length,
      duplicates,
      first,
      last,
      p50: pct(sorted, 50),
      p99: pct(sorted, 99),
      max: sorted.at(-1) ?? NaN,
    });
  }
  if (m.type === 'stop') server.close(() => process.exit(0));
});
