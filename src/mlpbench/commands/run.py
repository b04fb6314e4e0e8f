"""``mlpbench run``: the main job, from nothing to a report folder
(:func:`mlpbench.report.run.run` does the stages)."""

from __future__ import annotations

import math

from mlpbench.commands import common
from mlpbench.errors import UsageError

AXES = ("n", "d", "d_h")


def register(subparsers) -> None:
    from mlpbench.report import run as consts

    p = subparsers.add_parser(
        "run", help="ceilings, sweeps of n, d and d_h, cold starts, accuracy, full report",
        description="The main job: measure this machine's ceilings (quick peak); sweep "
                    "every implementation over n, d and d_h (one result file each) and time "
                    "forward and backward at the base point; measure the JIT compile and "
                    "cached first-call times in new processes; compute the accuracy table; "
                    "write figures, report.md and report.html into one folder. About 5 to 7 "
                    "minutes with the defaults; --tiny is a smoke test of the whole chain.")
    common.add_out_dir(p, help="report folder (default: reports/<date>-<host>)",
                       force_help="reuse a non-empty --out, replacing its results and "
                                  "figures (other files stay)")
    for axis in AXES:
        common.add_int_list(p, f"--sizes-{axis}", dest=f"sizes_{axis}",
                            help=f"sizes of the {axis} sweep, {common.LIST_FORMS} (default: "
                                 f"{','.join(map(str, consts.QUICK_SIZES[axis]))}; with --tiny "
                                 f"{','.join(map(str, consts.TINY_SIZES[axis]))})")
    common.add_int_list(p, "--base", metavar="N,D,D_H,M",
                        help="base point the other axes stay at (default: 1024,784,256,10)")
    common.add_impl(p)
    common.add_dtypes(p)
    p.add_argument("--budget", type=float, metavar="SECONDS",
                   help="time allowed per point and implementation; predicted-longer points "
                        f"are skipped (default: {consts.QUICK_BUDGET_S:g}, with --tiny "
                        f"{consts.TINY_BUDGET_S:g})")
    common.add_threads(p, default=consts.DEFAULT_THREADS,
                       default_text=f"{consts.DEFAULT_THREADS}, robust on a busy machine; use "
                                    "more to measure multithreaded speed")
    p.add_argument("--tiny", action="store_true",
                   help="a smoke test: tiny base point and sizes, short timings, no peak, "
                        "no cold starts")
    p.add_argument("--no-peak", action="store_true", help="do not measure the ceilings")
    p.add_argument("--no-coldstart", action="store_true",
                   help="do not measure the JIT compile and cached first-call times in new "
                        "processes (about 20-60 s per JIT implementation and dtype)")
    p.add_argument("--no-kernels", action="store_true",
                   help="do not sweep part 1's kernels (a short sweep of "
                        f"{', '.join(consts.KERNELS)})")
    p.add_argument("--activation", metavar="NAME", default=consts.ACTIVATION,
                   help="the hidden activation whose step is timed at the base point beside "
                        f"ReLU's (default: {consts.ACTIVATION}; 'relu' for none)")
    p.add_argument("--no-numerics", action="store_true",
                   help="leave out the accuracy figure (needs mpmath)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    from mlpbench.commands.bench import add_cluster

    add_cluster(p, modes=False)
    p.set_defaults(func=run)


def run(args) -> int:
    from mlpbench.commands.report import print_done
    from mlpbench.report import run as pipeline

    base = None
    if args.base is not None:
        if len(args.base) != 4:
            raise UsageError(f"--base takes four sizes N,D,D_H,M, got {len(args.base)}")
        base = dict(zip(("n", "d", "d_h", "m"), args.base, strict=True))
    given = {axis: getattr(args, f"sizes_{axis}") for axis in AXES}
    defaults = pipeline.TINY_SIZES if args.tiny else pipeline.QUICK_SIZES
    sizes = {axis: list(v if v is not None else defaults[axis]) for axis, v in given.items()}
    budget = args.budget
    if budget is None:
        budget = pipeline.TINY_BUDGET_S if args.tiny else pipeline.QUICK_BUDGET_S
    if args.tiny:
        base = base or dict(pipeline.TINY_BASE)
    dtypes = list(dict.fromkeys(args.dtype or ["float64"]))
    for dt in dtypes:
        if dt not in ("float32", "float64"):
            raise UsageError(f"unknown dtype {dt!r}; choose from float32, float64")
    if not (math.isfinite(budget) and budget > 0):
        raise UsageError(f"--budget must be a positive number of seconds, got {budget}")
    if args.cluster is not None and args.threads == common.ALL:
        raise UsageError("--threads all counts this machine's cores, not the workers'; "
                         "give a number with --cluster")
    plan = pipeline.RunPlan(
        out=args.out or pipeline.default_out(), sizes=sizes,
        implementations=common.implementations(args.impl), dtypes=dtypes, budget_s=budget,
        threads=common.resolve_threads(args.threads), peak=not (args.no_peak or args.tiny),
        numerics=not args.no_numerics, coldstart=not (args.no_coldstart or args.tiny),
        progress=not args.no_progress, force=args.force, cluster=args.cluster)
    if base is not None:
        plan.base = base
    from mlpbench.mlp.validation import check_activation

    plan.activation = None if check_activation(args.activation) == "relu" else args.activation
    plan.kernel_sizes = (None if args.no_kernels else
                         list(pipeline.TINY_KERNEL_SIZES if args.tiny else pipeline.KERNEL_SIZES))
    args.interrupt_note = (f"the sweeps finished so far are in {plan.out}/results_*.json "
                           "(each keeps its finished points)")
    print_done(pipeline.run(plan, echo=pipeline.main_echo))
    return 0
