"""Every pair of this folder's runs through ``mlpbench compare``: identical code (a-f)
pairwise, and each of a-f against the runs with ``slow`` slowed by 10% (s1-s4); for the
runs in one process (``p8-``, 8 passes), in eight (``q8-``, ``--processes 8``), and those
of ../2026-12-03-vm-zen3-compare (3 passes, one process); per point and per
implementation (the geometric mean over its points, with its own interval). Then, for
each point, how far its drift-corrected time moved between the identical runs (log sd of
the runs' means of their pass estimates) against what the passes of one run imply (sqrt
of the mean of var(passes)/passes). Run from this folder: ``python evaluate.py``."""
import collections
import itertools
import json

import numpy as np

from mlpbench.harness import schema
from mlpbench.report import compare as C

SAME_RUNS, SLOW_RUNS = "a b c d e f".split(), "s1 s2 s3 s4".split()
SETS = {"3 passes, 1 process (../2026-12-03-vm-zen3-compare)": "../2026-12-03-vm-zen3-compare/",
        "8 passes, 1 process (p8-)": "p8-", "8 passes, 8 processes (q8-)": "q8-"}

for label, prefix in SETS.items():
    docs = {k: json.load(open(f"{prefix}{k}.json")) for k in SAME_RUNS + SLOW_RUNS}
    same = total = exit0 = impl_same = impl_total = impl_found = impl_wrong = 0
    wrong_at = collections.Counter()
    for a, b in itertools.combinations(SAME_RUNS, 2):
        r = C.compare(docs[a], docs[b])
        same, total, exit0 = same + r.count(C.SAME), total + len(r.rows), exit0 + (not r.any_slower)
        wrong_at.update(f"{row.key[0]} n={row.key[3]}" for row in r.rows if row.verdict != C.SAME)
        impl_same += sum(i.verdict == C.SAME for i in r.impls)
        impl_total += len(r.impls)
    found = slowed = exit1 = wrong = others = 0
    for a, s in itertools.product(SAME_RUNS, SLOW_RUNS):
        r = C.compare(docs[a], docs[s])
        exit1 += r.any_slower
        for i in r.impls:
            if i.impl == "slow":
                impl_found += i.verdict == C.SLOWER
            else:
                impl_wrong += i.verdict != C.SAME
        for row in r.rows:
            if row.key[0] == "slow":
                slowed, found = slowed + 1, found + (row.verdict == C.SLOWER)
            else:
                others, wrong = others + 1, wrong + (row.verdict != C.SAME)
    print(f"{label}:\n  identical code: no change at {same}/{total} points ({same / total:.1%}), "
          f"exit 0 in {exit0}/15; slowed by 10%: {found}/{slowed} slow points called slower "
          f"({found / slowed:.0%}), exit 1 in {exit1}/24, other points not 'no change' "
          f"{wrong}/{others}")
    print(f"  per implementation: identical code 'no change' {impl_same}/{impl_total} "
          f"({impl_same / impl_total:.1%}); slowed by 10%: slow called slower {impl_found}/24, "
          f"other implementations not 'no change' {impl_wrong}/72")
    print(f"  identical code, points not 'no change': {dict(wrong_at)}")
    pts = [p for k in SAME_RUNS for p in docs[k]["points"]]
    theta = {i: C._sensitivity([p for p in pts if p["impl"] == i]) for i in sorted({p["impl"] for p in pts})}
    print("  theta: " + ", ".join(f"{i} {t:.2f}" for i, t in theta.items()))
    print("  point         drift-corrected log sd: between runs / implied by the passes, samples per run")
    for key in (schema.point_key(p) for p in docs["a"]["points"]):
        means, implied, samples = [], [], []
        for k in SAME_RUNS:
            p = {schema.point_key(q): q for q in docs[k]["points"]}[key]
            logs = C._pass_logs(p, theta[key[0]])
            means.append(logs.mean())
            implied.append(logs.var(ddof=1) / logs.size)
            samples.append(len(p["times_s"]))
        print(f"  {key[0]:6s} n={key[3]:<5d} {np.std(means, ddof=1):.3f} / {np.sqrt(np.mean(implied)):.3f}"
              f"   {np.mean(samples):.0f}")
