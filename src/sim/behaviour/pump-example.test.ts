/**
 * The pump behaviour of the pump-line pilot, checked against the pilot's real DTDL models (parsed
 * with parseDtdl from pilots/pump-line/models) and run for a day with a simple Euler loop.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InterfaceInfo, ModelLookup } from '../../core/models/model-types.js';
import { isValidResult, parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';
import { compileBehaviour, validateBehaviour } from './compile-behaviour.js';
import { seededRandom } from './random.js';

const MODELS_DIR = join(import.meta.dirname, '../../../pilots/pump-line/models');
const PUMP_ID = 'dtmi:twinloop:pumpline:Pump;1';

const PUMP_BEHAVIOUR = `# Centrifugal pump: motor heating, bearing wear, hydraulics.
behaviour: pump-centrifugal
interface: dtmi:twinloop:pumpline:Pump;1
parameters:
  ratedFlow: { value: 50, unit: cubicMetrePerHour }
  ratedHead: { value: 4.0, unit: bar }
  ambient: { value: 20, unit: degreeCelsius }
  tau: { value: 600, unit: second }
  bearingWearRate: { value: 1e-6 }
inputs:
  running: { command: setRunning, default: 1 }
  inletPressure: { relationship: feeds, direction: incoming, source: dischargePressure, default: 1.0, unit: bar }
  speed: { schedule: [[0, 0.8], [3600, 1.0]] }
  setpoint: { property: flowSetpoint, default: 50, unit: cubicMetrePerHour }
states:
  temperature: { initial: ambient, derivative: "(ambient + 0.4*current - temperature)/tau", unit: degreeCelsius }
  wear: { initial: 0, derivative: "bearingWearRate*speed*running" }
outputs:
  current: "running * (5 + 10*speed^3)"
  flow: { expr: "min(ratedFlow*speed, setpoint)*running", unit: cubicMetrePerHour }
  dischargePressure: { expr: "inletPressure + running*ratedHead*speed^2*(1 - 0.2*(flow/ratedFlow)^2)", unit: bar }
  vibration: "1.5 + 40*wear + 0.3*speed"
telemetry:
  vibration: { from: vibration, noise: { std: 0.05 } }
  temperature: { from: temperature, noise: { std: 0.1, resolution: 0.1 } }
  flow: { noise: { std: 0.2 } }
  dischargePressure: dischargePressure
  running: running
properties:
  vibrationLimit: "7.1"
faults:
  bearingWear: { kind: degradation, target: wear, rate: 1e-4, at: 86400 }
  cavitation: { kind: spike, target: vibration, magnitude: 5, duration: 30, command: injectCavitation }
  sensorDrift: { kind: drift, target: telemetry.temperature, rate: 0.001, command: injectSensorDrift }
  flowDropout: { kind: dropout, target: flow, duration: 60, command: injectFlowDropout }
  stuckPressure: { kind: stuck, target: telemetry.dischargePressure, command: injectStuckPressure }
  pressureBias: { kind: bias, target: inletPressure, magnitude: -0.3, command: injectInletLoss }
`;

function pilotModels(): { pump: InterfaceInfo; lookup: ModelLookup } {
  const inputs = readdirSync(MODELS_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({ source: f, text: readFileSync(join(MODELS_DIR, f), 'utf8') }));
  const result = parseDtdl(inputs);
  expect(isValidResult(result)).toBe(true);
  const lookup: ModelLookup = {
    getInterface: (id) => result.interfaces.get(id),
    isOfModel: (m, b) => m === b || (result.interfaces.get(m)?.ancestors.includes(b) ?? false),
  };
  const pump = result.interfaces.get(PUMP_ID);
  if (pump === undefined) throw new Error('the pilot has no pump model');
  return { pump, lookup };
}

describe('pump behaviour against the pump-line pilot models', () => {
  const { pump, lookup } = pilotModels();

  it('validates without problems', () => {
    const { problems } = validateBehaviour(PUMP_BEHAVIOUR, pump, { source: 'pump.yaml', lookup });
    expect(problems).toEqual([]);
  });

  it('runs a day: warms up, wears only after the fault time, reports typed telemetry', () => {
    const model = compileBehaviour(PUMP_BEHAVIOUR, pump, { lookup });
    expect(model.relationshipInputs.map((i) => i.name)).toEqual(['inletPressure']);
    const rt = model.createRuntime();
    let y = model.initialState(rt);
    expect([...y]).toEqual([20, 0]);
    const f = model.rhs(rt);
    const dydt = new Float64Array(y.length);
    const dt = 10;
    for (let t = 0; t < 86_400 + 3600; t += dt) {
      f(t, y, dydt);
      y = y.map((v, i) => v + dt * (dydt[i] as number));
    }
    // steady temperature: ambient + 0.4*current = 20 + 0.4*15 = 26 at full speed
    expect(y[0]).toBeCloseTo(26, 3);
    // wear: 1e-6/s * speed for the day, plus the degradation fault's 1e-4/s for the last hour
    expect(y[1]).toBeGreaterThan(0.36 + 0.08);
    expect(y[1]).toBeLessThan(0.4 + 0.08);
    const m = model.measure(90_000, y, rt, seededRandom(7));
    expect(m.telemetry.running).toBe(true);
    expect(typeof m.telemetry.vibration).toBe('number');
    expect(m.telemetry.flow as number).toBeCloseTo(50, 0);
    expect(m.properties.vibrationLimit).toBe(7.1);
    // the stop command reaches the model through setRunning's boolean payload
    model.applyCommand(rt, 90_000, 'setRunning', false);
    const stopped = model.measure(90_000, y, rt, seededRandom(7));
    expect(stopped.telemetry.running).toBe(false);
    expect(stopped.telemetry.dischargePressure).toBe(1);
    // relationship input from the upstream twins
    model.setRelationshipInput(rt, 'inletPressure', [1.5, 2.5]);
    expect(model.measure(90_000, y, rt, seededRandom(7)).telemetry.dischargePressure).toBe(1.5);
  });

  it('checks an outgoing relationship source on the declared target model (warning)', () => {
    const text = PUMP_BEHAVIOUR.replace('direction: incoming, ', '');
    const { problems } = validateBehaviour(text, pump, { lookup });
    expect(problems).toMatchObject([
      {
        code: 'sim.behaviour.unknownContent',
        severity: 'warning',
        line: 12,
        pointer: '/inputs/inletPressure',
      },
    ]);
  });

  it('refuses mapping the object property and unknown commands of the real pump', () => {
    const text = PUMP_BEHAVIOUR.replace('vibrationLimit: "7.1"', 'maintenance: "1"').replace(
      'command: setRunning',
      'command: setSpeed',
    );
    const codes = validateBehaviour(text, pump, { lookup }).problems.map((p) => `${p.line} ${p.code}`);
    expect(codes).toEqual(['11 sim.behaviour.unknownContent', '30 sim.behaviour.schemaNotNumeric']);
  });
});
