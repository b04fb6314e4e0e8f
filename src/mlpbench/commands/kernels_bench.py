"""``mlpbench bench --kernels [NAMES]``: part 1's kernels timed over array sizes
(:func:`harness.kernel_sweep.run_kernel_sweep`); the options live in ``bench``."""

from __future__ import annotations

import time
from pathlib import Path

from mlpbench.commands import common
from mlpbench.errors import UsageError


def add_options(p) -> None:
    """``--kernels`` on the ``bench`` parser."""
    p.add_argument("--kernels", nargs="?", const=common.ALL, default=None, metavar="NAMES",
                   help="time spec part 1's kernels instead of the MLP: NAMES, "
                        f"{common.LIST_FORMS} (default: all: sigmoid, sigmoid_grad, "
                        "tanh_grad, softplus, log_sigmoid, relu, relu_grad, softmax, "
                        "logsumexp, l1, l1_grad, sq_l2, sq_l2_grad), over array sizes "
                        "(--sizes; default 1 to 10^7 by powers of 4), rows of width --m for "
                        "softmax and logsumexp, float64 and float32, every implementation "
                        "(loops, numpy, numba, torch, jax where installed)")


#: bench options that mean nothing for kernels: (attribute, flag, value when not given).
_MLP_ONLY = (("vary", "--vary", "n"), ("phase", "--phase", None), ("l1", "--l1", 0.0),
             ("l2", "--l2", 0.0), ("n", "--n", None), ("d", "--d", None),
             ("d_h", "--d-h", None), ("cluster", "--cluster", None),
             ("peer_inputs", "--peer-inputs", "resident"), ("activation", "--activation", None))


def kernel_config(args):
    """The :class:`harness.kernel_sweep.KernelConfig` the options describe."""
    from mlpbench.harness import kernel_sweep

    for attr, flag, unset in _MLP_ONLY:
        if getattr(args, attr, unset) not in (unset, None) or (
                unset is None and getattr(args, attr, None) is not None):
            raise UsageError(f"{flag} is an option of the MLP sweep; --kernels does not take it")
    names = common.name_list(args.kernels)
    kernels = None if common.ALL in names else names
    impls = [n for n in (args.impl or [common.ALL])]
    if common.ALL in impls:
        impls = [*kernel_sweep.available(), *(n for n in impls if n != common.ALL)]
    threads = args.threads
    if isinstance(threads, list):
        if len(threads) != 1:
            raise UsageError("--kernels runs one thread count; give --threads N")
        threads = threads[0]
    cfg = kernel_sweep.KernelConfig(
        implementations=tuple(dict.fromkeys(impls)), sizes=args.sizes, m=args.m,
        dtypes=tuple(args.dtype or ("float64", "float32")), budget_s=args.budget,
        threads=common.resolve_threads(threads), seed=args.seed, quick=args.quick,
        reference=args.reference, precision=args.precision)
    if kernels is not None:
        cfg.kernels = tuple(dict.fromkeys(kernels))
    return kernel_sweep.validate_config(cfg)


def run(args) -> int:
    from mlpbench.commands.bench import _warn_if_busy
    from mlpbench.harness import kernel_sweep
    from mlpbench.harness.peak import load_peak

    if args.resume and args.force:
        raise UsageError("--resume and --force exclude each other")
    if args.resume and args.out is None:
        raise UsageError("--resume needs -o FILE, the result file to continue")
    cfg = kernel_config(args)
    peak = load_peak(args.peak) if args.peak is not None else None
    out = args.out or Path("results") / f"bench-kernels-{time.strftime('%Y%m%d-%H%M%S')}.json"
    _warn_if_busy(cfg.threads)
    args.interrupt_note = f"finished points are in {out} (continue with --resume -o {out})"
    doc = kernel_sweep.run_kernel_sweep(cfg, out, resume=args.resume,
                                        progress=not args.no_progress, peak=peak,
                                        force=args.force)
    args.interrupt_note = None
    counts = {s: sum(p["status"] == s for p in doc["points"]) for s in ("ok", "skipped", "failed")}
    print(f"wrote {out}: {counts['ok']} timed, {counts['skipped']} skipped, "
          f"{counts['failed']} failed")
    for p in doc["points"]:
        if p["status"] == "failed":
            print(f"  FAILED {p['impl']} {p['dtype']} {p['kernel']} size={p['size']}: "
                  f"{p['reason']}")
    for line in kernel_sweep.summary_lines(doc):
        print(line)
    return 1 if counts["failed"] else 0
