/**
 * Simulation, in two parts started at different times:
 * - `startSimulationServices` (with the engine, before HTTP): calibration of twins' behaviour
 *   parameters and what-if runs, reading the live twins and never writing them;
 * - `startDevices` (once everything is up, HTTP included): the device simulator, a client of the
 *   broker like any device, and shadow mode, which follows each twin with a behaviour and writes
 *   its residuals back as derived telemetry.
 * The services see the simulator and the shadow once they run, through `running`.
 */
import type { Logger } from 'pino';
import type { CommandService } from '../../core/control/command-service.js';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { LiveEventBus } from '../../core/live/live-events.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { IngestService } from '../../core/telemetry/ingest-service.js';
import { startMqttSimulator } from '../../adapters/mqtt/mqtt-simulator-publisher.js';
import type { Storage } from '../../core/ports/storage.js';
import type { BehaviourCatalog } from '../../sim/behaviour/behaviour-catalog.js';
import { CalibrationService, historyFromStore } from '../../sim/calibration/calibration-service.js';
import type { Simulator } from '../../sim/device/device-simulator.js';
import { ShadowService } from '../../sim/shadow/shadow-service.js';
import { commandResponseOf, isReadOnlyProperty } from '../../sim/device/command-response.js';
import type { ModelLookup } from '../../core/models/model-types.js';
import { graphWorld as whatIfWorld } from '../../sim/whatif/graph-world.js';
import { WhatIfService } from '../../sim/whatif/what-if-service.js';
import type { TwinloopConfig } from '../config.js';
import { readPilotScenario } from '../pilot-files.js';
import { subsystem, type Subsystem } from './subsystem.js';

/** The simulator and the shadow, once (and when) `startDevices` started them. */
export interface RunningSimulation {
  simulator: Simulator | undefined;
  shadow: ShadowService | undefined;
}

export interface SimulationServices extends Subsystem {
  calibration: CalibrationService;
  whatIf: WhatIfService;
  running: RunningSimulation;
}

export function startSimulationServices(o: {
  config: Readonly<Pick<TwinloopConfig, 'whatIf'>>;
  logger: Logger;
  workspace: string;
  storage: Pick<Storage, 'behaviour' | 'history'>;
  graph: InMemoryTwinGraph;
  models: ModelService;
  live: LiveEventBus;
  behaviours: BehaviourCatalog;
}): Promise<SimulationServices> {
  const { config, workspace, storage, graph, models, live, behaviours } = o;
  return subsystem(o.logger, async (closers) => {
    const running: RunningSimulation = { simulator: undefined, shadow: undefined };
    // ---- calibration: fit a twin's behaviour parameters to its history, apply them on request
    const calibration = new CalibrationService({
      workspace,
      store: storage.behaviour,
      history: historyFromStore(storage.history, workspace),
      twin: (id) => {
        const t = graph.getTwin(id);
        return t && { modelId: t.modelId, properties: t.contents };
      },
      behaviours,
      // Simulated twins on the simulator's clock; others on Unix seconds, as in shadow mode.
      simTime: (id) => {
        const sim = running.simulator;
        return sim?.simulates(id) ? (ms: number) => sim.simTime(ms) : (ms: number) => ms / 1000;
      },
      // The shadow restarts with the new values; the simulated device (the "real" asset) is left alone.
      onApplied: (id) => running.shadow?.forget(id),
    });
    await calibration.load();
    closers.push(
      live.subscribe((evs) => {
        for (const e of evs)
          if (e.type === 'twinDeleted' && e.workspace === workspace)
            calibration.deleteTwin(e.twinId).catch((err: unknown) => {
              o.logger.error(
                { err, twin: e.twinId },
                'could not delete the behaviour parameters of a deleted twin',
              );
            });
      }),
    );

    // ---- what-if runs: read the live twins (and the simulator's or shadows' states), never write
    const whatIf = new WhatIfService({
      catalog: behaviours,
      world: whatIfWorld(graph, {
        now: () => (running.simulator ? running.simulator.simTime(Date.now()) : Date.now() / 1000),
        snapshot: (id) => {
          const sim = running.simulator?.snapshot(id);
          if (sim) return { source: 'simulator', snapshot: sim };
          const sh = running.shadow?.shadowOf(id);
          return sh && Number.isFinite(sh.t)
            ? { source: 'shadow', snapshot: { t: sh.t, state: sh.state() } }
            : undefined;
        },
        parameters: (id) => calibration.applied(id),
      }),
      interfaces: models,
      yieldNow: () => new Promise((resolve) => setImmediate(resolve)),
      maxKeptBytes: config.whatIf.maxKeptMiB * 1024 * 1024,
      maxResultBytes: config.whatIf.maxResultMiB * 1024 * 1024,
    });
    closers.push(() => whatIf.close());
    return { calibration, whatIf, running };
  });
}

export interface Devices extends Subsystem {
  simulator: Simulator | undefined;
  shadow: ShadowService | undefined;
}

/**
 * Starts the device simulator (when `simulation.enabled` and there are behaviours) and shadow mode
 * (when `simulation.shadow`), and makes them visible to the services through `running`.
 * @throws TwinloopError from the simulator (a bad scenario, an unreachable broker).
 */
export function startDevices(o: {
  config: Readonly<Pick<TwinloopConfig, 'simulation' | 'mqtt'>>;
  logger: Logger;
  workspace: string;
  pilot: string;
  behaviours: BehaviourCatalog;
  graph: InMemoryTwinGraph;
  live: LiveEventBus;
  ingest: IngestService;
  commands: Pick<CommandService, 'onCommand'>;
  /** The workspace's models: a simulated device answers a command with a value of its response schema. */
  models: ModelLookup;
  services: SimulationServices;
  mqttUrl: string;
  token: string | undefined;
}): Promise<Devices> {
  const { config, logger, workspace, pilot, behaviours, graph, live, ingest, commands } = o;
  const { running, calibration } = o.services;
  return subsystem(logger, async (closers) => {
    // ---- the device simulator: a client of the broker like any device, started once all is up
    const scenario = pilot === 'none' ? undefined : readPilotScenario(pilot);
    if (config.simulation.enabled && behaviours.size > 0) {
      const simLogger = logger.child({ component: 'simulator' });
      const sim = await startMqttSimulator({
        pilot,
        catalog: behaviours,
        twins: [...graph.allTwins()].map((t) => ({ id: t.id, modelId: t.modelId })),
        world: whatIfWorld(graph, { now: () => Date.now() / 1000 }), // property, related, latest
        live, // readings sent by others take a simulated twin's telemetry over for a while
        ...(scenario ? { scenario } : {}),
        mqttUrl: o.mqttUrl,
        // The embedded broker takes the token as password; an external broker's URL carries its own.
        password: config.mqtt.url ? undefined : o.token,
        speed: config.simulation.speed ?? scenario?.simulation.speed ?? 1,
        commandResponse: (twinId, command) => {
          const twin = graph.getTwin(twinId);
          const c = twin && o.models.getInterface(twin.modelId)?.contents.get(command);
          return commandResponseOf(c?.kind === 'Command' ? c : undefined);
        },
        readOnlyProperty: (twinId, name) => {
          const twin = graph.getTwin(twinId);
          return isReadOnlyProperty(twin && o.models.getInterface(twin.modelId), name);
        },
        logger: {
          info: (msg, meta) => simLogger.info(meta ?? {}, msg),
          warn: (msg, meta) => simLogger.warn(meta ?? {}, msg),
          error: (msg, meta) => simLogger.error(meta ?? {}, msg),
        },
      });
      running.simulator = sim;
      closers.push(() => sim.stop());
    }

    // ---- shadow mode: each twin with a behaviour, residuals back as derived telemetry
    if (config.simulation.shadow && behaviours.size > 0) {
      const shadowLogger = logger.child({ component: 'shadow' });
      let lastErrorLog = 0;
      const sim = running.simulator;
      const s = new ShadowService({
        workspace,
        graph,
        catalog: behaviours,
        writeDerived: (twinId, time, values) => ingest.ingestDerived(workspace, twinId, time, values),
        // Simulated twins run on the simulator's clock; live ones on Unix seconds (a daily
        // schedule is then the UTC time of day).
        simTime: sim ? (ms) => sim.simTime(ms) : (ms) => ms / 1000,
        parameters: (id) => calibration.applied(id),
        onError: (err, twinId) => {
          if (Date.now() - lastErrorLog < 10_000) return;
          lastErrorLog = Date.now();
          shadowLogger.warn({ err, twin: twinId }, 'shadow mode: a twin could not be followed');
        },
      });
      running.shadow = s;
      s.start(live);
      const off = commands.onCommand((twinId, command, request) => s.onCommand(twinId, command, request));
      closers.push(() => {
        off();
        s.stop();
      });
    }
    return { simulator: running.simulator, shadow: running.shadow };
  });
}
