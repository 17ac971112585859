/**
 * The 'pump' payload of the load generator (and of bench:analytics:operators): the pump-line
 * pilot's Pump telemetry as a healthy pump reports it — per-device nominal values with the sensor
 * noise of the pilot's pump behaviour (pilots/pump-line/behaviours/pump.behaviour.yaml: vibration
 * σ 0.05 mm/s, temperature 0.1 °C, flow 0.3 m³/h, pressure 0.01 bar). Deterministic.
 */

/** A xorshift32 generator: cheap deterministic uniforms in [0, 1). */
export function uniformSource(seed = 0x9e3779b9): () => number {
  let rng = seed;
  return () => {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    return (rng >>> 0) / 4294967296;
  };
}

/** The JSON of one message of `device` (5 readings), noise drawn from `uniform`. */
export function pumpPayloadJson(device: number, uniform: () => number): string {
  // About N(0, 1): the sum of four uniforms, centred and scaled.
  const normal = (): number => (uniform() + uniform() + uniform() + uniform() - 2) * Math.sqrt(3);
  const d = device % 10;
  return `{"vibration":${(2 + 0.05 * d + 0.05 * normal()).toFixed(2)},"temperature":${(50 + d + 0.1 * normal()).toFixed(1)},"flow":${(40 + d + 0.3 * normal()).toFixed(2)},"dischargePressure":${(4 + 0.1 * d + 0.01 * normal()).toFixed(3)},"running":true}`;
}
