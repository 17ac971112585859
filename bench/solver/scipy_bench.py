"""SciPy side of bench/solver (run by run.ts): solves the same problems with solve_ivp and prints
one JSON document: per case the max error over the output times and the median wall time."""
import json
import sys
import time

import numpy as np
import scipy
from scipy.integrate import solve_ivp

MU = 10.0
K = 0.7

PROBLEMS = {
    "decay": (lambda t, y: [-K * y[0]], [1.0], 10.0, lambda t: np.array([np.exp(-K * t)])),
    "harmonic": (lambda t, y: [y[1], -y[0]], [1.0, 0.0], 100.0, lambda t: np.array([np.cos(t), -np.sin(t)])),
    "vanderpol-mu10": (lambda t, y: [y[1], MU * (1 - y[0] * y[0]) * y[1] - y[0]], [2.0, 0.0], 100.0, None),
}


def timed(fn, reps, min_batch_s=0.02):
    """Median seconds per call over `reps` batches (a batch repeats fast calls to >= 20 ms)."""
    fn()
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    per_batch = max(1, int(min_batch_s / max(one, 1e-7)))
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(per_batch):
            fn()
        samples.append((time.perf_counter() - t0) / per_batch)
    return float(np.median(samples))


def main():
    cfg = json.loads(sys.argv[1])
    reps = cfg["reps"]
    n_eval = cfg["nEval"]
    out = {"version": scipy.__version__, "numpy": np.__version__, "python": sys.version.split()[0], "cases": [], "refs": {}}
    for name in cfg["problems"]:
        f, y0, t_end, exact = PROBLEMS[name]
        t_eval = np.linspace(0.0, t_end, n_eval)
        if exact is None:
            ref = solve_ivp(f, (0.0, t_end), y0, method="DOP853", rtol=1e-13, atol=1e-15, t_eval=t_eval).y
        else:
            ref = np.stack([exact(t) for t in t_eval], axis=1)
        out["refs"][name] = ref.T.flatten().tolist()
        for method in cfg["methods"]:
            for rtol, atol in cfg["tols"]:
                def run():
                    return solve_ivp(f, (0.0, t_end), y0, method=method, rtol=rtol, atol=atol, t_eval=t_eval)

                sol = run()
                err = float(np.max(np.abs(sol.y - ref)))
                sec = timed(run, reps)
                out["cases"].append({"problem": name, "method": method, "rtol": rtol, "atol": atol, "err": err,
                                     "ms": sec * 1e3, "nfev": int(sol.nfev)})
    print(json.dumps(out))


main()
