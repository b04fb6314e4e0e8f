"""Hidden activations (docs/math.md#hidden-activations): every implementation agrees with
numpy for every activation, forward and backward; gradients match central differences;
the keyword is checked once at the boundary; sweeps record it in the file and the key.

Small shapes; each numba kernel compiles once per dtype for all three non-ReLU
activations (the activation is an integer argument), and is cached on disk.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench import mlp
from mlpbench.errors import InputError
from mlpbench.harness import config as sweep_config
from mlpbench.harness import schema
from mlpbench.harness.sweep import SweepConfig, run_sweep
from mlpbench.harness.timing import Policy

ACTS = mlp.ACTIVATIONS
OTHERS = tuple(a for a in ACTS if a != "relu")
#: (n, d, d_h, m): one example, a ragged shape, and one past the small-n paths of both
#: numba implementations (numba: n > 16; numba-loops: n > 32 and n·d·d_h > 2**17).
SHAPES = [(1, 3, 4, 2), (17, 9, 11, 5), (40, 64, 64, 3)]
PENALTY = (0.003, 0.005)


def _impls():
    return [name for name in mlp.IMPLEMENTATIONS
            if name in ("loops", "numba", "numba-loops", "torch", "torch-autograd", "jax")]


def _outputs(impl, p, X, y, activation):
    f = impl.forward(p, X, activation=activation)
    R, g = impl.loss_and_grad(p, X, y, *PENALTY, activation=activation)
    gb = impl.backward(p, X, y, f, *PENALTY, activation=activation)
    return {"loss": R, "loss only": impl.loss(p, X, y, *PENALTY, activation=activation),
            **{f"forward.{k}": v for k, v in f._asdict().items()},
            **{f"loss_and_grad.g{k}": v for k, v in g._asdict().items()},
            **{f"backward.g{k}": v for k, v in gb._asdict().items()}}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", _impls())
def test_every_implementation_agrees_with_numpy_for_every_activation(name, dtype):
    impl, ref = mlp.get(name), mlp.get("numpy")
    # The third shape exercises the large-n paths of the numba implementations only.
    for shape in SHAPES if name.startswith("numba") else SHAPES[:2]:
        p, X, y = mlp.make_problem(*shape, seed=1, dtype=np.dtype(dtype))
        # float64: 1e-12 (issue 14); float32: mlp's documented agreement tolerance
        rtol = 1e-12 if dtype == "float64" else mlp.agreement_rtol(np.dtype(dtype), *shape)
        for activation in ACTS:
            got, want = _outputs(impl, p, X, y, activation), _outputs(ref, p, X, y, activation)
            for label, value in got.items():
                err = mlp.max_rel_err(np.asarray(value, float), np.asarray(want[label], float))
                assert err <= rtol, (name, dtype, shape, activation, label, err)


@pytest.mark.parametrize("name", ["numpy", "loops", "numba", "numba-loops"])
def test_gradients_match_central_differences_for_every_activation(name):
    # make_problem keeps |ha| >= 1e-2: no difference straddles ReLU's kink.
    p, X, y = mlp.make_problem(5, 4, 6, 3, seed=2)
    for activation in ACTS:
        errs = mlp.gradcheck(name, p, X, y, *PENALTY, activation=activation)
        assert max(errs.values()) <= mlp.GRADCHECK_TOL, (name, activation, errs)


def test_activations_change_the_network_and_relu_is_the_default():
    p, X, y = mlp.make_problem(6, 5, 7, 4, seed=3)
    impl = mlp.get("numpy")
    default = impl.loss_and_grad(p, X, y)
    relu = impl.loss_and_grad(p, X, y, activation="relu")
    assert default[0] == relu[0]
    losses = {a: impl.loss(p, X, y, activation=a) for a in ACTS}
    assert len(set(losses.values())) == len(ACTS)
    f = impl.forward(p, X, activation="tanh")
    np.testing.assert_array_equal(f.hs, np.tanh(f.ha))
    f = impl.forward(p, X, activation="softplus")
    assert np.all(f.hs > 0)


def test_derivatives_are_part_1s_stable_forms_in_the_tails():
    """Where hs rounds to ±1 (tanh) or 1 (sigmoid), the forms in hs (1 − hs², hs(1 − hs))
    give 0; the stable forms in ha keep the derivative (1.#3, 1.#4)."""
    from mlpbench import kernels

    k = kernels.get("numpy")
    ha = np.array([25.0, -30.0, 40.0])
    assert np.all(k.tanh_grad(ha) > 0) and np.all(1 - np.tanh(ha) ** 2 == 0)
    s = k.sigmoid(ha)
    assert np.all(k.sigmoid_grad(ha) > 0) and s[2] * (1 - s[2]) == 0


def test_the_boundary_checks_the_activation_once():
    p, X, y = mlp.make_problem(2, 3, 4, 2)
    impl = mlp.get("numpy")
    for bad in ("gelu", "ReLU", None, 3):
        with pytest.raises(InputError, match="activation"):
            impl.loss(p, X, y, activation=bad)
    with pytest.raises(InputError, match="activation"):
        mlp.train("numpy", p, X, y, epochs=1, activation="swish")
    result = mlp.train("numpy", p, X, y, epochs=2, activation="tanh")
    assert result.history.config["activation"] == "tanh"


def test_an_implementation_without_the_keyword_runs_relu_only():
    ref = mlp.get("numpy").raw

    class ReluOnly:
        @staticmethod
        def forward(p, X):
            return ref.forward(p, X)

        @staticmethod
        def loss(p, X, y, l1=0.0, l2=0.0):
            return ref.loss(p, X, y, l1, l2)

        @staticmethod
        def loss_and_grad(p, X, y, l1=0.0, l2=0.0):
            return ref.loss_and_grad(p, X, y, l1, l2)

    impl = mlp.Implementation("relu-only", ReluOnly)
    p, X, y = mlp.make_problem(2, 3, 4, 2)
    assert impl.loss(p, X, y) == mlp.get("numpy").loss(p, X, y)
    with pytest.raises(InputError, match="ReLU hidden units only"):
        impl.loss_and_grad(p, X, y, activation="sigmoid")


def test_sweep_records_the_activation_in_the_file_and_the_key(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_config, "QUICK_POLICY",
                        Policy(min_sample_s=1e-4, target_s=0.005, min_samples=3, max_samples=6))
    cfg = SweepConfig(axis="n", sizes=[2], base={"n": 4, "d": 5, "d_h": 3, "m": 2},
                      implementations=("numpy", "loops"), budget_s=1.0, quick=True,
                      activation="sigmoid")
    doc = run_sweep(cfg, tmp_path / "r.json", progress=False)
    assert doc["sweep"]["activation"] == "sigmoid"
    assert all(p["activation"] == "sigmoid" and p["status"] == "ok" for p in doc["points"])
    key = schema.point_key(doc["points"][0])
    assert key[-1] == "sigmoid" and len(key) == 10
    old = {k: v for k, v in doc["points"][0].items() if k != "activation"}
    assert schema.point_key(old)[-1] == "relu"  # files written before the field: ReLU
    bad = dict(doc["points"][0], activation="gelu")
    with pytest.raises(schema.SchemaError, match="activation"):
        schema.validate_point(bad)
    with pytest.raises(InputError, match="activation"):
        run_sweep(SweepConfig(axis="n", sizes=[2], activation="swish"), tmp_path / "x.json")


def test_compare_labels_a_non_relu_point_with_its_activation():
    from mlpbench.report.compare import Row

    key = ("numba", "float64", "step", 1024, 784, 256, 10, 0.0, 0.0, "tanh")
    row = Row(key, {}, {}, 1.0, 1.0, 1.0, "same")
    assert row.label.endswith(" tanh")
    relu = Row((*key[:-1], "relu"), {}, {}, 1.0, 1.0, 1.0, "same")
    assert "relu" not in relu.label


def test_cli_check_and_bench_take_the_activation(tmp_path, capsys):
    from mlpbench.commands import main

    assert main(["check", "--impl", "numpy,loops", "--dtype", "float64", "--shape", "2", "3",
                 "4", "2", "--problems", "1", "--activation", "softplus"]) == 0
    assert "activation softplus" in capsys.readouterr().out
    assert main(["check", "--impl", "numpy", "--activation", "gelu"]) == 2
    assert "activation" in capsys.readouterr().err
    out = tmp_path / "b.json"
    assert main(["bench", "--impl", "numpy", "--sizes", "2", "--d", "3", "--d-h", "2",
                 "--m", "2", "--budget", "0.05", "--quick", "--activation", "tanh", "-o",
                 str(out), "--no-progress"]) == 0
    from mlpbench.harness.results import load_results

    doc = load_results(out)
    assert doc["sweep"]["activation"] == "tanh" and doc["points"][0]["activation"] == "tanh"


def test_decision_regions_use_the_trained_activation():
    from mlpbench.report import train_outputs

    p, X, y = mlp.make_problem(8, 2, 5, 3, seed=4)
    impl = mlp.get("numpy")
    predict = train_outputs.predictor(impl, p, X.dtype, "sigmoid")
    want = np.argmax(impl.forward(p, X, activation="sigmoid").oa, axis=1)
    np.testing.assert_array_equal(predict(X), want)
