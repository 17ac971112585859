/**
 * A real local webhook for the event-route tests: node:http on an OS port; `down()` closes the
 * listener and every connection (new ones are refused), `up()` listens on the same port again.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedEvent {
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  at: number;
}

export class RouteReceiver {
  readonly events: ReceivedEvent[] = [];
  private server: http.Server | undefined;
  port = 0;
  /** Status to answer (200 by default). */
  status = 200;

  async up(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          if (this.status >= 200 && this.status < 300)
            this.events.push({ headers: req.headers, body, at: Date.now() });
        } catch {
          res.statusCode = 400;
          res.end();
          return;
        }
        res.statusCode = this.status;
        res.end();
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/events`;
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** Data of the received events of one type, per twin (subject). */
  byTwin(type: string): Map<string, unknown[]> {
    const m = new Map<string, unknown[]>();
    for (const e of this.events) {
      if (e.body.type !== type) continue;
      const k = String(e.body.subject);
      m.set(k, [...(m.get(k) ?? []), e.body.data]);
    }
    return m;
  }
}

/** Removes consecutive repeats (an at-least-once redelivery of the head of a twin's queue). */
export function collapseRepeats<T>(xs: readonly T[]): T[] {
  const out: T[] = [];
  for (const x of xs) if (out.length === 0 || JSON.stringify(out.at(-1)) !== JSON.stringify(x)) out.push(x);
  return out;
}
