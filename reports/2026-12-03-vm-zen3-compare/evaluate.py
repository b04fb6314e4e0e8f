"""Every pair of this folder's runs through ``mlpbench compare``: identical code (a-f)
pairwise, and each of a-f against the runs with ``slow`` slowed by 10% (s1-s4); once
with each implementation's measured sensitivity to the canary (θ), once with the whole
canary (θ = 1, the rule before). Run from this folder: ``python evaluate.py``."""
import itertools
import json

from mlpbench.report import compare as C

SAME_RUNS, SLOW_RUNS = "a b c d e f".split(), "s1 s2 s3 s4".split()
docs = {k: json.load(open(f"{k}.json")) for k in SAME_RUNS + SLOW_RUNS}
measured = C._sensitivity
for name, rule in (("θ measured", measured), ("θ = 1", lambda points: 1.0)):
    C._sensitivity = rule
    same = total = exit0 = 0
    for a, b in itertools.combinations(SAME_RUNS, 2):
        r = C.compare(docs[a], docs[b])
        same, total, exit0 = same + r.count(C.SAME), total + len(r.rows), exit0 + (not r.any_slower)
    found = slowed = exit1 = wrong = others = 0
    for a, s in itertools.product(SAME_RUNS, SLOW_RUNS):
        r = C.compare(docs[a], docs[s])
        exit1 += r.any_slower
        for row in r.rows:
            if row.key[0] == "slow":
                slowed, found = slowed + 1, found + (row.verdict == C.SLOWER)
            else:
                others, wrong = others + 1, wrong + (row.verdict != C.SAME)
    pairs = len(SAME_RUNS) * len(SLOW_RUNS)
    print(f"{name}: identical code: no change at {same}/{total} points ({same / total:.1%}), "
          f"exit 0 in {exit0}/15; slowed by 10%: {found}/{slowed} slow points called slower "
          f"({found / slowed:.0%}), exit 1 in {exit1}/{pairs}, other points not 'no change' "
          f"{wrong}/{others}")
