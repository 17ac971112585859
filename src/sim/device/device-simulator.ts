/**
 * The device simulator: plays a pilot's behaviour models (`behaviours/*.yaml`) for every twin of
 * their interface and publishes the readings over MQTT exactly as a real device would (QoS 1 to
 * `twins/{twinId}/telemetry`, JSON with `$ts`), so the platform cannot tell them from real pumps.
 * Used by `twinloop start` (in-process, after MQTT and HTTP are up) and `twinloop simulate`.
 * Like a device, it subscribes to its twins' commands and desired state and reacts to them.
 * The connection is a port (core/ports/simulator-link.ts): the MQTT client that implements it is
 * src/adapters/mqtt/mqtt-simulator-publisher.ts (`startMqttSimulator` composes the two).
 *
 * Time: one fleet runner per behaviour, simulated time from t0 = 0 on a real clock at `speed`
 * simulated seconds per wall second. A sample at simulated time t is stamped
 * `$ts = wallStart + (t − t0)·1000/speed`: the wall time at which it falls due, so history lines
 * up with the wall clock whatever the speed (at speed 600, ten simulated minutes fill one second).
 *
 * Devices: each simulated twin has its own device connection (simulator-devices.ts: client id =
 * twin id, last will and `connected` on `twins/{id}/connection`), on which it gets its commands and
 * desired state and answers them as the control contract says (device-control.ts): a command
 * answered on its response topic, desired state reported with `$ack`. Telemetry stays on the one
 * shared connection (a publish per reading set, whoever's). `connection(twin, 'offline')` cuts a
 * twin's connection (its will goes out) and stops its telemetry until `'online'`.
 *
 * Hand-over: a reading of a simulated twin that another client sends (by HTTP or MQTT: any reading
 * the simulator did not publish itself, seen on the live event bus) wins. The simulator stops
 * publishing those telemetry names for that twin for `handOverMs` of wall time (default 10 min), so
 * a value sent by hand stays the twin's latest value; its other telemetry goes on. Acting on the
 * simulated device (a command to it, or `fault()`) hands the twin back to the simulator at once.
 */
import { parseDeviceTopic } from '../../core/control/device-topics.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { LiveListener } from '../../core/live/live-events.js';
import type { SimulatorLink } from '../../core/ports/simulator-link.js';
import { encodeLevel } from '../../core/telemetry/topic-scheme.js';
import type { BehaviourCatalog } from '../behaviour/behaviour-catalog.js';
import type { CompiledBehaviour } from '../behaviour/compile-behaviour.js';
import { createRealClock } from '../runner/clock.js';
import {
  createFleetRunner,
  type AssetSnapshot,
  type FleetRunner,
  type ReadingSet,
  type RelationshipWiring,
} from '../runner/fleet-runner.js';
import type { ScenarioSpec } from '../scenario/scenario-types.js';
import { resolveScenarioEvents, scheduleScenarioEvent } from '../scenario/scenario-events.js';
import { handOverState, type HandOver } from './simulator-hand-over.js';
import { createDeviceControl, type ControlReply, type DesiredOutcome } from './device-control.js';
import { simulatorDevices } from './simulator-devices.js';
import type { ControlMessageProperties } from '../../core/ports/simulator-link.js';

export { DEFAULT_HAND_OVER_MS, type HandOver } from './simulator-hand-over.js';

export interface SimulatorLogger {
  info(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
  error(msg: string, meta?: Record<string, unknown>): void;
}

/** A twin to simulate: the behaviour is the catalog's for its model. */
export interface SimulatorTwin {
  id: string;
  modelId: string;
}

/** What simulated devices read of the world besides their own model: the twins they are wired to. */
export interface SimulatorWorld {
  /** A twin's property value (for `property` inputs' starting values), undefined when unset. */
  property(twinId: string, name: string): unknown;
  /** Ids at the other end of a twin's relationships called `relationship`. */
  related(twinId: string, relationship: string, direction: 'outgoing' | 'incoming'): string[];
  /** A twin's latest telemetry or property value by name (twins this simulator does not play). */
  latest(twinId: string, name: string): unknown;
}

export interface SimulatorOptions {
  /** Pilot name or path (for messages). */
  pilot: string;
  /** The behaviours to play, by the models they simulate. */
  catalog: BehaviourCatalog;
  /** The twins to simulate: every one whose model has a behaviour in the catalog is an asset. */
  twins: Iterable<SimulatorTwin>;
  /** Relationship and property inputs read from here (none: inputs keep their defaults). */
  world?: SimulatorWorld;
  /** The pilot's scenario: default sample interval and seed, and timed events (docs/pilots.md). */
  scenario?: ScenarioSpec;
  /**
   * Opens the connection the readings go out on (called once the options are checked, so a bad
   * speed or an empty catalog fails before anything connects).
   * @throws TwinloopError ServiceUnavailable when nothing answers.
   */
  connect: () => Promise<SimulatorLink>;
  /** Simulated seconds per wall second (default 1). */
  speed?: number;
  /** Seed of the parameter variation and the sensor noise (default 1). */
  seed?: number;
  /** Simulated seconds between two readings of one asset (default 10). */
  sampleInterval?: number;
  /** Simulated seconds between two reads of relationship inputs (default: every sample). */
  relationshipInterval?: number;
  logger?: SimulatorLogger;
  /**
   * The platform's committed events: readings of simulated twins that the simulator did not send
   * (a person or another client) take the twin's telemetry of that name over for `handOverMs`.
   * Absent (`twinloop simulate`): the simulator never yields.
   */
  live?: { subscribe(listener: LiveListener): () => void };
  /** How long a reading sent by someone else keeps the simulator off that telemetry (default 10 min). */
  handOverMs?: number;
  /** Wall clock for hand-over expiry (default Date.now; tests). */
  now?: () => number;
  /**
   * Most twins given a device connection of their own (default 1000, the first by id); the others
   * get and answer their commands and desired state on the shared connection, without presence.
   */
  deviceConnections?: number;
  /** Device connections opened at the same time (default 16). */
  connectConcurrency?: number;
  /**
   * The response payload a simulated device answers a command it applied with (e.g. built from the
   * DTDL command's response schema); absent or undefined: the answer has none.
   */
  commandResponse?: (twinId: string, command: string, request: unknown) => unknown;
  /**
   * True for a read-only property of the twin's model: the behaviour's value of it is reported with
   * desired state. Absent: none is (a writable one is reported only once applied).
   */
  readOnlyProperty?: (twinId: string, name: string) => boolean;
}

export interface SimulatorStats {
  assets: number;
  /** Reading sets acknowledged by the broker (QoS 1 PUBACK). */
  published: number;
  /** Publishes that failed (logged). */
  failed: number;
  /** Reading sets not sent because the broker was unreachable at the time. */
  skipped: number;
  /** Commands received for simulated twins and applied. */
  commands: number;
  /** Commands or desired-state messages that could not be applied (logged). */
  rejected: number;
  /** Desired-state documents applied to property inputs. */
  desired: number;
  /** Simulated seconds since the start (the slowest runner). */
  simulatedSeconds: number;
  /** Twins with telemetry handed over to another client right now (see `handedOver`). */
  handedOver: number;
  /** Answers and reports that could not be published (logged). */
  unanswered: number;
  /** Device connections up now. */
  deviceConnections: number;
  /** Twins taken offline by hand (see `offline`). */
  offline: number;
}

export interface Simulator {
  readonly pilot: string;
  /** Simulated assets per behaviour, e.g. [{ behaviour: 'pump-line-pump', interface: 'dtmi:…', assets: 7 }]. */
  readonly fleets: readonly { behaviour: string; interface: string; assets: number }[];
  readonly speed: number;
  /** True when the twin is one of the simulated assets. */
  simulates(twinId: string): boolean;
  /** The simulated time (s) a wall-clock time (ms since epoch) corresponds to. */
  simTime(wallMs: number): number;
  /**
   * Switches a fault of a simulated device on or off now (what a scenario's events do at a time).
   * @throws TwinloopError NotFound (not a simulated twin), BadRequest (no such fault; lists them).
   */
  fault(twinId: string, fault: string, on: boolean): { behaviour: string; simulatedTime: number };
  /**
   * Takes a simulated device offline (its connection cut abruptly: the broker publishes its will;
   * no telemetry) or back online (reconnected, subscribed, `connected`; telemetry resumes).
   * @throws TwinloopError NotFound (not a simulated twin), BadRequest (a twin beyond the
   *   device-connection cap, which has no connection of its own).
   */
  connection(
    twinId: string,
    state: 'offline' | 'online',
  ): Promise<{ twinId: string; state: 'offline' | 'online' }>;
  /** Twins taken offline by hand, sorted. */
  offline(): string[];
  /** The simulated device's whole state now (a what-if fork point); undefined when not simulated. */
  snapshot(twinId: string): AssetSnapshot | undefined;
  /** The twin's telemetry currently left to another client (empty: the simulator publishes it all). */
  handedOver(twinId: string): HandOver[];
  stats(): SimulatorStats;
  /** Stops the runners, then waits for in-flight publishes and disconnects. Idempotent. */
  stop(): Promise<void>;
}

const silent: SimulatorLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The topic level of a twin id, percent-encoded as docs/mqtt.md says. */
export const encodeTopicLevel = encodeLevel;

interface Fleet {
  source: string;
  interfaceId: string;
  model: CompiledBehaviour;
  assetIds: string[];
}

/** Groups the twins by the behaviour that simulates them (each twin in exactly one fleet). */
function fleetsOf(o: SimulatorOptions, simulated: SimulatorTwin[]): Fleet[] {
  const byInterface = new Map<string, Fleet>();
  for (const t of o.twins) {
    const entry = o.catalog.forModel(t.modelId);
    if (!entry) continue;
    simulated.push(t);
    let f = byInterface.get(entry.interfaceId);
    if (!f) {
      f = { source: entry.source, interfaceId: entry.interfaceId, model: entry.model, assetIds: [] };
      byInterface.set(entry.interfaceId, f);
    }
    f.assetIds.push(t.id);
  }
  for (const f of byInterface.values()) f.assetIds.sort();
  const order = o.catalog.list().map((e) => e.interfaceId); // the catalog's (file) order
  return [...byInterface.values()].sort(
    (a, b) => order.indexOf(a.interfaceId) - order.indexOf(b.interfaceId),
  );
}

const asNumber = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'boolean' ? (v ? 1 : 0) : undefined;

/**
 * Connects to the broker and starts simulating every twin whose model has a behaviour: readings
 * published as a device would, commands (`twins/{id}/commands/{name}`) and desired state
 * (`twins/{id}/desired`) received as a device would, relationship inputs read from the twins
 * they are wired to (the simulator's own latest readings for simulated ones, else the world's).
 * @throws TwinloopError InvalidConfig for a bad speed, NotFound when nothing is to be simulated,
 *   ServiceUnavailable when the broker is unreachable.
 */
export async function startSimulator(o: SimulatorOptions): Promise<Simulator> {
  const log = o.logger ?? silent;
  const speed = o.speed ?? 1;
  if (!(Number.isFinite(speed) && speed > 0))
    throw new TwinloopError('InvalidConfig', `Simulation speed must be a number > 0, got ${String(speed)}.`);
  const sampleInterval = o.sampleInterval ?? o.scenario?.simulation.sampleInterval ?? 10;
  const seed = o.seed ?? o.scenario?.simulation.seed ?? 1;
  if (o.catalog.size === 0)
    throw new TwinloopError('NotFound', `Pilot ${o.pilot} has no behaviours/ folder: nothing to simulate.`);
  const simulated: SimulatorTwin[] = [];
  const fleets = fleetsOf(o, simulated);
  for (const e of o.catalog.list())
    if (!fleets.some((f) => f.interfaceId === e.interfaceId))
      log.warn(`Simulator: no twins of ${e.interfaceId} to simulate (${e.source}).`);

  const link = await o.connect();
  const stats = {
    published: 0,
    failed: 0,
    skipped: 0,
    commands: 0,
    rejected: 0,
    desired: 0,
    unanswered: 0,
  };
  let lastFailLog = 0;

  const t0 = 0;
  const wallStart = Date.now();
  const clock = createRealClock({ now: Date.now, setTimeout, clearTimeout });
  /** Latest values each simulated asset published (relationship inputs read them). */
  const lastValues = new Map<string, Record<string, number | boolean>>();
  const hand = handOverState({ ...o, log });
  // Asked once per twin and name (a model does not change under a running simulator).
  const readOnlyAnswers = new Map<string, boolean>();
  const readOnly =
    o.readOnlyProperty &&
    ((twinId: string, name: string): boolean => {
      const key = `${twinId}\u0000${name}`;
      let v = readOnlyAnswers.get(key);
      if (v === undefined) readOnlyAnswers.set(key, (v = o.readOnlyProperty?.(twinId, name) ?? false));
      return v;
    });
  /** Read-only properties each simulated asset measured last (reported with desired state). */
  const lastProperties = new Map<string, Record<string, number | boolean>>();
  const publish = (r: ReadingSet): void => {
    const values = hand.filter(r.assetId, r.values);
    lastValues.set(r.assetId, { ...lastValues.get(r.assetId), ...r.properties, ...values });
    if (readOnly) {
      let props: Record<string, number | boolean> | undefined;
      for (const [k, v] of Object.entries(r.properties)) if (readOnly(r.assetId, k)) (props ??= {})[k] = v;
      if (props) lastProperties.set(r.assetId, props);
    }
    if (devices.isOffline(r.assetId)) return; // a device off the network sends nothing
    const keys = Object.keys(values);
    if (keys.length === 0) return; // everything dropped out: a real device sends nothing either
    if (!link.connected) {
      stats.skipped++;
      return;
    }
    const $ts = Math.round(wallStart + ((r.time - t0) * 1000) / speed);
    hand.stamped(r.assetId, $ts, keys);
    const payload = JSON.stringify({ ...values, $ts });
    link.publishTelemetry(r.assetId, payload).then(
      () => {
        stats.published++;
      },
      (err: unknown) => {
        stats.failed++;
        if (Date.now() - lastFailLog > 10_000) {
          lastFailLog = Date.now();
          log.warn(
            `Simulator: publishing for ${r.assetId} failed: ${(err as Error).message} (${stats.failed} failed so far).`,
          );
        }
      },
    );
  };

  const world = o.world;
  const wiring: RelationshipWiring | undefined = world
    ? (assetId, input) => {
        const src = input.source;
        if (src.kind !== 'relationship') return [];
        const values: number[] = [];
        for (const id of world.related(assetId, src.relationship, src.direction)) {
          const v = asNumber(lastValues.get(id)?.[src.source] ?? world.latest(id, src.source));
          if (v !== undefined) values.push(v);
        }
        return values;
      }
    : undefined;

  const runnerOf = new Map<string, { runner: FleetRunner; model: CompiledBehaviour }>();
  const fleetOf = new Map<string, string>();
  const runners: FleetRunner[] = [];
  try {
    for (const f of fleets) {
      const runner = createFleetRunner({
        model: f.model,
        assets: f.assetIds.map((id) => ({ id })),
        t0,
        tick: 1,
        sampleInterval,
        seed,
        variation: variationFor(f.model),
        sink: publish,
        clock,
        speed,
        ...(wiring && f.model.relationshipInputs.length
          ? {
              relationships: wiring,
              relationshipEvery: Math.max(1, Math.round(o.relationshipInterval ?? sampleInterval)),
            }
          : {}),
        // Coarse wall steps: a timer per tick at speed 600 would be 600 wake-ups a second for nothing.
        timerMs: Math.max(50, Math.min(1000, (sampleInterval * 1000) / speed)),
        onError: (e) => log.error(`Simulator: ${f.source} stopped: ${(e as Error).message}`),
      });
      runners.push(runner);
      for (const id of f.assetIds) {
        runnerOf.set(id, { runner, model: f.model });
        fleetOf.set(id, f.interfaceId);
      }
      // Property inputs start from the twin's own property, as a device configured by the platform.
      if (world)
        for (const input of f.model.spec.inputs) {
          if (input.source.kind !== 'property') continue;
          for (const id of f.assetIds) {
            const v = asNumber(world.property(id, input.source.property));
            if (v !== undefined) runner.setInput(id, input.name, v);
          }
        }
    }
  } catch (e) {
    link.abort();
    throw e;
  }

  // The scenario's events, at their simulated times (checked now: a bad one stops the start).
  // Model events (`model:` instead of `twin:`) become one event per simulated twin of that model.
  const events = o.scenario
    ? resolveScenarioEvents(o.scenario, simulated, (m, b) => o.catalog.isOfModel(m, b))
    : [];
  for (const e of events) {
    const at = `${o.pilot}/scenario.yaml:${e.loc.line}:${e.loc.column}`;
    const sim = runnerOf.get(e.twin);
    if (!sim) {
      log.warn(`Simulator: ${at}: twin '${e.twin}' is not simulated; its event is skipped.`);
      continue;
    }
    try {
      scheduleScenarioEvent(sim.runner, e);
    } catch (err) {
      link.abort();
      throw new TwinloopError('ValidationFailed', `Scenario event at ${at}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  // Readings of simulated twins sent by someone else take that telemetry over for a while.
  const telemetryNames = new Map(
    fleets.map((f) => [f.interfaceId, new Set(f.model.spec.telemetry.map((m) => m.name))]),
  );
  const offLive = o.live?.subscribe((events) => {
    for (const e of events) {
      if (e.type !== 'telemetry' || e.component !== undefined || !runnerOf.has(e.twinId)) continue;
      const names = telemetryNames.get(fleetOf.get(e.twinId) ?? '');
      const repeat = hand.seen(e.twinId, e.time, e.values, names, (name, v) => {
        const n = asNumber(v);
        if (n !== undefined) lastValues.set(e.twinId, { ...lastValues.get(e.twinId), [name]: n });
      });
      // A simulated reading crossed the one sent in flight: repeat the sent values once after it,
      // so that what was sent stands as the latest (in the graph and at the top of history).
      if (repeat && link.connected) {
        const $ts = repeat.repeatAfter + 1;
        const values = Object.fromEntries(repeat.names.map((n) => [n, e.values[n]]));
        hand.stamped(e.twinId, $ts, repeat.names);
        // Best effort, as the repeat always was: a lost one leaves the simulated value latest.
        link.publishTelemetry(e.twinId, JSON.stringify({ ...values, $ts })).catch(() => undefined);
      }
    }
  });

  let lastRejectLog = 0;
  const logLimited = (msg: string): void => {
    // A flood of bad messages is counted, and logged at most once a second.
    if (Date.now() - lastRejectLog < 1000) return;
    lastRejectLog = Date.now();
    log.warn(msg);
  };
  const control = createDeviceControl({
    ...(o.commandResponse ? { respond: o.commandResponse } : {}),
    reject: (twinId, what, why) => {
      stats.rejected++;
      logLimited(
        `Simulator: ${twinId} ignored a ${what} message it cannot answer: ${why} (${stats.rejected} rejected so far).`,
      );
    },
  });
  const send = (twinId: string, reply: ControlReply): void => {
    devices.reply(twinId, reply).catch((err: unknown) => {
      stats.unanswered++;
      logLimited(`Simulator: ${twinId} could not publish on ${reply.topic}: ${(err as Error).message}`);
    });
  };

  /** Applies a desired-state document's values: property inputs set, other values kept as they are. */
  const applyDesired = (
    sim: { runner: FleetRunner; model: CompiledBehaviour },
    twinId: string,
    desired: Record<string, unknown>,
  ): DesiredOutcome => {
    const applied: Record<string, unknown> = {};
    const refused: Record<string, string> = {};
    const inputs = sim.model.spec.inputs.filter((i) => i.source.kind === 'property');
    for (const [name, value] of Object.entries(desired)) {
      const bound = inputs.filter((i) => i.source.kind === 'property' && i.source.property === name);
      if (!bound.length) {
        applied[name] = value; // a setting this behaviour does not use: the device keeps it
        continue;
      }
      const v = asNumber(value);
      if (v === undefined) {
        refused[name] =
          `the simulated device needs a number or a boolean, got ${JSON.stringify(value)?.slice(0, 80) ?? typeof value}`;
        continue;
      }
      for (const input of bound) sim.runner.setInput(twinId, input.name, v);
      applied[name] = value;
    }
    return { applied, refused };
  };

  const onControl = (topic: string, payload: Uint8Array, props: ControlMessageProperties): void => {
    const target = parseDeviceTopic(topic);
    if (!target) return;
    const sim = runnerOf.get(target.twinId);
    if (!sim) return; // a twin this simulator does not play
    const twinId = target.twinId;
    // On an external broker anyone may publish here: everything is read as untrusted input.
    try {
      if (target.kind === 'command') {
        hand.giveBack(twinId, `command ${target.command}`);
        const r = control.command(twinId, target.command, payload, props, (request) => {
          sim.runner.command(twinId, target.command, request);
        });
        if (!r) return;
        if (r.applied) {
          stats.commands++;
          log.info(`Simulator: ${twinId} received command ${target.command}.`);
        } else if (r.status !== 200) {
          stats.rejected++;
          logLimited(
            `Simulator: ${twinId} refused command ${target.command}: ${r.reply.payload.slice(0, 300)}`,
          );
        }
        send(twinId, r.reply);
        return;
      }
      if (target.kind !== 'desired') return;
      const r = control.desired(
        twinId,
        payload,
        (desired) => applyDesired(sim, twinId, desired),
        lastProperties.get(twinId) ?? {},
      );
      if (!r) return;
      if (Object.keys(r.outcome.refused).length) {
        stats.rejected++;
        logLimited(
          `Simulator: ${twinId} could not apply all of its desired state: ${r.reply.payload.slice(0, 300)}`,
        );
      }
      if (Object.keys(r.outcome.applied).length) stats.desired++;
      send(twinId, r.reply);
    } catch (e) {
      // Never let one message stop the others (the MQTT client's handler must not throw).
      stats.rejected++;
      logLimited(`Simulator: ${twinId} cannot handle ${topic}: ${(e as Error).message}`);
    }
  };
  const devices = simulatorDevices({
    link,
    twinIds: simulated.map((t) => t.id),
    ...(o.deviceConnections !== undefined ? { cap: o.deviceConnections } : {}),
    ...(o.connectConcurrency !== undefined ? { concurrency: o.connectConcurrency } : {}),
    onControl,
    log,
  });
  try {
    await devices.open();
  } catch (e) {
    link.abort();
    throw e;
  }
  for (const r of runners) r.start();

  let stopped: Promise<void> | undefined;
  return {
    pilot: o.pilot,
    fleets: fleets.map((f) => ({
      behaviour: f.model.spec.behaviour,
      interface: f.interfaceId,
      assets: f.assetIds.length,
    })),
    speed,
    simulates: (twinId) => runnerOf.has(twinId),
    simTime: (wallMs) => t0 + ((wallMs - wallStart) / 1000) * speed,
    snapshot: (twinId) => runnerOf.get(twinId)?.runner.snapshot(twinId),
    handedOver: (twinId) => hand.list(twinId),
    fault(twinId, fault, on) {
      const sim = runnerOf.get(twinId);
      if (!sim) throw new TwinloopError('NotFound', `Twin '${twinId}' is not simulated.`);
      const faults = sim.model.layout.faults;
      if (!faults.includes(fault))
        throw new TwinloopError(
          'BadRequest',
          `Behaviour '${sim.model.spec.behaviour}' of '${twinId}' has no fault '${fault}'${faults.length ? ` (it has: ${faults.join(', ')})` : ''}.`,
        );
      if (on) sim.runner.activateFault(twinId, fault);
      else sim.runner.deactivateFault(twinId, fault);
      hand.giveBack(twinId, `fault ${fault}`);
      log.info(`Simulator: fault ${fault} ${on ? 'on' : 'off'} for ${twinId}.`);
      return { behaviour: sim.model.spec.behaviour, simulatedTime: sim.runner.t };
    },
    async connection(twinId, state) {
      if (!runnerOf.has(twinId))
        throw new TwinloopError(
          'NotFound',
          `Twin '${twinId}' is not simulated (no behaviour of its model, or created after the simulator started).`,
        );
      await devices.setOffline(twinId, state === 'offline');
      if (state === 'online') hand.giveBack(twinId, 'back online');
      return { twinId, state };
    },
    offline: () => devices.offline(),
    stats: () => ({
      assets: fleets.reduce((n, f) => n + f.assetIds.length, 0),
      ...stats,
      handedOver: hand.twins(),
      deviceConnections: devices.connectedCount(),
      offline: devices.offline().length,
      simulatedSeconds: runners.length ? Math.min(...runners.map((r) => r.t)) - t0 : 0,
    }),
    stop: () =>
      (stopped ??= (async () => {
        offLive?.();
        for (const r of runners) {
          r.stop();
          r.close();
        }
        await devices.close();
        // Waits for in-flight acknowledgements, but never hangs a shutdown on a vanished broker.
        await link.close();
      })()),
  };
}

/** A little spread between assets of one fleet, on the parameters the behaviour actually has. */
function variationFor(model: { layout: { parameters: readonly string[] } }): Record<string, number> {
  const wanted: Record<string, number> = { wearRate: 0.2, frictionLoss: 0.1, baseVibration: 0.1 };
  return Object.fromEntries(Object.entries(wanted).filter(([p]) => model.layout.parameters.includes(p)));
}
