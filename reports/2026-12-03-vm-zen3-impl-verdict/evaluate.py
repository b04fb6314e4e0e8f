"""Every pair of this folder's runs through ``mlpbench compare``: identical code (a-f)
pairwise (15 pairs), and each of a-f against the runs with ``slow`` slowed by 10% (s1-s4,
24 pairs), per point and per implementation; the same split by the machine's state
(the canary at n = 1 about 40 µs: "fast", about 70 µs: "slow"); then the precision each
point of run a reached. Run from this folder: ``python evaluate.py`` for the default
runs (3 passes, 1 process), ``python evaluate.py q8-`` for ``--passes 8 --processes 8``."""
import itertools
import json
import sys

import numpy as np

from mlpbench.report import compare as C

SAME, SLOW = "a b c d e f".split(), "s1 s2 s3 s4".split()
PREFIX = sys.argv[1] if len(sys.argv) > 1 else ""
docs = {k: json.load(open(f"{PREFIX}{k}.json")) for k in SAME + SLOW}


def canary_n1(doc):
    p = next(p for p in doc["points"] if p["impl"] == "numpy" and p["n"] == 1)
    return float(np.nanmedian([np.nan if v is None else v for v in p["canary_s"]]))


state = {k: "fast" if canary_n1(d) < 55e-6 else "slow" for k, d in docs.items()}
print("runs: " + ", ".join(f"{k} {canary_n1(d) * 1e6:.0f} µs ({state[k]})" for k, d in docs.items()))


def tally(pairs, label):
    same = total = ex0 = isame = itot = 0
    for a, b in pairs:
        r = C.compare(docs[a], docs[b])
        same, total, ex0 = same + r.count(C.SAME), total + len(r.rows), ex0 + (not r.any_slower)
        isame, itot = isame + sum(i.verdict == C.SAME for i in r.impls), itot + len(r.impls)
    if pairs:
        print(f"{label}: identical code ({len(pairs)} pairs): points 'no change' {same}/{total} "
              f"({same / total:.1%}); implementations 'no change' {isame}/{itot}; exit 0 in {ex0}/{len(pairs)}")


def slowed(pairs, label):
    found = n = ex1 = ifound = wrong = others = 0
    for a, s in pairs:
        r = C.compare(docs[a], docs[s])
        ex1 += r.any_slower
        for row in r.rows:
            if row.key[0] == "slow":
                n, found = n + 1, found + (row.verdict == C.SLOWER)
            else:
                others, wrong = others + 1, wrong + (row.verdict != C.SAME)
        ifound += any(i.impl == "slow" and i.verdict == C.SLOWER for i in r.impls)
    if pairs:
        print(f"{label}: slowed by 10% ({len(pairs)} pairs): slow points called slower {found}/{n} "
              f"({found / n:.0%}); slow as a whole {ifound}/{len(pairs)}; exit 1 in {ex1}/{len(pairs)}; "
              f"other points not 'no change' {wrong}/{others}")


same_pairs = list(itertools.combinations(SAME, 2))
slow_pairs = list(itertools.product(SAME, SLOW))
tally(same_pairs, "all")
slowed(slow_pairs, "all")
for kind, keep in (("same machine state", True), ("machine state changed", False)):
    tally([p for p in same_pairs if (state[p[0]] == state[p[1]]) == keep], kind)
    slowed([p for p in slow_pairs if (state[p[0]] == state[p[1]]) == keep], kind)
print("precision reached, run a (relative half-width of the 95% interval; target ±3%):")
for p in docs["a"]["points"]:
    pr = p["precision"]
    ratio = f"  ratio to numpy ±{pr['ratio']:.1%}" if pr.get("ratio") is not None else ""
    print(f"  {p['impl']:6s} n={p['n']:<5d} {p['samples']:3d} samples in {p['passes']} passes: "
          f"median ±{pr['median']:.1%}{ratio}{'' if pr['met'] else '  (target not reached)'}")
