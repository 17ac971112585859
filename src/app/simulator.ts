/**
 * The device simulator: plays a pilot's behaviour models (`behaviours/*.yaml`) for every twin of
 * their interface and publishes the readings over MQTT exactly as a real device would (QoS 1 to
 * `twins/{twinId}/telemetry`, JSON with `$ts`), so the platform cannot tell them from real pumps.
 * Used by `twinloop start` (in-process, after MQTT and HTTP are up) and `twinloop simulate`.
 *
 * Time: one fleet runner per behaviour, simulated time from t0 = 0 on a real clock at `speed`
 * simulated seconds per wall second. A sample at simulated time t is stamped
 * `$ts = wallStart + (t − t0)·1000/speed`: the wall time at which it falls due, so history lines
 * up with the wall clock whatever the speed (at speed 600, ten simulated minutes fill one second).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { TwinloopError } from '../core/errors/errors.js';
import { isValidResult, parseDtdl } from '../core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../core/models/model-types.js';
import { compileBehaviour } from '../sim/behaviour/compile-behaviour.js';
import { readLocatedDocument } from '../sim/behaviour/located-document.js';
import { createRealClock } from '../sim/runner/clock.js';
import { createFleetRunner, type FleetRunner, type ReadingSet } from '../sim/runner/fleet-runner.js';
import { readPilot, readPilotBehaviours } from './pilot-files.js';

export interface SimulatorLogger {
  info(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
  error(msg: string, meta?: Record<string, unknown>): void;
}

export interface SimulatorOptions {
  /** Pilot name (a folder under pilots/) or path; its `behaviours/` folder is played. */
  pilot: string;
  /** Resolves each behaviour's `interface:` (a ModelService or a parsed pilot). */
  models: ModelLookup;
  /** Ids of the twins of an interface (including models extending it): the simulated assets. */
  twinsOf: (interfaceId: string) => Iterable<string>;
  mqttUrl: string;
  /** MQTT password: the platform's token when auth is on. */
  password?: string;
  /** Simulated seconds per wall second (default 1). */
  speed?: number;
  /** Seed of the parameter variation and the sensor noise (default 1). */
  seed?: number;
  /** Simulated seconds between two readings of one asset (default 10). */
  sampleInterval?: number;
  logger?: SimulatorLogger;
  /** How long to wait for the broker's first CONNACK (default 5000 ms). */
  connectTimeoutMs?: number;
}

export interface SimulatorStats {
  assets: number;
  /** Reading sets acknowledged by the broker (QoS 1 PUBACK). */
  published: number;
  /** Publishes that failed (logged). */
  failed: number;
  /** Reading sets not sent because the broker was unreachable at the time. */
  skipped: number;
  /** Simulated seconds since the start (the slowest runner). */
  simulatedSeconds: number;
}

export interface Simulator {
  readonly pilot: string;
  /** Simulated assets per behaviour, e.g. [{ behaviour: 'pump-line-pump', interface: 'dtmi:…', assets: 7 }]. */
  readonly fleets: readonly { behaviour: string; interface: string; assets: number }[];
  readonly speed: number;
  stats(): SimulatorStats;
  /** Stops the runners, then waits for in-flight publishes and disconnects. Idempotent. */
  stop(): Promise<void>;
}

const silent: SimulatorLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The topic level of a twin id, percent-encoded as docs/mqtt.md says. */
export function encodeTopicLevel(id: string): string {
  return id.replace(/[%/+#\0]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** The `interface:` of a behaviour text, read without compiling (the model is needed to compile). */
function interfaceOf(source: string, text: string): string {
  const doc = readLocatedDocument(text, source);
  const root = doc.root;
  if (root === undefined || doc.problems.some((p) => p.severity !== 'warning')) {
    const first = doc.problems[0];
    throw new TwinloopError(
      'ValidationFailed',
      `Behaviour model ${source}${first?.line !== undefined ? `:${first.line}:${first.column ?? 1}` : ''} is not valid YAML/JSON: ${first?.message ?? 'empty document'}`,
      { problems: doc.problems },
    );
  }
  const entry = root.kind === 'map' ? root.entries.find((e) => e.key === 'interface') : undefined;
  if (!entry || entry.value.kind !== 'scalar' || typeof entry.value.value !== 'string') {
    const loc = entry?.value.loc ?? root.loc;
    throw new TwinloopError(
      'ValidationFailed',
      `Behaviour model ${source}:${loc.line}:${loc.column}: it needs an 'interface:' naming the DTMI of the twins it simulates.`,
    );
  }
  return entry.value.value;
}

/** Compiles a pilot's behaviours against the models; every error names the file (and line). */
function compileFleets(o: SimulatorOptions) {
  return readPilotBehaviours(o.pilot).map(({ source, text }) => {
    const interfaceId = interfaceOf(source, text);
    const iface = o.models.getInterface(interfaceId);
    if (!iface) {
      const line = text.split('\n').findIndex((l) => /^interface\s*:/.test(l)) + 1;
      throw new TwinloopError(
        'ModelNotFound',
        `Behaviour model ${source}:${line || 1}: interface ${interfaceId} is not a model of the workspace.`,
      );
    }
    const model = compileBehaviour(text, iface, { source, lookup: o.models });
    return { source, interfaceId, model, assetIds: [...o.twinsOf(interfaceId)].sort() };
  });
}

function connect(o: SimulatorOptions, log: SimulatorLogger): Promise<MqttClient> {
  const opts: IClientOptions = {
    clientId: `twinloop-sim-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: o.connectTimeoutMs ?? 5000,
    ...(o.password ? { username: 'twinloop-sim', password: o.password } : {}),
  };
  const client = mqtt.connect(o.mqttUrl, opts);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.end(true);
      reject(
        new TwinloopError(
          'ServiceUnavailable',
          `Simulator: no MQTT broker answered at ${o.mqttUrl} within ${opts.connectTimeout} ms (is Twinloop running? give --mqtt-url).`,
        ),
      );
    }, opts.connectTimeout);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.on('error', (e) => log.warn(`Simulator: MQTT error: ${e.message}`));
  });
}

/**
 * Compiles the pilot's behaviours, connects to the broker and starts the simulation.
 * @throws TwinloopError ValidationFailed / ModelNotFound for a bad behaviour file (naming it and the
 *   line), NotFound when the pilot has no behaviours/, ServiceUnavailable when the broker is unreachable.
 */
export async function startSimulator(o: SimulatorOptions): Promise<Simulator> {
  const log = o.logger ?? silent;
  const speed = o.speed ?? 1;
  if (!(Number.isFinite(speed) && speed > 0))
    throw new TwinloopError('InvalidConfig', `Simulation speed must be a number > 0, got ${String(speed)}.`);
  const sampleInterval = o.sampleInterval ?? 10;
  if (readPilotBehaviours(o.pilot).length === 0)
    throw new TwinloopError('NotFound', `Pilot ${o.pilot} has no behaviours/ folder: nothing to simulate.`);
  const fleets = compileFleets(o).filter((f) => {
    if (f.assetIds.length === 0)
      log.warn(`Simulator: no twins of ${f.interfaceId} to simulate (${f.source}).`);
    return f.assetIds.length > 0;
  });

  const client = await connect(o, log);
  const stats = { published: 0, failed: 0, skipped: 0 };
  let lastFailLog = 0;
  let offline = false;
  client.on('offline', () => {
    if (!offline)
      log.warn(`Simulator: lost the MQTT broker at ${o.mqttUrl}; readings are skipped until it is back.`);
    offline = true;
  });
  client.on('connect', () => {
    if (offline) log.info('Simulator: MQTT broker back, publishing again.');
    offline = false;
  });

  const t0 = 0;
  const wallStart = Date.now();
  const clock = createRealClock({ now: Date.now, setTimeout, clearTimeout });
  const publish = (r: ReadingSet): void => {
    const keys = Object.keys(r.values);
    if (keys.length === 0) return; // everything dropped out: a real device sends nothing either
    if (!client.connected) {
      stats.skipped++;
      return;
    }
    const payload = JSON.stringify({
      ...r.values,
      $ts: Math.round(wallStart + ((r.time - t0) * 1000) / speed),
    });
    client.publish(`twins/${encodeTopicLevel(r.assetId)}/telemetry`, payload, { qos: 1 }, (err) => {
      if (!err) {
        stats.published++;
        return;
      }
      stats.failed++;
      if (Date.now() - lastFailLog > 10_000) {
        lastFailLog = Date.now();
        log.warn(
          `Simulator: publishing for ${r.assetId} failed: ${err.message} (${stats.failed} failed so far).`,
        );
      }
    });
  };

  const runners: FleetRunner[] = [];
  try {
    for (const f of fleets) {
      const runner = createFleetRunner({
        model: f.model,
        assets: f.assetIds.map((id) => ({ id })),
        t0,
        tick: 1,
        sampleInterval,
        seed: o.seed ?? 1,
        variation: variationFor(f.model),
        sink: publish,
        clock,
        speed,
        // Coarse wall steps: a timer per tick at speed 600 would be 600 wake-ups a second for nothing.
        timerMs: Math.max(50, Math.min(1000, (sampleInterval * 1000) / speed)),
        onError: (e) => log.error(`Simulator: ${f.source} stopped: ${(e as Error).message}`),
      });
      runners.push(runner);
    }
  } catch (e) {
    client.end(true);
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
    stats: () => ({
      assets: fleets.reduce((n, f) => n + f.assetIds.length, 0),
      ...stats,
      simulatedSeconds: runners.length ? Math.min(...runners.map((r) => r.t)) - t0 : 0,
    }),
    stop: () =>
      (stopped ??= (async () => {
        for (const r of runners) r.stop();
        // Wait for in-flight PUBACKs, but never hang a shutdown on a vanished broker.
        await Promise.race([
          new Promise<void>((resolve) => client.end(false, {}, () => resolve())),
          new Promise<void>((resolve) => setTimeout(resolve, 2000).unref()),
        ]);
        if (client.connected || client.disconnecting) client.end(true);
      })()),
  };
}

/** A little spread between assets of one fleet, on the parameters the behaviour actually has. */
function variationFor(model: { layout: { parameters: readonly string[] } }): Record<string, number> {
  const wanted: Record<string, number> = { wearRate: 0.2, frictionLoss: 0.1, baseVibration: 0.1 };
  return Object.fromEntries(Object.entries(wanted).filter(([p]) => model.layout.parameters.includes(p)));
}

/** Reads a pilot folder's models and twins, for `twinloop simulate` run without a platform in-process. */
export function pilotWorkspace(pilot: string): Pick<SimulatorOptions, 'models' | 'twinsOf'> {
  const files = readPilot(pilot);
  const modelsDir = path.join(files.dir, 'models');
  const parsed = parseDtdl(
    readdirSync(modelsDir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => ({ source: path.join(modelsDir, f), text: readFileSync(path.join(modelsDir, f), 'utf8') })),
  );
  if (!isValidResult(parsed))
    throw new TwinloopError('InvalidModel', `Pilot ${files.name}: its models are invalid.`, {
      problems: parsed.problems,
    });
  const models: ModelLookup = {
    getInterface: (id) => parsed.interfaces.get(id),
    isOfModel: (m, b) => m === b || (parsed.interfaces.get(m)?.ancestors.includes(b) ?? false),
  };
  const twinsOf = (interfaceId: string): string[] =>
    files.twins
      .filter((t) => {
        const model = (t.$metadata as { $model?: unknown } | undefined)?.$model;
        return typeof model === 'string' && models.isOfModel(model, interfaceId);
      })
      .map((t) => String(t.$dtId));
  return { models, twinsOf };
}
