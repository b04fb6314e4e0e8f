"""``mlpbench peak``: measure this machine's GEMM GFLOP/s and memory bandwidth, the
ceilings the reports compare against (:mod:`harness.peak`)."""

from __future__ import annotations

from pathlib import Path

from mlpbench.commands import common

DEFAULT_OUT = Path("results/peak.json")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "peak", help="measure GEMM GFLOP/s and memory bandwidth of this machine",
        description="Measure GEMM GFLOP/s (float32/float64, 1 and all threads) and memory "
                    "bandwidth (triad); write them to a JSON file for `bench --peak`.")
    common.add_out_file(p, default=DEFAULT_OUT, help=f"peak file (default: {DEFAULT_OUT})",
                        force_help="overwrite an existing peak file")
    p.add_argument("--quick", action="store_true", help="smaller sizes (a few seconds)")
    p.set_defaults(func=run)


def run(args) -> int:
    from mlpbench.files import check_writable, output_lock, write_json
    from mlpbench.harness.peak import format_peak, measure_peak, peak_document

    with output_lock(args.out, "peak file"):
        out = check_writable(args.out, force=args.force, what="peak file")
        peak = measure_peak(quick=args.quick)
        write_json(out, peak_document(peak))
    print(format_peak(peak))
    from mlpbench.harness.machine import blas_kernel_warning, machine_info

    if warn := blas_kernel_warning(machine_info()):
        print(f"WARNING: {warn}")
    print(f"wrote {out}")
    return 0
