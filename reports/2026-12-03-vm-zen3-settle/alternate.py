"""Speed relative to numpy (numpy's time / the implementation's, paired by round) in the
alternating runs alt-K-settleS.json: settle 0 (one warm-up call per turn) against 0.15 s
of warm-up, three times each, 2 threads, float64."""
import glob
import re

from mlpbench.harness import results, stats

rows = []
for path in sorted(glob.glob("alt-*-settle*.json"), key=lambda p: (p.split("-")[1], p)):
    doc = results.load_results(path)
    k, s = re.match(r"alt-(\d+)-settle([\d.]+)\.json", path).groups()
    by = {(p["impl"], p["n"]): p for p in doc["points"] if p["status"] == "ok"}
    cells = []
    for n in (256, 1024):
        ref = by[("numpy", n)]
        for impl in ("numba", "numba-loops"):
            p = by[(impl, n)]
            est = stats.paired_ratio(ref["times_s"], ref["rounds"], p["times_s"], p["rounds"])
            cells.append(f"{impl} n={n}: {est.value:.2f} [{est.lo:.2f},{est.hi:.2f}]")
        cells.append(f"numpy n={n}: {ref['median_s'] * 1e6:,.0f} us")
    rows.append(f"run {k} settle {s:>4}: " + "  ".join(cells))
print("\n".join(rows))
