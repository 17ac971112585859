/**
 * What the cluster's NATS adapters (ingest bus, cluster feed) share when they open: a checked
 * subject prefix, the stream name derived from it, and a connection that reconnects for ever, with
 * an unreachable server reported as ServiceUnavailable naming where.
 */
import { connect, type NatsConnection } from 'nats';
import { TwinloopError } from '../../core/errors/errors.js';

/** The prefix as given (default "twinloop"), checked: NATS subject tokens of letters, digits, _ and -. */
export function checkedPrefix(prefix: string | undefined): string {
  const p = prefix ?? 'twinloop';
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(p))
    throw new TwinloopError('InvalidConfig', `The NATS subject prefix '${p.slice(0, 80)}' is not valid.`);
  return p;
}

/** `<PREFIX>_<SUFFIX>`: the stream of a prefix (dots become underscores). */
export function streamName(prefix: string, suffix: string): string {
  return `${prefix.replace(/\./g, '_').toUpperCase()}_${suffix}`;
}

/** Connects (comma-separated servers), reconnecting for ever. @throws ServiceUnavailable */
export async function connectNats(o: {
  url: string;
  name: string;
  timeoutMs?: number;
}): Promise<NatsConnection> {
  try {
    return await connect({
      servers: o.url.split(','),
      reconnect: true,
      maxReconnectAttempts: -1,
      timeout: o.timeoutMs ?? 10_000,
      name: o.name,
      // Without it, every request (each JetStream publish) captures two or three stack traces for
      // a timeout it will almost never have: measured ~35% of an API node's CPU under ingest
      // (NatsError and BaseRequest in a CPU profile). Our own errors say what timed out.
      noAsyncTraces: true,
    });
  } catch (e) {
    throw new TwinloopError(
      'ServiceUnavailable',
      `NATS at ${o.url} is unreachable: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
}
