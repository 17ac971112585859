/**
 * Webhook endpoints: one HTTP(S) POST per CloudEvent, over keep-alive connections.
 * - structured mode (default): `Content-Type: application/cloudevents+json`, the whole event as body;
 * - binary mode: the attributes as `ce-*` headers, the data as the body (`application/json`);
 * - batches (`maxEventsPerBatch` above 1, structured mode): `application/cloudevents-batch+json`,
 *   a JSON array of events, as Event Grid delivers batches to a webhook.
 * 2xx is delivered; 400 and 413 are permanent (the event is dead-lettered at once: sending it again
 * cannot help); anything else (5xx, 429, 404, a refused connection, a timeout) is retried.
 * The auth header's value is sent and never logged: failures name the status, not the request.
 */
import http from 'node:http';
import https from 'node:https';
import { DeliveryFailure, type CloudEvent, type EndpointSender } from '../../core/ports/event-routing.js';

export interface WebhookSenderOptions {
  url: string;
  mode: 'structured' | 'binary';
  authHeader?: string;
  secret?: string;
  /** Per request, ms (default 10 s). */
  timeoutMs?: number;
  /** Connections kept per endpoint (default 64). */
  maxSockets?: number;
  /** Events per request at most (default 1: no batches). */
  maxEventsPerBatch?: number;
}

/** Largest response body read (the rest is discarded). */
const MAX_RESPONSE_BYTES = 4096;

export class WebhookSender implements EndpointSender {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly mod: typeof http | typeof https;
  readonly maxBatch: number;

  constructor(private readonly o: WebhookSenderOptions) {
    this.maxBatch = o.mode === 'structured' ? Math.max(1, o.maxEventsPerBatch ?? 1) : 1;
    this.url = new URL(o.url);
    this.mod = this.url.protocol === 'https:' ? https : http;
    const Agent = this.url.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 64 });
  }

  send(event: CloudEvent): Promise<void> {
    const headers: Record<string, string> = {};
    let body: string;
    if (this.o.mode === 'binary') {
      const { data, datacontenttype, ...attrs } = event;
      for (const [k, v] of Object.entries(attrs)) if (v !== undefined) headers[`ce-${k}`] = String(v);
      headers['content-type'] = datacontenttype;
      body = JSON.stringify(data);
    } else {
      headers['content-type'] = 'application/cloudevents+json; charset=utf-8';
      body = JSON.stringify(event);
    }
    return this.post(headers, body);
  }

  sendBatch(events: readonly CloudEvent[]): Promise<void> {
    const headers = { 'content-type': 'application/cloudevents-batch+json; charset=utf-8' };
    return this.post(headers, JSON.stringify(events));
  }

  private post(headers: Record<string, string>, body: string): Promise<void> {
    if (this.o.authHeader && this.o.secret !== undefined) headers[this.o.authHeader] = this.o.secret;
    headers['content-length'] = String(Buffer.byteLength(body));
    return new Promise<void>((resolve, reject) => {
      const req = this.mod.request(
        this.url,
        { method: 'POST', headers, agent: this.agent, timeout: this.o.timeoutMs ?? 10_000 },
        (res) => {
          let got = 0;
          res.on('data', (c: Buffer) => {
            got += c.length;
            if (got > MAX_RESPONSE_BYTES) res.destroy();
          });
          res.on('error', () => undefined);
          res.on('close', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else
              reject(new DeliveryFailure(`the webhook answered ${status}`, status === 400 || status === 413));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.o.timeoutMs ?? 10_000} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) =>
        reject(new DeliveryFailure(`the webhook is unreachable: ${e.code ?? e.message}`)),
      );
      req.end(body);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await Promise.resolve();
  }
}
