/**
 * A small client of Twinloop's HTTP API for the command line. It finds the server from
 * --url / TWINLOOP_URL, else from the data folder's runtime.json (the ports actually bound), and
 * the token from --token / TWINLOOP_TOKEN, else the data folder's token file.
 */
import path from 'node:path';
import { readRuntimeInfo, readToken } from '../runtime-files.js';
import { DEFAULT_HTTP_PORT, clientEnv } from '../config.js';

export const API_VERSION = '2023-10-31';

export interface ClientOptions {
  url?: string;
  token?: string;
  data?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export class ApiClient {
  readonly baseUrl: string;
  /** The access token sent (also the MQTT password of `send --mqtt`). */
  readonly token: string | undefined;

  constructor(o: ClientOptions) {
    const env = clientEnv();
    const dataDir = path.resolve(o.data ?? process.env.TWINLOOP_DATA ?? './data');
    const runtime = readRuntimeInfo(dataDir);
    this.baseUrl = (o.url ?? env.url ?? runtime?.httpUrl ?? `http://127.0.0.1:${DEFAULT_HTTP_PORT}`).replace(
      /\/$/,
      '',
    );
    this.token = o.token ?? env.token ?? readToken(dataDir);
  }

  url(p: string, query: Record<string, string | undefined> = {}): string {
    const u = new URL(this.baseUrl + p);
    u.searchParams.set('api-version', API_VERSION);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, v);
    return u.toString();
  }

  async request(
    method: string,
    p: string,
    opts: {
      body?: unknown;
      raw?: string;
      contentType?: string;
      query?: Record<string, string | undefined>;
      headers?: Record<string, string>;
    } = {},
  ): Promise<{ status: number; body: unknown; headers: Headers }> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (opts.raw !== undefined) {
      body = opts.raw;
      headers['content-type'] = opts.contentType ?? 'application/x-ndjson';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = opts.contentType ?? 'application/json';
    }
    let res: Response;
    try {
      res = await fetch(this.url(p, opts.query), { method, headers, body });
    } catch (e) {
      throw new ApiError(
        0,
        'Unreachable',
        `Cannot reach Twinloop at ${this.baseUrl} (${(e as Error).message}). Is it running? Start it with 'npm start' or pass --url.`,
        undefined,
      );
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    if (!res.ok) {
      const err = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(res.status, err?.code ?? String(res.status), err?.message ?? text, parsed);
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }
}
