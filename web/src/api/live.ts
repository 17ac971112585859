/**
 * The live stream (docs/live.md) as the app uses it: one WebSocket for the whole app, any number of
 * subscriptions on it, subscribed again after a reconnect. The token travels as the subprotocol
 * `twinloop.bearer.<base64url>` beside `twinloop.live` (a browser cannot set headers on a WebSocket,
 * and a token in the URL would be logged by proxies).
 */
import type { LiveEvent } from './types.js';

export type LiveSelector = { twinIds: string[] } | { model: string; exact?: boolean } | { query: string };

export type LiveType = 'telemetry' | 'propertyChange' | 'lifecycle' | 'alarm' | 'command' | 'device';

export interface LiveStatus {
  state: 'connecting' | 'open' | 'closed';
  /** The last error frame or close reason, shown to the user. */
  error?: string;
}

/** base64url of a UTF-8 string (what the server's subprotocol decoder expects). */
export function base64url(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The subprotocols to offer: none without a token. */
export function liveProtocols(token: string | undefined): string[] | undefined {
  return token ? ['twinloop.live', `twinloop.bearer.${base64url(token)}`] : undefined;
}

interface Sub {
  selector: LiveSelector;
  types: LiveType[];
  onEvents: (events: LiveEvent[]) => void;
  onError?: (message: string) => void;
}

export class LiveClient {
  private ws: WebSocket | undefined;
  private readonly subs = new Map<string, Sub>();
  private next = 1;
  private retry = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private readonly listeners = new Set<(s: LiveStatus) => void>();
  status: LiveStatus = { state: 'closed' };

  constructor(
    private readonly url: string,
    private readonly token: () => string | undefined,
  ) {}

  onStatus(fn: (s: LiveStatus) => void): () => void {
    this.listeners.add(fn);
    fn(this.status);
    return () => this.listeners.delete(fn);
  }

  private setStatus(s: LiveStatus): void {
    this.status = s;
    for (const l of this.listeners) l(s);
  }

  /** Subscribes; returns the function that unsubscribes. */
  subscribe(
    selector: LiveSelector,
    types: LiveType[],
    onEvents: (events: LiveEvent[]) => void,
    onError?: (message: string) => void,
  ): () => void {
    const id = `s${this.next++}`;
    const sub: Sub = { selector, types, onEvents, ...(onError ? { onError } : {}) };
    this.subs.set(id, sub);
    if (this.ws?.readyState === WebSocket.OPEN) this.send(id, sub);
    else this.connect();
    return () => {
      this.subs.delete(id);
      if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ op: 'unsubscribe', id }));
    };
  }

  private send(id: string, sub: Sub): void {
    this.ws?.send(JSON.stringify({ op: 'subscribe', id, ...sub.selector, types: sub.types }));
  }

  private connect(): void {
    if (this.stopped || this.ws) return;
    this.setStatus({ state: 'connecting' });
    const ws = new WebSocket(this.url, liveProtocols(this.token()));
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      this.setStatus({ state: 'open' });
      for (const [id, sub] of this.subs) this.send(id, sub);
    };
    ws.onmessage = (m) => {
      if (typeof m.data !== 'string') return;
      let frame: { sub?: string; events?: LiveEvent[]; type?: string; id?: string; message?: string };
      try {
        frame = JSON.parse(m.data) as typeof frame;
      } catch {
        return;
      }
      if (frame.sub !== undefined && Array.isArray(frame.events)) {
        this.subs.get(frame.sub)?.onEvents(frame.events);
      } else if (frame.type === 'error') {
        const sub = frame.id !== undefined ? this.subs.get(frame.id) : undefined;
        if (sub?.onError) sub.onError(frame.message ?? 'error');
        else this.setStatus({ state: this.status.state, error: frame.message ?? 'error' });
      }
    };
    ws.onclose = (e) => {
      this.ws = undefined;
      this.setStatus({ state: 'closed', ...(e.code !== 1000 ? { error: `disconnected (${e.code})` } : {}) });
      if (this.stopped || this.subs.size === 0) return;
      const delay = Math.min(10_000, 250 * 2 ** this.retry++);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close(1000);
  }
}

/** The stream's URL for this page (same host, ws: or wss:). */
export function liveUrl(loc: Pick<Location, 'protocol' | 'host'>): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/live`;
}
