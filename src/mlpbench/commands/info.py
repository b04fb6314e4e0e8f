"""``mlpbench info``: what a result file records about this machine (CPU, memory,
versions, BLAS, environment), the thread settings ``bench`` uses, and the registered
implementations."""

from __future__ import annotations

import json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "info", help="print machine metadata, thread settings and implementations",
        description="Print what a result file records about this machine: CPU, memory, "
                    "versions, BLAS, environment, the thread settings bench uses, and the "
                    "registered implementations (what --impl all stands for).")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from mlpbench import mlp
    from mlpbench.harness.machine import SIMD_FLAGS, configured_threads, machine_info
    from mlpbench.mlp import peers

    info = machine_info()
    with configured_threads(None) as threads:
        pass
    impls = list(mlp.IMPLEMENTATIONS)
    missing = peers.unavailable()
    if args.json:
        print(json.dumps({"machine": info, "threads": threads, "implementations": impls,
                          "unavailable": missing}, indent=1))
        return 0
    mem = info["memory_bytes"]
    simd = [f for f in SIMD_FLAGS if f in info["cpu_flags"]]
    print(f"cpu       {info['cpu_model']} ({', '.join(simd) or 'SIMD flags unknown'})")
    memory = f"{mem / 2**30:.1f} GiB" if mem else "unknown"
    print(f"cores     {info['cores']} usable of {info['host_cpus']}; memory {memory}")
    print(f"os        {info['os']} ({info['hostname']})")
    print(f"versions  python {info['python']}, numpy {info['numpy']}, numba {info['numba']}, "
          f"llvmlite {info['llvmlite']}, scipy {info['scipy']}")
    for lib in info["blas"]:
        print(f"library   {lib.get('internal_api')} {lib.get('version')} "
              f"({lib.get('architecture') or lib.get('threading_layer')}), "
              f"{lib.get('num_threads')} threads: {lib.get('filepath')}")
    env = {k: v for k, v in info["env"].items() if v is not None}
    print("env       " + (", ".join(f"{k}={v}" for k, v in env.items()) or "(none set)"))
    print(f"bench     numba {threads['numba_threads']} threads, layer "
          f"{threads['threading_layer']}; BLAS {threads['blas_threads']} threads")
    print(f"impls     {', '.join(impls)}"
          + "".join(f"; {name} unavailable: {why}" for name, why in missing.items()))
    return 0
