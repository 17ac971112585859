/**
 * The live stream over WebSocket: `GET /live` upgrades to a socket on which the client sends
 * subscribe/unsubscribe messages and receives event frames from the LiveHub. Protocol in
 * docs/live.md. Bad messages get an error frame and the socket stays open; only transport
 * failures close it.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import type { LiveHub, LiveSessionHandle } from '../../../core/live/live-hub.js';
import { parseSubscription } from '../../../core/live/live-filters.js';
import type { Problem } from '../../../core/errors/errors.js';
import { TwinloopError, isTwinloopError } from '../../../core/errors/errors.js';
import { parseUntrustedJson } from '../../../core/json/untrusted-json.js';
import { tokenFromProtocols } from '../http-edge-guard.js';

/** The subprotocol the server selects when a client offers it (the web app does, beside its token). */
export const LIVE_PROTOCOL = 'twinloop.live';

export interface LiveWsPluginOptions {
  /** The hub fed by the platform's LiveEventBus (built by the composition root). */
  hub: LiveHub;
  /** Route path (default "/live"). */
  path?: string;
  /**
   * When set, connections must present it: `Authorization: Bearer <token>`, `?token=<token>`, or the
   * subprotocol `twinloop.bearer.<base64url token>` offered beside `twinloop.live` (browsers).
   */
  token?: string;
  /** Workspace of subscriptions that name none (default "default"). */
  defaultWorkspace?: string;
  /** Largest client message accepted, bytes (default 64 KiB); larger ones get a PayloadTooLarge error frame. */
  maxMessageBytes?: number;
  /** Most twin ids in one subscription (default 10 000). */
  maxTwinIds?: number;
  /** Longest query text, characters (default 8 000). */
  maxQueryLength?: number;
}

/** An error frame: the code is one of the TwinloopError catalogue's. */
interface ErrorFrame {
  type: 'error';
  code: string;
  message: string;
  /** The subscription id the failed message named, when it named one. */
  id?: string;
  problems?: readonly Problem[];
}

function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function presentedToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string' && /^Bearer\s+/i.test(h)) return h.replace(/^Bearer\s+/i, '').trim();
  const q = (req.query as Record<string, unknown> | undefined)?.['token'];
  const fromProtocol = tokenFromProtocols(req.headers['sec-websocket-protocol']);
  if (q !== undefined && fromProtocol !== undefined) return undefined; // two tokens: take neither
  if (fromProtocol !== undefined) return fromProtocol;
  return typeof q === 'string' ? q : undefined;
}

/**
 * Builds the plugin. Registers @fastify/websocket itself unless the server already has it.
 *
 * @example
 * const hub = new LiveHub({ bus, isOfModel, compileQuery });
 * await app.register(liveWsPlugin({ hub, token: config.auth.token }));
 */
export function liveWsPlugin(options: LiveWsPluginOptions): FastifyPluginAsync {
  const path = options.path ?? '/live';
  const maxMessageBytes = options.maxMessageBytes ?? 64 * 1024;
  const parseOpts = {
    defaultWorkspace: options.defaultWorkspace ?? 'default',
    maxTwinIds: options.maxTwinIds ?? 10_000,
    maxQueryLength: options.maxQueryLength ?? 8_000,
  };

  return async function live(app: FastifyInstance): Promise<void> {
    if (!app.hasDecorator('websocketServer')) {
      // ws' own limit closes the socket (1009); ours answers with an error frame, so ws' is set well above it.
      // A browser that offers subprotocols (the token as `twinloop.bearer.…`) fails unless one is
      // selected: `twinloop.live` is, the bearer one never (it is not echoed back).
      await app.register(websocket, {
        options: {
          maxPayload: Math.max(maxMessageBytes * 4, 1 << 20),
          handleProtocols: (protocols) => (protocols.has(LIVE_PROTOCOL) ? LIVE_PROTOCOL : false),
        },
      });
    }

    const authorize = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      if (options.token === undefined) return undefined;
      if (!tokenMatches(options.token, presentedToken(req))) {
        return reply.code(401).header('www-authenticate', 'Bearer').send({
          code: 'Unauthorized',
          message: 'A valid token is required (Authorization: Bearer <token> or ?token=).',
        });
      }
      return undefined;
    };

    // tokenInQuery: the server's edge guard takes `?token=` here (and only here), for browsers.
    const route = { websocket: true, config: { tokenInQuery: true }, preValidation: authorize } as const;
    app.get(path, route, (socket: WebSocket, req: FastifyRequest) => {
      // The connection under the WebSocket (the one upgraded): corked around a frame's two
      // fragments so they leave in one write.
      const tcp = req.socket;
      const session: LiveSessionHandle = options.hub.openSession({
        get bufferedAmount() {
          return socket.bufferedAmount;
        },
        send(frame) {
          if (socket.readyState === socket.OPEN) socket.send(frame);
        },
        // One text message in two fragments: the subscription's head, then the body its channel's
        // readers share (sent as they are: no copy, no re-encoding per subscriber).
        sendText(head, body) {
          if (socket.readyState !== socket.OPEN) return;
          tcp.cork();
          socket.send(head, { binary: false, fin: false });
          socket.send(body, { binary: false, fin: true });
          tcp.uncork();
        },
      });
      const reply = (frame: object): void => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame));
      };
      const fail = (code: string, message: string, extra: Partial<ErrorFrame> = {}): void =>
        reply({ type: 'error', code, message, ...extra } satisfies ErrorFrame);

      socket.on('message', (data, isBinary) => {
        const size = Array.isArray(data)
          ? data.reduce((n, b) => n + b.length, 0)
          : (data as Buffer | ArrayBuffer).byteLength;
        if (isBinary) return fail('BadRequest', 'Binary messages are not supported; send JSON text.');
        if (size > maxMessageBytes)
          return fail(
            'PayloadTooLarge',
            `The message is ${size} bytes; at most ${maxMessageBytes} are accepted.`,
          );
        handle(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer));
      });
      socket.on('close', () => session.close());
      socket.on('error', () => session.close());

      function handle(bytes: Buffer): void {
        // The one untrusted-JSON parser: UTF-8, depth, non-finite numbers, __proto__-family keys.
        const parsed = parseUntrustedJson(bytes, { what: 'The message', maxDepth: 32 });
        if (!parsed.ok) {
          const p = parsed.problem;
          const text = p.code === 'json.syntax' ? `The message is not valid JSON. ${p.message}` : p.message;
          return fail('BadRequest', text, { problems: [p] });
        }
        const msg = parsed.value;
        if (typeof msg !== 'object' || msg === null || Array.isArray(msg))
          return fail('BadRequest', 'A message must be a JSON object with an "op".');
        const m = msg as Record<string, unknown>;
        const id = typeof m['id'] === 'string' ? m['id'] : undefined;
        const idPart = id === undefined ? {} : { id };
        try {
          switch (m['op']) {
            case 'subscribe': {
              const result = session.subscribe(parseSubscription(m, parseOpts));
              return reply({ type: 'subscribed', ...result });
            }
            case 'unsubscribe': {
              if (id === undefined) return fail('BadRequest', 'unsubscribe needs the subscription "id".');
              if (!session.unsubscribe(id))
                return fail('NotFound', `There is no subscription '${id}' on this connection.`, idPart);
              return reply({ type: 'unsubscribed', id });
            }
            case 'ping':
              return reply({ type: 'pong', ...idPart });
            default:
              return fail(
                'BadRequest',
                `Unknown op ${JSON.stringify(m['op'])}; expected "subscribe", "unsubscribe" or "ping".`,
                idPart,
              );
          }
        } catch (e) {
          if (isTwinloopError(e)) {
            return fail(e.code, e.message, {
              ...idPart,
              ...(e.problems.length ? { problems: e.problems } : {}),
            });
          }
          const err = new TwinloopError('InternalError', 'The message could not be handled.', { cause: e });
          app.log.error({ err: e }, 'live: message handling failed');
          return fail(err.code, err.message, idPart);
        }
      }
    });
  };
}
