"""Turns of numpy, numba, numba-loops and the canary at 2 threads: before each kept
sample, (none) one warm-up loop; (sleep) 0.15 s asleep, then one warm-up loop;
(work) warm-up loops for 0.15 s. Median us per call over 15 rounds, twice each."""
import sys, time, statistics
from mlpbench import mlp
from mlpbench.harness.machine import configured_threads
from mlpbench.harness.canary import make_step_canary
pc = time.perf_counter
threads = int(sys.argv[1]); sizes = [int(s) for s in sys.argv[2].split(",")]
names = ["numpy", "numba", "numba-loops", "canary"]
with configured_threads(threads):
    for n in sizes:
        prob = mlp.check_inputs(*mlp.make_problem(n, 784, 256, 10, seed=0, dtype="float64"))
        p, X, y = prob
        fns = [lambda f=mlp.get(i).raw.loss_and_grad: f(p, X, y, 0.0, 0.0) for i in names[:3]]
        fns.append(make_step_canary(prob))
        loops = []
        for f in fns:
            f(); t0 = pc(); f(); dt = pc() - t0
            loops.append(max(1, int(1e-3 / dt) + 1))
        def run(i):
            t0 = pc()
            for _ in range(loops[i]): fns[i]()
            return pc() - t0
        out = {}
        for rep in range(2):
            for kind in ("none", "sleep", "work"):
                ts = [[] for _ in fns]
                for r in range(15):
                    for i in range(len(fns)):
                        if kind == "sleep":
                            time.sleep(0.15)
                        if kind == "work":
                            end = pc() + 0.15
                            while pc() < end: run(i)
                        else:
                            run(i)
                        ts[i].append(run(i) / loops[i])
                out.setdefault(kind, []).append([statistics.median(t) * 1e6 for t in ts])
        for kind, v in out.items():
            print(f"t={threads} n={n:5d} {kind:5s} " + " | ".join(
                "/".join(f"{x:,.0f}" for x in r) for r in v) + "   numpy/numba, numpy/numba-loops: "
                + "  ".join(f"{r[0]/r[1]:.2f},{r[0]/r[2]:.2f}" for r in v))
