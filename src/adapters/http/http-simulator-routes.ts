/**
 * The in-process device simulator over HTTP (docs/simulation.md): its status, and switching the
 * faults of simulated devices on and off — what a pilot's scenario does at set times, done now by
 * hand (a demo, a test of the analytics on a known fault).
 * - GET /simulator → { running, pilot, speed, fleets, stats, offline } (running: false when it is off);
 * - POST /simulator/faults { twinId, fault, on = true } → 200 { twinId, fault, on, behaviour, simulatedTime };
 *   the faults `offline` and `online` are the device's connection: `offline` cuts it abruptly (the
 *   broker publishes its last will) and stops its telemetry, `online` reconnects it
 *   (`on: false` is the opposite) → 200 { twinId, fault, on, state }.
 */
import type { FastifyInstance } from 'fastify';
import { TwinloopError, type Problem } from '../../core/errors/errors.js';

/** What the routes need of the simulator (late-bound: it starts after the HTTP server). */
export interface HttpSimulatorPort {
  status(): Record<string, unknown> | undefined;
  fault(twinId: string, fault: string, on: boolean): { behaviour: string; simulatedTime: number };
  /**
   * Takes a simulated twin's device offline or online.
   * @throws TwinloopError DigitalTwinNotFound (no such twin), NotFound (not simulated), BadRequest.
   */
  connection(twinId: string, state: 'offline' | 'online'): Promise<{ state: 'offline' | 'online' }>;
}

/** The connection faults every simulated device has, whatever its behaviour. */
export const CONNECTION_FAULTS: readonly string[] = ['offline', 'online'];

export function registerSimulatorRoutes(app: FastifyInstance, sim: HttpSimulatorPort): void {
  app.get(
    '/simulator',
    {
      schema: {
        tags: ['Simulation (Twinloop)'],
        summary: 'The in-process device simulator: pilot, speed, simulated assets and counters.',
      },
    },
    async () => sim.status() ?? { running: false },
  );

  app.post(
    '/simulator/faults',
    {
      schema: {
        tags: ['Simulation (Twinloop)'],
        summary: 'Switches a fault of a simulated device on (default) or off, now.',
        body: {
          type: 'object',
          properties: {
            twinId: { type: 'string' },
            fault: { type: 'string' },
            on: { type: 'boolean' },
          },
        },
      },
    },
    async (req) => {
      const body = (req.body ?? {}) as { twinId?: unknown; fault?: unknown; on?: unknown };
      const problems: Problem[] = [];
      if (typeof body.twinId !== 'string' || body.twinId === '')
        problems.push({ code: 'simulator.twinId', message: "'twinId' is required.", pointer: '/twinId' });
      if (typeof body.fault !== 'string' || body.fault === '')
        problems.push({ code: 'simulator.fault', message: "'fault' is required.", pointer: '/fault' });
      if (problems.length)
        throw new TwinloopError('BadRequest', problems.map((p) => p.message).join(' '), { problems });
      if (sim.status() === undefined)
        throw new TwinloopError('ServiceUnavailable', 'The device simulator is off (start with --sim).');
      const on = body.on !== false;
      if (CONNECTION_FAULTS.includes(body.fault as string)) {
        const offline = (body.fault === 'offline') === on;
        const r = await sim.connection(body.twinId as string, offline ? 'offline' : 'online');
        return { twinId: body.twinId, fault: body.fault, on, state: r.state };
      }
      const r = sim.fault(body.twinId as string, body.fault as string, on);
      return { twinId: body.twinId, fault: body.fault, on, ...r };
    },
  );
}
