/**
 * Test support (not a test): one HTTP/1.1 request written byte for byte on a TCP socket, so tests
 * can send what a well-behaved client never would (odd paths, Upgrade headers on any route,
 * duplicated or malformed headers) and read the status line and headers that come back.
 */
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** What arrived after the headers before the socket was closed or the timeout hit. */
  body: string;
}

/**
 * Sends `METHOD path HTTP/1.1` with `headers` (Host and Connection: close added unless given) and
 * an optional body; resolves with the status and headers.
 */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: [string, string][] = [],
  body?: Buffer | string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const lines = [`${method} ${path} HTTP/1.1`];
    const names = new Set(headers.map(([k]) => k.toLowerCase()));
    if (!names.has('host')) lines.push(`Host: 127.0.0.1:${port}`);
    if (!names.has('connection')) lines.push('Connection: close');
    for (const [k, v] of headers) lines.push(`${k}: ${v}`);
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
    if (payload && !names.has('content-length') && !names.has('transfer-encoding'))
      lines.push(`Content-Length: ${payload.length}`);
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    if (payload) socket.write(payload);
    let data = Buffer.alloc(0);
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...rest] = text.slice(0, end).split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
      if (!m) return;
      settled = true;
      const h: Record<string, string> = {};
      for (const l of rest) {
        const i = l.indexOf(':');
        if (i > 0) h[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      clearTimeout(timer);
      // Give the body a moment when it is announced, then close.
      const bodyText = (): string =>
        data.toString('utf8').slice(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
      const len = Number(h['content-length'] ?? NaN);
      const done = (): void => {
        socket.destroy();
        resolve({ status: Number(m[1]), headers: h, body: bodyText() });
      };
      if (Number.isFinite(len) && data.length < end + 4 + len) {
        socket.on('data', () => {
          if (data.length >= end + 4 + len) done();
        });
        socket.on('close', done);
      } else done();
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      finish();
    });
    socket.on('close', () => {
      if (!settled) reject(new Error(`connection closed without a response to ${method} ${path}`));
    });
    socket.on('error', (e) => {
      if (!settled) reject(e);
    });
    const timer = setTimeout(() => {
      socket.destroy();
      if (!settled) reject(new Error(`no response to ${method} ${path} within 10 s`));
    }, 10_000);
  });
}
