"""``compare`` with two runs on each side (``--base-runs``/``--new-runs``): identical code
as every split of two of a-f against two others, and two of a-f against two of the
slowed runs s1-s4; for the runs in one process (p8-) and in eight (q8-); per point and per
implementation (the geometric mean over its points). Run from this
folder: ``python replicates.py``."""
import itertools
import json

from mlpbench.report import compare as C

SAME_RUNS, SLOW_RUNS = "a b c d e f".split(), "s1 s2 s3 s4".split()
for label, prefix in (("8 passes, 1 process (p8-)", "p8-"), ("8 passes, 8 processes (q8-)", "q8-")):
    docs = {k: json.load(open(f"{prefix}{k}.json")) for k in SAME_RUNS + SLOW_RUNS}
    same = total = exit0 = cases = impl_same = impl_total = impl_found = 0
    for a, b, c, d in itertools.permutations(SAME_RUNS, 4):
        if not (a < b and c < d and a < c):  # each split of four runs into two pairs once
            continue
        r = C.compare(docs[a], docs[c], base_more=[docs[b]], new_more=[docs[d]])
        same, total, exit0, cases = same + r.count(C.SAME), total + len(r.rows), exit0 + (not r.any_slower), cases + 1
        impl_same, impl_total = impl_same + sum(i.verdict == C.SAME for i in r.impls), impl_total + len(r.impls)
    found = slowed = exit1 = wrong = others = pairs = 0
    for (a, b), (s, t) in itertools.product(itertools.combinations(SAME_RUNS, 2),
                                            itertools.combinations(SLOW_RUNS, 2)):
        r = C.compare(docs[a], docs[s], base_more=[docs[b]], new_more=[docs[t]])
        exit1, pairs = exit1 + r.any_slower, pairs + 1
        impl_found += any(i.impl == "slow" and i.verdict == C.SLOWER for i in r.impls)
        for row in r.rows:
            if row.key[0] == "slow":
                slowed, found = slowed + 1, found + (row.verdict == C.SLOWER)
            else:
                others, wrong = others + 1, wrong + (row.verdict != C.SAME)
    print(f"{label}, two runs a side:\n  identical code: no change at {same}/{total} points "
          f"({same / total:.1%}), exit 0 in {exit0}/{cases}; slowed by 10%: {found}/{slowed} "
          f"slow points called slower ({found / slowed:.0%}), exit 1 in {exit1}/{pairs}, other "
          f"points not 'no change' {wrong}/{others}")
    print(f"  per implementation: identical code 'no change' {impl_same}/{impl_total} "
          f"({impl_same / impl_total:.1%}); slow called slower in {impl_found}/{pairs}")
