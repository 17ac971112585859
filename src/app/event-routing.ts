/**
 * Wiring of event routes (docs/event-routes.md), called by the composition root: the route service
 * (journal) on the storage's outbox, the delivery engine with one sender per endpoint, the metrics,
 * and the HTTP plugin. Start after storage and before the services write; `start()` begins
 * delivering (after the connectors are up); `stop()` before storage closes.
 *
 * Several nodes on one store (a cluster on PostgreSQL): every node journals its own writes into the
 * one outbox, but only the holder of the `event-routes` lease delivers (core/cluster/lease-holder.ts;
 * another node takes over within about ttl + a try's interval when it dies, at its next try when it
 * stops). Why a lease rather than each node claiming rows (`FOR UPDATE SKIP LOCKED`): the order per
 * twin per endpoint needs one reader of a twin's queue at a time; claiming rows would need a claim
 * per (endpoint, twin) kept across batches and retries, and every node would page through the
 * others' claims. One reader by seq keeps the engine as it is, and one node's sends (concurrent per
 * endpoint, batched) are not the limit. A node that loses the lease stops its engine (sends in
 * flight finish, their acknowledgements are written); a successor reads every unacknowledged row
 * from the start, so a handover never loses an event and, after a clean stop, repeats none.
 */
import crypto from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { LeaseHolder } from '../core/cluster/lease-holder.js';
import { DeliveryEngine, type DeliveryObserver } from '../core/events/delivery-engine.js';
import { EventRouteService, type ConfiguredEndpoint } from '../core/events/event-route-service.js';
import type { EndpointSpec } from '../core/events/endpoint-spec.js';
import { checkEndpoint } from '../core/events/endpoint-spec.js';
import type { TwinRecord } from '../core/graph/graph-types.js';
import type { DeviceChannel } from '../core/ports/device-channel.js';
import type { EndpointSender } from '../core/ports/event-routing.js';
import { eventRoutesPlugin } from '../adapters/http/event-routes-plugin.js';
import { WebhookSender } from '../adapters/http/webhook-sender.js';
import { EmailRouteSender } from '../adapters/email/email-route-sender.js';
import { registerRouteMetrics } from '../adapters/metrics/prometheus-route-metrics.js';
import { MqttRouteSender } from '../adapters/mqtt/mqtt-route-sender.js';
import { NatsRouteSender } from '../adapters/nats/nats-route-sender.js';
import type { Storage } from '../core/ports/storage.js';
import type { TwinloopConfig } from './config.js';

/** The lease name of the delivery: one node of a cluster delivers at a time. */
export const DELIVERY_LEASE = 'event-routes';

export interface EventRouting {
  service: EventRouteService;
  /** True while this node delivers (always on a store of its own; the lease holder on a shared one). */
  delivering(): boolean;
  plugin: ReturnType<typeof eventRoutesPlugin>;
  /** Gives the MQTT endpoints the platform's broker connection (once it is up). */
  setChannel(channel: DeviceChannel): void;
  /** Starts delivering (what a previous run left first). */
  start(): void;
  stop(): Promise<void>;
}

export async function createEventRouting(o: {
  config: Readonly<TwinloopConfig['eventRoutes']>;
  storage: Storage;
  metrics: Registry;
  logger: Logger;
  isComponent: (twin: TwinRecord, name: string) => boolean;
  /** The delivery lease on a shared store (default ttl 5 s, a try every second). */
  lease?: { ttlMs: number; everyMs: number };
  /** Told after a route or endpoint was changed through this node (a cluster tells the others). */
  onRoutesChanged?: () => void;
}): Promise<EventRouting> {
  const cfg = o.config;
  const log = o.logger.child({ component: 'event-routes' });
  let channel: DeviceChannel | undefined;
  const senders = new Map<string, { key: string; sender: EndpointSender }>();
  const ref: { engine?: DeliveryEngine } = {};
  let nudgeQueued = false;
  const nudge = () => {
    // After the write's transaction: one read per turn, however many writes it held.
    if (nudgeQueued) return;
    nudgeQueued = true;
    setImmediate(() => {
      nudgeQueued = false;
      ref.engine?.nudge();
    });
  };

  const service: EventRouteService = await createRouteJournal({
    config: cfg,
    storage: o.storage,
    isComponent: o.isComponent,
    onRecorded: nudge,
    onEndpointsChanged: () => {
      // Senders are rebuilt lazily when an endpoint's settings changed.
      for (const [name, s] of senders) {
        const e = service.endpointFor(name);
        if (!e || senderKey(e) !== s.key) {
          senders.delete(name);
          void s.sender.close();
        }
      }
    },
    ...(o.onRoutesChanged ? { onChanged: o.onRoutesChanged } : {}),
  });

  const build = (e: ConfiguredEndpoint): EndpointSender => {
    const spec: EndpointSpec = e.spec;
    if (spec.type === 'webhook')
      return new WebhookSender({
        url: spec.url,
        mode: spec.mode,
        ...(spec.authHeader ? { authHeader: spec.authHeader } : {}),
        ...(e.secret !== undefined ? { secret: e.secret } : {}),
        ...(spec.maxEventsPerBatch ? { maxEventsPerBatch: spec.maxEventsPerBatch } : {}),
        timeoutMs: cfg.timeoutMs,
        maxSockets: cfg.concurrency,
      });
    if (spec.type === 'mqtt')
      return new MqttRouteSender({
        topic: spec.topic,
        ...(spec.url
          ? { url: spec.url }
          : { channel: { publish: (t, p, opt) => requireChannel().publish(t, p, opt) } }),
        timeoutMs: cfg.timeoutMs,
      });
    if (spec.type === 'email')
      return new EmailRouteSender({
        url: spec.url,
        from: spec.from,
        to: spec.to,
        ...(spec.authUser !== undefined ? { authUser: spec.authUser } : {}),
        ...(e.secret !== undefined ? { secret: e.secret } : {}),
        timeoutMs: cfg.timeoutMs,
      });
    return new NatsRouteSender({
      url: spec.url ?? cfg.natsUrl ?? 'nats://127.0.0.1:4222',
      subject: spec.subject,
      jetstream: spec.jetstream,
      timeoutMs: cfg.timeoutMs,
    });
  };
  const requireChannel = (): DeviceChannel => {
    if (!channel) throw new Error('the broker connection is not up yet');
    return channel;
  };
  const senderFor = (name: string): EndpointSender | undefined => {
    const hit = senders.get(name);
    if (hit) return hit.sender;
    const e = service.endpointFor(name);
    if (!e) return undefined;
    const s = { key: senderKey(e), sender: build(e) };
    senders.set(name, s);
    return s.sender;
  };

  const observer: DeliveryObserver = registerRouteMetrics(o.metrics, {
    backlog: () => o.storage.outbox.backlog(),
    down: () => new Map([...(ref.engine?.stats() ?? new Map())].map(([k, v]) => [k, v.down])),
    delivering: () => ref.engine !== undefined,
  });
  let lastStorageLog = 0;
  const clock = {
    now: Date.now,
    setTimeout: (fn: () => void, ms: number) => {
      const t = setTimeout(fn, ms);
      t.unref();
      return () => clearTimeout(t);
    },
  };
  const newEngine = () =>
    new DeliveryEngine({
      outbox: o.storage.outbox,
      sender: senderFor,
      clock,
      options: {
        maxAttempts: cfg.maxAttempts,
        ttlMs: cfg.ttlSeconds * 1000,
        initialBackoffMs: cfg.initialBackoffMs,
        maxBackoffMs: cfg.maxBackoffMs,
        concurrency: cfg.concurrency,
      },
      observer: {
        ...observer,
        // Never the event or the request: they may hold secrets (an auth header) or much data.
        deadLettered: (endpoint, reason) => {
          observer.deadLettered?.(endpoint, reason);
          log.warn({ endpoint, reason }, 'an event went to the dead letters');
        },
        endpointDown: (endpoint, reason) => log.warn({ endpoint, reason }, 'an endpoint is down: probing it'),
        endpointUp: (endpoint) => log.info({ endpoint }, 'the endpoint is back'),
        storageError: (err) => {
          if (Date.now() - lastStorageLog < 10_000) return;
          lastStorageLog = Date.now();
          log.error({ err }, 'event routes: the outbox could not be read or written (retrying)');
        },
      },
    });
  /** Begins delivering: what is pending, from the start of the outbox. */
  const deliver = () => {
    const eng = newEngine();
    ref.engine = eng;
    eng.start();
  };
  /** Stops delivering: sends in flight finish and their acknowledgements are written. */
  const halt = async () => {
    const eng = ref.engine;
    ref.engine = undefined;
    await eng?.stop();
  };
  const leases = o.storage.clusterLeases;
  const holder = leases
    ? new LeaseHolder({
        leases,
        name: DELIVERY_LEASE,
        owner: `${hostname()}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`,
        ttlMs: o.lease?.ttlMs ?? 5000,
        everyMs: o.lease?.everyMs ?? 1000,
        clock,
        onAcquired: deliver,
        onLost: halt,
        log: (level, message, fields) => log[level](fields ?? {}, message),
      })
    : undefined;
  // Telemetry rows commit inside the history group commit: read them once it is done.
  o.storage.outbox.onHistoryRows = nudge;
  // A safety net: whatever commits without a nudge is read within a second (on a cluster, the rows
  // other nodes commit too).
  const poll = setInterval(() => ref.engine?.nudge(), 1000);
  poll.unref();

  let started = false;
  return {
    service,
    delivering: () => ref.engine !== undefined,
    plugin: eventRoutesPlugin({
      routes: service,
      outbox: o.storage.outbox,
      status: (name) => {
        const s = ref.engine?.stats().get(name);
        return s
          ? { down: s.down, inFlight: s.inFlight, ...(s.lastError ? { lastError: s.lastError } : {}) }
          : undefined;
      },
      onReplayed: () => ref.engine?.nudge(),
    }),
    setChannel: (c) => {
      channel = c;
    },
    start: () => {
      if (started) return;
      started = true;
      if (holder) holder.start();
      else deliver();
    },
    stop: async () => {
      clearInterval(poll);
      o.storage.outbox.onHistoryRows = undefined;
      // The lease is released once the engine stopped: a successor repeats nothing.
      if (holder) await holder.stop();
      else await halt();
      await Promise.allSettled([...senders.values()].map((s) => s.sender.close()));
      senders.clear();
    },
  };
}

/**
 * The route service alone, loaded: the journal that turns writes into outbox rows with the routes
 * of the config file and the store. An ingest worker of a cluster needs only this (the api nodes
 * deliver); createEventRouting builds the rest around it.
 */
export async function createRouteJournal(o: {
  config: Readonly<TwinloopConfig['eventRoutes']>;
  storage: Pick<Storage, 'eventRoutes' | 'outbox'>;
  isComponent: (twin: TwinRecord, name: string) => boolean;
  onRecorded?: () => void;
  onEndpointsChanged?: () => void;
  onChanged?: () => void;
}): Promise<EventRouteService> {
  const cfg = o.config;
  const configured: ConfiguredEndpoint[] = cfg.endpoints.map((e) => {
    const c = checkEndpoint(e);
    if ('problems' in c) throw new Error('config endpoints are checked by resolveConfig'); // unreachable
    return { name: e.name as string, spec: c.spec, ...(c.secret !== undefined ? { secret: c.secret } : {}) };
  });
  const service = new EventRouteService({
    store: o.storage.eventRoutes,
    source: cfg.source ?? hostname(),
    endpoints: configured,
    routes: cfg.routes,
    maxRoutes: cfg.maxRoutes,
    maxEndpoints: cfg.maxEndpoints,
    isComponent: o.isComponent,
    ...(o.onRecorded ? { onRecorded: o.onRecorded } : {}),
    ...(o.onEndpointsChanged ? { onEndpointsChanged: o.onEndpointsChanged } : {}),
    ...(o.onChanged ? { onChanged: o.onChanged } : {}),
  });
  await service.load();
  return service;
}

function senderKey(e: ConfiguredEndpoint): string {
  return JSON.stringify([e.spec, e.secret ?? null]);
}
