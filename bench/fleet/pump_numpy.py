"""The fleet benchmark's pump model (bench/fleet/pump.behaviour.yaml) written by hand in NumPy, as a
data scientist would: state arrays of N assets, in-place ufuncs into preallocated buffers, classic RK4
at 1 s ticks. Same equations, same daily speed schedule, the per-asset parameters Twinloop drew (read
from the JSON config), the same two actions (bearing damage on asset 1 from 1 h, asset 2 stopped at
2 h; an action at a tick applies from the step that starts there).

Usage: python3 pump_numpy.py CONFIG.json  -> prints JSON {seconds, cpu, states, numpy, python} on stdout.
CONFIG: {"hours": H, "params": {"wearRate": [...], "motorCooling": [...], "ratedFlow": [...]},
         "base": {name: value}, "schedule": [[t, v], ...], "period": P,
         "damage": {"asset": i, "at": s, "rate": r}, "stop": {"asset": j, "at": s}}
"""
import json
import platform
import sys
import time

import numpy as np


def main() -> None:
    cfg = json.load(open(sys.argv[1]))
    p = cfg["base"]
    n = len(cfg["params"]["wearRate"])
    wear_rate = np.array(cfg["params"]["wearRate"], dtype=np.float64)
    motor_cooling = np.array(cfg["params"]["motorCooling"], dtype=np.float64)
    rated_power = p["ratedPower"]
    efficiency = p["efficiency"]
    ambient = p["ambient"]
    motor_hc = p["motorHeatCapacity"]
    bearing_hc = p["bearingHeatCapacity"]
    coupling = p["bearingCoupling"]
    bearing_cooling = p["bearingCooling"]
    friction_loss = p["frictionLoss"]
    pts = cfg["schedule"]
    period = float(cfg["period"])

    def speed_at(t: float) -> float:
        # Linear schedule repeating every `period` s (as src/sim/behaviour/input-signals.ts).
        tt = ((t % period) + period) % period
        if tt <= pts[0][0]:
            return pts[0][1]
        for i in range(1, len(pts)):
            if tt < pts[i][0]:
                a, b = pts[i - 1], pts[i]
                return a[1] + ((b[1] - a[1]) * (tt - a[0])) / (b[0] - a[0])
        return pts[-1][1]

    running = np.ones(n)
    degradation = np.zeros(n)
    y = np.empty((3, n))
    y[0] = ambient
    y[1] = ambient
    y[2] = 0.0
    k1, k2, k3, k4 = (np.empty((3, n)) for _ in range(4))
    tmp = np.empty((3, n))
    rpm = np.empty(n)
    a = np.empty(n)
    b = np.empty(n)
    c = np.empty(n)

    def deriv(t: float, s: np.ndarray, out: np.ndarray) -> None:
        sp = speed_at(t)
        mt, bt, w = s[0], s[1], s[2]
        np.multiply(running, sp, out=rpm)
        # motorTemp' = (power*(1 - efficiency) - motorCooling*(mT - ambient) - coupling*(mT - bT))/motorHC
        # with power = ratedPower*rpm^3
        np.multiply(rpm, rpm, out=a)
        np.multiply(a, rpm, out=a)
        np.multiply(a, rated_power, out=a)
        np.multiply(a, 1 - efficiency, out=a)
        np.subtract(mt, ambient, out=b)
        np.multiply(b, motor_cooling, out=b)
        np.subtract(a, b, out=a)
        np.subtract(mt, bt, out=c)
        np.multiply(c, coupling, out=c)
        np.subtract(a, c, out=a)
        np.divide(a, motor_hc, out=out[0])
        # bearingTemp' = (friction + coupling*(mT - bT) - bearingCooling*(bT - ambient))/bearingHC
        # with friction = frictionLoss*rpm*(1 + 4*wear)
        np.multiply(w, 4, out=a)
        np.add(a, 1, out=a)
        np.multiply(rpm, friction_loss, out=b)
        np.multiply(b, a, out=a)
        np.add(a, c, out=a)
        np.subtract(bt, ambient, out=b)
        np.multiply(b, bearing_cooling, out=b)
        np.subtract(a, b, out=a)
        np.divide(a, bearing_hc, out=out[1])
        # wear' = wearRate*running*speed^2*exp((bT - 60)/20) (+ the damage fault's rate)
        np.subtract(bt, 60, out=a)
        np.divide(a, 20, out=a)
        np.exp(a, out=a)
        np.multiply(wear_rate, running, out=b)
        np.multiply(b, sp * sp, out=b)
        np.multiply(b, a, out=b)
        np.add(b, degradation, out=out[2])

    steps = int(round(cfg["hours"] * 3600))
    dmg, stop = cfg["damage"], cfg["stop"]
    h = 1.0
    t0 = time.perf_counter()
    c0 = time.process_time()
    for step in range(steps):
        t = float(step)
        if t == dmg["at"]:
            degradation[dmg["asset"]] = dmg["rate"]
        if t == stop["at"]:
            running[stop["asset"]] = 0.0
        deriv(t, y, k1)
        np.multiply(k1, 0.5 * h, out=tmp)
        np.add(tmp, y, out=tmp)
        deriv(t + 0.5 * h, tmp, k2)
        np.multiply(k2, 0.5 * h, out=tmp)
        np.add(tmp, y, out=tmp)
        deriv(t + 0.5 * h, tmp, k3)
        np.multiply(k3, h, out=tmp)
        np.add(tmp, y, out=tmp)
        deriv(t + h, tmp, k4)
        np.multiply(k2, 2, out=k2)
        np.multiply(k3, 2, out=k3)
        np.add(k1, k2, out=k1)
        np.add(k1, k3, out=k1)
        np.add(k1, k4, out=k1)
        np.multiply(k1, h / 6, out=k1)
        np.add(y, k1, out=y)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "states": y.T.tolist(),
                "numpy": np.__version__,
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
