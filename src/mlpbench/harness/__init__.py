"""Benchmark harness: timing, sweeps, result files, machine metadata and ceilings.

``sweep.run_sweep`` times the implementations of ``mlpbench.mlp`` over a range
of sizes and writes one result file (layout in ``schema``); ``peak`` measures
the machine's GEMM and memory ceilings; ``machine`` records the machine and
chooses thread settings; ``tables`` prints results.
"""
