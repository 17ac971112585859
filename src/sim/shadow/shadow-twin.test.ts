/**
 * Shadow mode against a simulated pump of the pump-line pilot (noisy sensors, the fleet runner as
 * "the device"): residuals stay within the sensor noise while the pump is healthy, follow its
 * commands, and grow once bearing damage is injected into the device (not into the shadow).
 */
import { describe, expect, it } from 'vitest';
import { pilotBehaviour } from '../../../test/support/pilot-behaviour.js';
import { createFleetRunner, type ReadingSet } from '../runner/fleet-runner.js';
import { ShadowTwin } from './shadow-twin.js';

const model = pilotBehaviour('pump-line', 'pump.behaviour.yaml', 'dtmi:twinloop:pumpline:Pump;1');
const HOUR = 3600;

/** Runs one simulated device for `hours`, sampled every 60 s, with the given actions. */
function device(hours: number, setup: (r: ReturnType<typeof createFleetRunner>) => void): ReadingSet[] {
  const readings: ReadingSet[] = [];
  const runner = createFleetRunner({
    model,
    assets: [{ id: 'pump' }],
    sampleInterval: 60,
    seed: 7,
    sink: (r) => readings.push(r),
  });
  setup(runner);
  runner.advanceTo(hours * HOUR);
  return readings;
}

function residualsOf(readings: ReadingSet[], onCommand?: (s: ShadowTwin, t: number) => void) {
  const shadow = new ShadowTwin(model, 'pump');
  return readings.map((r) => {
    onCommand?.(shadow, r.time);
    const obs = shadow.observe(r.time, r.values);
    if (!obs) throw new Error(`no observation at ${r.time}`);
    return obs;
  });
}

const rms = (xs: number[]): number => Math.sqrt(xs.reduce((a, x) => a + x * x, 0) / xs.length);

describe('shadow mode (pump-line pump)', () => {
  it('stays within the sensor noise on a healthy pump over a day', () => {
    const obs = residualsOf(device(24, () => undefined));
    expect(obs).toHaveLength(24 * 60 + 1);
    const vib = obs.map((o) => o.residuals.vibration as number);
    const temp = obs.map((o) => o.residuals.temperature as number);
    const flow = obs.map((o) => o.residuals.flow as number);
    // Sensor noise: vibration σ 0.05 (+0.01 resolution), temperature σ 0.1 (+0.1), flow σ 0.3.
    expect(rms(vib)).toBeLessThan(0.07);
    expect(rms(temp)).toBeLessThan(0.15);
    expect(rms(flow)).toBeLessThan(0.4);
    expect(Math.max(...vib.map(Math.abs))).toBeLessThan(0.3);
    // and the prediction is not trivially the measurement: the pump warmed up by ~10 °C meanwhile
    expect(
      (obs.at(-1)?.predicted.temperature as number) - (obs[0]?.predicted.temperature as number),
    ).toBeGreaterThan(5);
  });

  it('grows after bearing damage is injected into the device, not before', () => {
    const onset = 6 * HOUR;
    const obs = residualsOf(device(36, (r) => r.command('pump', 'injectBearingDamage', undefined, onset)));
    const vib = (from: number, to: number) =>
      obs.filter((o) => o.t >= from && o.t < to).map((o) => o.residuals.vibration as number);
    const before = vib(0, onset);
    const late = vib(30 * HOUR, 36 * HOUR);
    expect(rms(before)).toBeLessThan(0.07);
    const mean = late.reduce((a, x) => a + x, 0) / late.length;
    expect(mean).toBeGreaterThan(1); // the device vibrates far more than its healthy model says
    expect(mean).toBeGreaterThan(10 * rms(before));
    // temperature follows too (friction grows with wear), if less
    const tempLate = obs.filter((o) => o.t >= 30 * HOUR).map((o) => o.residuals.temperature as number);
    expect(tempLate.reduce((a, x) => a + x, 0) / tempLate.length).toBeGreaterThan(0.3);
  });

  it('follows the commands the device is sent, so a stopped pump is not a residual', () => {
    const stop = 4 * HOUR;
    const readings = device(8, (r) => r.command('pump', 'setRunning', false, stop));
    let sent = false;
    const obs = residualsOf(readings, (s, t) => {
      if (!sent && t >= stop) {
        s.applyCommand('setRunning', false);
        sent = true;
      }
    });
    const flow = obs.filter((o) => o.t > stop + 60).map((o) => o.residuals.flow as number);
    expect(rms(flow)).toBeLessThan(0.5);
    // without the command the shadow would expect ~35 m³/h of flow
    const blind = residualsOf(readings)
      .filter((o) => o.t > stop + 60)
      .map((o) => o.residuals.flow as number);
    expect(rms(blind)).toBeGreaterThan(20);
  });

  it('skips readings older than its time and readings without its telemetry', () => {
    const s = new ShadowTwin(model, 'p');
    expect(s.observe(100, { vibration: 1.2 })).toBeDefined();
    expect(s.observe(50, { vibration: 1.2 })).toBeUndefined();
    expect(s.observe(200, { unrelated: 3 })).toBeUndefined();
    expect(s.observe(200, { vibration: 'loud' })).toBeUndefined();
  });

  it('starts a state read directly by a telemetry at the first measured value', () => {
    const s = new ShadowTwin(model, 'warm');
    const obs = s.observe(0, { temperature: 55, vibration: 1 });
    expect(obs?.predicted.temperature).toBeCloseTo(55, 10);
    expect(s.state()[model.layout.states.indexOf('bearingTemp')]).toBe(55);
  });
});
