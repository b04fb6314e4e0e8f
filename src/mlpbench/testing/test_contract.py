"""Your implementation against the contract of docs/plugins.md.

Run with ``pytest -p mlpbench.testing --pyargs mlpbench.testing --impl mine=./mine.py``;
each test runs once per implementation given (the fixture ``mlpbench_impl``), in
float32 and float64, on the shapes of ``mlpbench check``.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench import mlp
from mlpbench.mlp import plugins, registry
from mlpbench.mlp.check import (
    DEFAULT_SHAPES,
    FD_MARGIN,
    FD_TOL,
    PENALTIES,
    REFERENCE,
    bad_input_faults,
)

DTYPES = ("float32", "float64")


@pytest.fixture(params=DTYPES)
def dtype(request):
    return request.param


@pytest.fixture(params=DEFAULT_SHAPES, ids=lambda s: "x".join(map(str, s)))
def shape(request):
    return request.param


@pytest.fixture(params=PENALTIES, ids=lambda t: f"l1={t[0]:g},l2={t[1]:g}")
def penalty(request):
    return request.param


def _problem(shape, dtype, seed=0):
    return mlp.make_problem(*shape, seed=seed, dtype=np.dtype(dtype), margin=FD_MARGIN)


def _outputs(impl, p, X, y, l1, l2) -> dict:
    f = impl.forward(p, X)
    out = {f"forward.{k}": v for k, v in f._asdict().items()}
    out["loss"] = impl.loss(p, X, y, l1, l2)
    loss, g = impl.loss_and_grad(p, X, y, l1, l2)
    out["loss_and_grad.loss"] = loss
    out.update({f"loss_and_grad.g{k}": v for k, v in g._asdict().items()})
    gb = impl.backward(p, X, y, f, l1, l2)
    out.update({f"backward.g{k}": v for k, v in gb._asdict().items()})
    return out


def test_it_loads_with_every_function(mlpbench_impl):
    impl = mlp.get(mlpbench_impl)
    info = registry.info(mlpbench_impl)
    for fn in registry.RAW_FUNCTIONS:
        assert callable(getattr(impl.raw, fn)), fn
    assert info.colour.startswith("#") and info.label


def test_results_have_the_contract_types(mlpbench_impl, shape, dtype):
    raw = mlp.get(mlpbench_impl).raw
    p, X, y = mlp.check_inputs(*_problem(shape, dtype))
    f = plugins.check_forward_result(mlpbench_impl, raw.forward(p, X), p, X)
    plugins.check_loss_result(mlpbench_impl, "loss", raw.loss(p, X, y, 0.0, 0.0))
    plugins.check_loss_and_grad_result(mlpbench_impl, raw.loss_and_grad(p, X, y, 0.0, 0.0),
                                       p)
    plugins.check_grad_result(mlpbench_impl, "backward", raw.backward(p, X, y, f, 0.0, 0.0),
                              p)


def test_agrees_with_numpy(mlpbench_impl, shape, dtype, penalty):
    impl, ref = mlp.get(mlpbench_impl), mlp.get(REFERENCE)
    tol = mlp.agreement_rtol(np.dtype(dtype), *shape)
    for seed in (0, 1):
        p, X, y = _problem(shape, dtype, seed)
        got, want = _outputs(impl, p, X, y, *penalty), _outputs(ref, p, X, y, *penalty)
        errors = {k: mlp.max_rel_err(got[k], want[k]) for k in want}
        bad = {k: f"{e:.2e}" for k, e in errors.items() if not e <= tol}
        assert not bad, f"disagree with {REFERENCE} beyond {tol:.1e} (relative): {bad}"


def test_out_buffers_receive_the_gradient(mlpbench_impl, dtype):
    impl = mlp.get(mlpbench_impl)
    p, X, y = _problem((6, 4, 5, 3), dtype)
    loss, g = impl.loss_and_grad(p, X, y, 1e-3, 2e-3)
    out = mlp.empty_like(p)
    loss_out, got = impl.loss_and_grad(p, X, y, 1e-3, 2e-3, out=out)
    assert loss_out == loss and all(a is b for a, b in zip(got, out, strict=True))
    f = impl.forward(p, X)
    out2 = mlp.empty_like(p)
    got2 = impl.backward(p, X, y, f, 1e-3, 2e-3, out=out2)
    assert all(a is b for a, b in zip(got2, out2, strict=True))
    for name, a, b, c in zip(mlp.Params._fields, g, out, out2, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=f"loss_and_grad(out=).g{name}")
        np.testing.assert_allclose(c, a, rtol=mlp.agreement_rtol(np.dtype(dtype), 6, 4, 5, 3),
                                   atol=0, err_msg=f"backward(out=).g{name}")


@pytest.mark.parametrize("shape", [(1, 1, 1, 2), (6, 4, 5, 3)], ids=["1x1x1x2", "6x4x5x3"])
def test_gradient_matches_finite_differences(mlpbench_impl, shape, dtype, penalty):
    p, X, y = _problem(shape, dtype)
    errors = mlp.gradcheck(mlp.get(mlpbench_impl), p, X, y, *penalty)
    bad = {f"g{k}": f"{e:.2e}" for k, e in errors.items() if not e <= FD_TOL[dtype]}
    assert not bad, (f"gradient vs central finite differences beyond {FD_TOL[dtype]:.0e} "
                     f"(relative): {bad}")


def test_no_call_changes_its_inputs(mlpbench_impl, dtype):
    impl = mlp.get(mlpbench_impl)
    p, X, y = mlp.check_inputs(*_problem((6, 4, 5, 3), dtype))
    f = impl.forward(p, X)
    calls = {
        "forward": (lambda: impl.raw.forward(p, X), None),
        "loss": (lambda: impl.raw.loss(p, X, y, 1e-3, 2e-3), None),
        "loss_and_grad": (lambda: impl.raw.loss_and_grad(p, X, y, 1e-3, 2e-3), None),
        "backward": (lambda: impl.raw.backward(p, X, y, f, 1e-3, 2e-3), f),
    }
    changed = {}
    for fn, (call, forward) in calls.items():
        guard = plugins.CallGuard(mlpbench_impl, plugins.named_inputs(p, X, y, forward), fn)
        call()
        if guard.changed():
            changed[fn] = guard.restore()
    assert not changed, f"these calls wrote into their inputs: {changed}"


def test_bad_inputs_raise_the_documented_errors(mlpbench_impl, dtype):
    assert bad_input_faults(mlp.get(mlpbench_impl), dtype) == []
