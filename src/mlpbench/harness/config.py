"""What a sweep measures: :class:`SweepConfig`, its defaults and its validation.

``validate_config`` checks every field once, at the boundary, with the shared checks
of :mod:`mlpbench.checks`; a bad field raises an :mod:`mlpbench.errors` class whose
message names it. The default implementations are the registry's
(``mlp.IMPLEMENTATIONS``), never a list kept here.
"""

from __future__ import annotations

import dataclasses
import math
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlpbench.checks import check_choice, check_penalty, check_positive, check_positive_int
from mlpbench.errors import InputError, InputTypeError, UsageError
from mlpbench.harness import schema
from mlpbench.harness.timing import Policy

GRID = schema.GRID
SWEEP_AXES = schema.SWEEP_AXES

#: Swept sizes when none are given: (full, quick).
DEFAULT_SIZES = {
    "n": ([1, 4, 16, 64, 256, 1024, 4096], [1, 16, 256, 4096]),
    "d": ([16, 64, 256, 784, 2048], [16, 256, 2048]),
    "d_h": ([16, 64, 256, 1024, 2048], [16, 256, 2048]),
}
#: Per-implementation, per-point time budgets (seconds): (full, quick).
DEFAULT_BUDGET_S = (20.0, 5.0)

#: Passes over the sweep (SweepConfig.passes).
DEFAULT_PASSES = 3
MAX_PASSES = 100
#: Fresh processes the passes are spread over (SweepConfig.processes).
DEFAULT_PROCESSES = 1
#: The fewest samples one pass takes of a point.
MIN_PASS_SAMPLES = 2

#: How the peers get their inputs (SweepConfig.peer_inputs); the first is the default.
PEER_INPUTS = ("resident", "numpy")

#: Sampling policies: (full, quick). Budgets come from the sweep's budget_s.
POLICY = Policy(min_sample_s=1e-3, target_s=1.0, min_samples=7, max_samples=200)
QUICK_POLICY = Policy(min_sample_s=1e-3, target_s=0.25, min_samples=5, max_samples=50)


def per_pass(policy: Policy, passes: int, which: int = 1) -> Policy:
    """``policy`` for pass ``which`` of ``passes``: its budget and its minimum and
    maximum numbers of samples divided (at least MIN_PASS_SAMPLES), and its precision
    target ``precision * sqrt(passes / which)``: the stop is read on the samples of
    this pass and the earlier ones together (``measure_interleaved``'s ``prior``), so
    the first pass stops at a wider interval and the last at the point's own target."""
    least = max(MIN_PASS_SAMPLES, math.ceil(policy.min_samples / passes))
    return dataclasses.replace(
        policy, budget_s=policy.budget_s / passes, min_samples=least,
        max_samples=max(least, math.ceil(policy.max_samples / passes)),
        precision=policy.precision * math.sqrt(passes / which))


#: How long each turn of a sweep on more than one thread warms up before its kept
#: sample (SweepConfig.settle_s): OpenBLAS's workers spin ~0.1 s for more work after
#: each call (2^28 cycles), on the cores the implementation timed next needs. Measured
#: on a 2-core Zen 3 VM, 2 threads, n = 64/256/1024: numba-loops at 0.62/0.52/0.49 of
#: numpy's speed in turns with one warm-up loop, 0.86/0.92/0.89 after a 0.15 s pause
#: (reports/2026-12-03-vm-zen3-pools). A pause (sleeping) made the next samples up to
#: 1.6x slow at n = 1; warming up for 0.15 s fixes both
#: (reports/2026-12-03-vm-zen3-settle).
SETTLE_S = 0.15


def sampling_policy(quick: bool, budget_s: float, precision: float,
                    settle_s: float = 0.0) -> Policy:
    """The sampling policy of a sweep (full or quick) with its budget, precision and
    warm-up length of each turn (settle_s)."""
    return dataclasses.replace(QUICK_POLICY if quick else POLICY, budget_s=float(budget_s),
                               precision=float(precision), settle_s=float(settle_s))


def default_sizes(axis: str, quick: bool = False) -> list[int] | dict[str, list[int]]:
    """Sizes swept when the user gives none (a mapping for the grid)."""
    if axis == GRID:
        return {a: list(DEFAULT_SIZES[a][1]) for a in schema.AXES}
    return list(DEFAULT_SIZES[axis][1 if quick else 0])


def registered_implementations() -> tuple[str, ...]:
    """Every implementation of mlp's registry, in its display order (the default)."""
    from mlpbench import mlp

    return tuple(mlp.IMPLEMENTATIONS)


@dataclass
class SweepConfig:
    """What to sweep. ``sizes`` lists the values of ``axis`` (the others stay at
    ``base``); for ``axis="grid"`` it maps each of n, d, d_h to its values (an
    axis left out stays at ``base``). ``None`` fields take their defaults;
    ``implementations`` defaults to every registered one."""

    axis: str = "n"
    sizes: Sequence[int] | Mapping[str, Sequence[int]] | None = None
    base: Mapping[str, int] = field(default_factory=lambda: dict(schema.BASE))
    implementations: Sequence[str] = field(default_factory=registered_implementations)
    dtypes: Sequence[str] = ("float64",)
    phases: Sequence[str] = ("step",)
    l1: float = 0.0
    l2: float = 0.0
    budget_s: float | None = None
    threads: int | None = None
    seed: int = 0
    quick: bool = False
    #: In-run ratios and verdicts are against this implementation (the gate stays numpy).
    reference: str = "numpy"
    #: Adaptive sampling stops once the 95% intervals are this narrow (relative).
    precision: float = 0.03
    #: The hidden activation of every point (docs/math.md#hidden-activations).
    activation: str = "relu"
    #: How the peers (PyTorch, JAX) get their inputs: "resident" (converted to their own
    #: types once per point, outside the timed call, as their users run them) or
    #: "numpy" (NumPy arrays at every call, the conversion timed). See harness.gate.
    peer_inputs: str = "resident"
    #: Each point is timed in this many passes over the whole sweep (asv's "rounds"):
    #: a burst of load, or a slow patch of the machine, then hits one pass of each point
    #: rather than all of one point, and every pass times fresh copies of the inputs.
    passes: int = DEFAULT_PASSES
    #: The passes are spread over this many fresh Python processes, one after the other
    #: (pyperf's worker processes): what one process draws once and keeps (where its
    #: arrays and code landed in memory, the core it settled on) then varies between
    #: passes, so the intervals over passes see it and the run's figures average it.
    #: Measured on a shared Zen 3 VM: the same point's drift-corrected time moved
    #: 3-5% (log sd) between runs, against 2-3% between passes of one process.
    processes: int = DEFAULT_PROCESSES
    #: Seconds each turn warms up (calls not kept, not counted in the budget) before its
    #: kept sample, so that the previous library's spinning threads have gone to sleep;
    #: None: SETTLE_S on more than one thread, 0 on one (one warm-up loop; nothing then
    #: spins on another core).
    settle_s: float | None = None

    def resolved_settle(self) -> float:
        if self.settle_s is not None:
            return float(self.settle_s)
        return SETTLE_S if (self.threads or 1) > 1 else 0.0

    def resolved_budget(self) -> float:
        if self.budget_s is not None:
            return float(self.budget_s)
        return DEFAULT_BUDGET_S[1 if self.quick else 0]

    def swept_sizes(self) -> dict[str, list[int]]:
        """The values of n, d and d_h the sweep visits."""
        sizes = default_sizes(self.axis, self.quick) if self.sizes is None else self.sizes
        if self.axis == GRID:
            return {a: list(sizes.get(a, [self.base[a]])) for a in schema.AXES}
        return {a: (list(sizes) if a == self.axis else [self.base[a]]) for a in schema.AXES}

    def points(self) -> list[dict[str, int]]:
        """Every (n, d, d_h, m) of the sweep, ordered by growing FLOP count."""
        s = self.swept_sizes()
        pts = [{"n": n, "d": d, "d_h": d_h, "m": self.base["m"]}
               for n, d, d_h in itertools.product(s["n"], s["d"], s["d_h"])]
        return sorted(pts, key=lambda p: (schema.flops("step", **p), p["n"], p["d"], p["d_h"]))

    def policy(self) -> Policy:
        """The policy of the whole point: its budget is the sum over its passes."""
        return sampling_policy(self.quick, self.resolved_budget(), self.precision,
                               self.resolved_settle())

    def stages(self) -> list[int]:
        """The last pass each process times: the passes in ``processes`` contiguous,
        near-equal groups (8 passes over 3 processes: [2, 5, 8])."""
        return [i * self.passes // self.processes for i in range(1, self.processes + 1)]

    def pass_policy(self, which: int = 1) -> Policy:
        """The policy of pass ``which`` (from 1): see :func:`per_pass`."""
        return per_pass(self.policy(), self.passes, which)

    def as_dict(self) -> dict[str, Any]:
        """The result file's ``sweep`` field; ``--resume`` requires it to match."""
        return {
            "axis": self.axis, "sizes": self.swept_sizes(), "base": dict(self.base),
            "implementations": list(self.implementations), "dtypes": list(self.dtypes),
            "phases": list(self.phases), "l1": float(self.l1), "l2": float(self.l2),
            "budget_s": self.resolved_budget(), "seed": self.seed, "quick": bool(self.quick),
            "threads": self.threads, "reference": self.reference,
            "precision": float(self.precision), "peer_inputs": self.peer_inputs,
            "activation": self.activation, "passes": self.passes,
            "processes": self.processes, "settle_s": self.resolved_settle(),
        }


def _one_of(what: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    if isinstance(values, str) or not isinstance(values, Sequence) or not list(values):
        raise UsageError(f"give at least one {what} (a list), from: {', '.join(allowed)}")
    for v in values:
        check_choice(what, v, allowed)
    if len(set(values)) != len(values):
        raise UsageError(f"{what}s are listed twice: {', '.join(values)}")


def available_implementations(extra: Mapping[str, Any] | None = None) -> list[str]:
    """Names the sweep can time: mlp's registry plus any injected implementations."""
    return list(dict.fromkeys([*registered_implementations(), *(extra or {})]))


def _size(name: str, value: Any) -> int:
    return check_positive_int(name, value, maximum=schema.MAX_SIZE)


def _check_sizes(cfg: SweepConfig) -> list[int] | dict[str, list[int]]:
    if cfg.axis == GRID:
        if not isinstance(cfg.sizes, Mapping) or set(cfg.sizes) - set(schema.AXES):
            raise UsageError("grid sizes must map some of n, d, d_h to lists of sizes")
        lists = dict(cfg.sizes)
    else:
        if isinstance(cfg.sizes, Mapping | str) or not isinstance(cfg.sizes, Sequence):
            raise InputTypeError(f"sizes for axis {cfg.axis} must be a list of integers, "
                                 f"got {type(cfg.sizes).__name__}")
        lists = {cfg.axis: cfg.sizes}
    checked = {}
    for axis, values in lists.items():
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise InputTypeError(f"sizes for {axis} must be a list of integers, "
                                 f"got {type(values).__name__}")
        values = [_size(f"sizes for {axis}", v) for v in values]
        if not values:
            raise InputError(f"the size list for {axis} is empty; give at least one size")
        if len(set(values)) != len(values):
            raise InputError(f"the size list for {axis} repeats a size: {values}")
        checked[axis] = values
    return checked if cfg.axis == GRID else checked[cfg.axis]


def validate_config(cfg: SweepConfig, impls: Mapping[str, Any] | None = None) -> SweepConfig:
    """Check every field once, at the boundary; return ``cfg``, its sizes made plain
    ints (a NumPy integer would not go into the result file).

    Raises InputError / InputTypeError / UsageError (all :mod:`mlpbench.errors`)
    naming the field and what was expected.
    """
    from mlpbench.harness.machine import check_threads

    check_choice("axis", cfg.axis, SWEEP_AXES)
    if not isinstance(cfg.base, Mapping):
        raise InputTypeError(f"base must map n, d, d_h, m to sizes, got {type(cfg.base).__name__}")
    for k in schema.SIZE_KEYS:
        if k not in cfg.base:
            raise InputError(f"base lacks {k}; give n, d, d_h and m")
        _size(f"base {k}", cfg.base[k])
    extra = set(cfg.base) - set(schema.SIZE_KEYS)
    if extra:
        raise InputError(f"base takes n, d, d_h and m only, got {', '.join(map(str, extra))}")
    cfg.base = {k: int(cfg.base[k]) for k in schema.SIZE_KEYS}
    if cfg.sizes is not None:
        cfg.sizes = _check_sizes(cfg)
    _one_of("implementation", cfg.implementations, available_implementations(impls))
    _one_of("dtype", cfg.dtypes, schema.DTYPES)
    _one_of("phase", cfg.phases, schema.PHASES)
    for name in ("l1", "l2"):
        check_penalty(name, getattr(cfg, name))
    if cfg.budget_s is not None:
        check_positive("budget (seconds)", cfg.budget_s)
    if not isinstance(cfg.seed, int) or isinstance(cfg.seed, bool) or cfg.seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {cfg.seed!r}")
    # A reference that is not timed in this sweep gives no ratios, not an error.
    check_choice("reference", cfg.reference, available_implementations(impls))
    from mlpbench.mlp.validation import check_activation

    check_activation(cfg.activation)
    check_positive("precision", cfg.precision)
    if cfg.precision >= 1:
        raise InputError(f"precision is a relative half-width below 1 (0.03 = ±3%), "
                         f"got {cfg.precision}")
    check_choice("peer inputs", cfg.peer_inputs, PEER_INPUTS)
    cfg.passes = check_positive_int("passes", cfg.passes, maximum=MAX_PASSES)
    cfg.processes = check_positive_int("processes", cfg.processes, maximum=MAX_PASSES)
    if cfg.processes > cfg.passes:
        raise InputError(f"processes must be at most passes (each process times at least "
                         f"one pass), got {cfg.processes} processes for {cfg.passes} passes")
    if cfg.settle_s is not None and not (isinstance(cfg.settle_s, (int, float))
                                         and 0 <= cfg.settle_s <= 10):
        raise InputError(f"settle is a warm-up in seconds between 0 and 10, got "
                         f"{cfg.settle_s!r}")
    if not isinstance(cfg.quick, bool):
        raise InputTypeError(f"quick must be true or false, got {cfg.quick!r}")
    try:
        check_threads(cfg.threads)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return cfg
