"""Benchmark harness: sweeps, their result files, timing, machine metadata and ceilings.

One module per job:

- ``config``: what a sweep measures (:class:`~mlpbench.harness.config.SweepConfig`),
  its defaults (the registry's implementations) and its validation;
- ``gate``: the problem at a point, the callable of a phase, and the correctness gate
  against the ``numpy`` reference;
- ``timing``: the timing loop (cold call, calibrated samples, interleaved turns);
- ``budget`` and ``memory``: will a point fit the time budget, and in memory;
- ``sweep``: the loop (``run_sweep``; ``measure_size`` is one size), which writes
  one result file; ``cluster`` spreads the same sizes over several machines;
- ``schema``: the layout of a result file and its field-by-field check;
  ``results``: the one loader every command that reads result files uses;
- ``peak``: the machine's GEMM and memory ceilings; ``machine``: the machine,
  available memory, thread settings; ``coldstart``: first calls in new processes;
- ``tables`` prints results; ``stats`` holds the interval and verdict arithmetic;
  ``epochs`` times training epochs.

Reading and writing files (atomic writes, size and depth caps, output locks) is
:mod:`mlpbench.files`, below every layer.
"""
