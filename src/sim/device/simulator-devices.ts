/**
 * The simulated twins' own device connections (core/ports/simulator-link.ts, DeviceConnection):
 * opened with bounded concurrency (a fleet never makes a connection storm), at most `cap` of them
 * (the first twins by id; the rest receive and answer on the shared connection, without presence
 * of their own), and taken offline and back online by hand (`twinloop fault <twin> offline`).
 *
 * A twin offline has its connection dropped abruptly (the broker publishes its last will), sends no
 * telemetry and receives nothing; online opens a new connection (which subscribes, gets its
 * retained desired state and announces itself) and its telemetry resumes.
 */
import type { ControlReply } from './device-control.js';
import { parseDeviceTopic } from '../../core/control/device-topics.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { ControlHandler, DeviceConnection, SimulatorLink } from '../../core/ports/simulator-link.js';

/** Default most device connections one simulator opens (the rest share its connection). */
export const DEFAULT_DEVICE_CONNECTIONS = 1000;
/** Default device connections being opened (or closed) at the same time. */
export const DEFAULT_CONNECT_CONCURRENCY = 16;

export interface SimulatorDevicesOptions {
  link: SimulatorLink;
  /** Simulated twins. The first `cap` by id get a connection of their own. */
  twinIds: readonly string[];
  cap?: number;
  concurrency?: number;
  /** Every control message of a twin that is online, whichever connection it came on. */
  onControl: ControlHandler;
  log: { info(msg: string): void; warn(msg: string): void };
}

/** Runs `fn` over `items`, at most `limit` at a time; resolves when all have settled. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

export interface SimulatorDevices {
  /** Twins with a connection of their own. */
  readonly owned: ReadonlySet<string>;
  /** Opens every owned twin's connection (bounded concurrency); subscribes the shared one if needed. */
  open(): Promise<void>;
  /** True when the twin was taken offline. */
  isOffline(twinId: string): boolean;
  /** Twins offline now, sorted. */
  offline(): string[];
  /** Device connections up now. */
  connectedCount(): number;
  /** Publishes an answer as the twin's device (its own connection, else the shared one). */
  reply(twinId: string, reply: ControlReply): Promise<void>;
  /**
   * Takes a twin offline (its connection dropped abruptly) or back online (reconnected).
   * @throws TwinloopError BadRequest for a twin without a connection of its own (beyond the cap).
   */
  setOffline(twinId: string, offline: boolean): Promise<void>;
  /** Closes every device connection (each announcing `disconnected`). */
  close(): Promise<void>;
}

export function simulatorDevices(o: SimulatorDevicesOptions): SimulatorDevices {
  const cap = Math.max(0, Math.floor(o.cap ?? DEFAULT_DEVICE_CONNECTIONS));
  const concurrency = Math.max(1, Math.floor(o.concurrency ?? DEFAULT_CONNECT_CONCURRENCY));
  const sorted = [...o.twinIds].sort();
  const owned = new Set(sorted.slice(0, cap));
  const shared = sorted.length > owned.size;
  const connections = new Map<string, DeviceConnection>();
  const offline = new Set<string>();
  /** Online/offline switches per twin, one after the other (a fast offline-online-offline is ordered). */
  const switching = new Map<string, Promise<void>>();
  let closed = false;

  // A device connection receives its own twin's topics only, but the broker is not trusted to.
  const handlerFor =
    (twinId: string): ControlHandler =>
    (topic, payload, props) => {
      if (parseDeviceTopic(topic)?.twinId !== twinId || offline.has(twinId)) return;
      o.onControl(topic, payload, props);
    };
  const sharedHandler: ControlHandler = (topic, payload, props) => {
    const id = parseDeviceTopic(topic)?.twinId;
    if (id === undefined || owned.has(id) || offline.has(id)) return;
    o.onControl(topic, payload, props);
  };

  /** Connections being opened: a device answers its retained desired state before open() resolves. */
  const opening = new Map<string, Promise<DeviceConnection>>();
  const connect = async (twinId: string): Promise<void> => {
    const pending = o.link.openDevice(twinId, handlerFor(twinId));
    opening.set(twinId, pending);
    let c: DeviceConnection;
    try {
      c = await pending;
    } finally {
      if (opening.get(twinId) === pending) opening.delete(twinId);
    }
    if (closed || offline.has(twinId)) {
      c.drop();
      return;
    }
    connections.set(twinId, c);
  };

  return {
    owned,
    async open() {
      if (shared) {
        await o.link.receiveControl(sharedHandler);
        o.log.info(
          `Simulator: ${sorted.length - owned.size} twin(s) beyond the ${cap} device connections share the simulator's connection (no presence of their own).`,
        );
      }
      await forEachLimited([...owned], concurrency, (id) =>
        connect(id).catch((e: unknown) =>
          o.log.warn(
            `Simulator: the device connection of ${id} could not be opened: ${(e as Error).message}`,
          ),
        ),
      );
    },
    isOffline: (twinId) => offline.has(twinId),
    offline: () => [...offline].sort(),
    connectedCount: () => {
      let n = 0;
      for (const c of connections.values()) if (c.connected) n++;
      return n;
    },
    reply(twinId, r) {
      const opts = { ...(r.correlationData ? { correlationData: r.correlationData } : {}) };
      const c = connections.get(twinId);
      if (c) return c.publish(r.topic, r.payload, opts);
      const pending = opening.get(twinId);
      if (pending) return pending.then((p) => p.publish(r.topic, r.payload, opts));
      if (owned.has(twinId))
        return Promise.reject(new Error(`the device connection of ${twinId} is not open`));
      return o.link.publishControl(r.topic, r.payload, opts);
    },
    setOffline(twinId, off) {
      if (!owned.has(twinId))
        return Promise.reject(
          new TwinloopError(
            'BadRequest',
            `Simulated twin '${twinId}' has no device connection of its own (the simulator opens at most ${cap}; the others share one): it cannot go offline alone.`,
          ),
        );
      const run = async (): Promise<void> => {
        if (closed) throw new TwinloopError('ServiceUnavailable', 'The device simulator is stopping.');
        if (off) {
          if (offline.has(twinId)) return;
          offline.add(twinId);
          connections.get(twinId)?.drop();
          connections.delete(twinId);
          o.log.info(`Simulator: ${twinId} is offline (connection cut; its will tells the platform).`);
          return;
        }
        if (!offline.has(twinId)) return;
        offline.delete(twinId);
        await connect(twinId);
        o.log.info(`Simulator: ${twinId} is online again.`);
      };
      const p = (switching.get(twinId) ?? Promise.resolve()).then(run, run);
      switching.set(twinId, p);
      return p;
    },
    async close() {
      closed = true;
      await Promise.allSettled(switching.values());
      await forEachLimited([...connections.values()], concurrency, (c) => c.close());
      connections.clear();
    },
  };
}
