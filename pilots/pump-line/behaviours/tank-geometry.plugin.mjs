// A behaviour plug-in (src/sim/behaviour/behaviour-plugin.ts): the level in a horizontal
// cylindrical tank from the volume it holds. The volume of a level has a closed form,
//   V(h) = L·(r²·acos((r − h)/r) − (r − h)·√(2rh − h²)),
// but the level of a volume has none, so the expression language cannot say it: solved here by
// Newton's method (safeguarded by bisection). Pure numbers in, a number out.

/** Volume (m³) held at level h (m) in a horizontal cylinder of radius r and length len. */
function volumeAt(h, r, len) {
  const d = r - h;
  return len * (r * r * Math.acos(d / r) - d * Math.sqrt(Math.max(0, 2 * r * h - h * h)));
}

/**
 * Level (m) of `volume` (m³) in a horizontal cylinder of `capacity` (m³) and `diameter` (m).
 * Clamped to [0, diameter] outside [0, capacity]; NaN for a shape that is not a tank.
 */
function levelFromVolume(volume, capacity, diameter) {
  if (!(capacity > 0) || !(diameter > 0) || !Number.isFinite(volume)) return NaN;
  const r = diameter / 2;
  const len = capacity / (Math.PI * r * r);
  if (volume <= 0) return 0;
  if (volume >= capacity) return diameter;
  let lo = 0;
  let hi = diameter;
  let h = (volume / capacity) * diameter;
  for (let i = 0; i < 50; i++) {
    const f = volumeAt(h, r, len) - volume;
    if (Math.abs(f) < 1e-12 * capacity) break;
    if (f > 0) hi = h;
    else lo = h;
    const slope = 2 * len * Math.sqrt(Math.max(0, 2 * r * h - h * h)); // dV/dh: the surface width × length
    let next = slope > 0 ? h - f / slope : NaN;
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    h = next;
  }
  return h;
}

export default {
  name: 'tankGeometry',
  functions: {
    levelFromVolume: {
      args: 3,
      description: 'level (m) of a volume (m³) in a horizontal cylinder of a capacity (m³) and diameter (m)',
      fn: levelFromVolume,
    },
  },
};
