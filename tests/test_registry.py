"""The registry of implementations: each one's facts, one colour per implementation in
every figure, fallbacks for unknown names; and one exception type per argument."""

from __future__ import annotations

import math
import re
import zlib

import numpy as np
import pytest
from matplotlib.colors import to_hex

from mlpbench import mlp
from mlpbench.errors import InputError, InputTypeError
from mlpbench.mlp import peers, registry
from mlpbench.report import analysis, figures, training


@pytest.fixture
def isolated(monkeypatch):
    """A registry whose changes are undone after the test."""
    monkeypatch.setattr(registry, "_infos", dict(registry._infos))
    monkeypatch.setattr(registry, "_loaded", dict(registry._loaded))
    monkeypatch.setattr(registry, "IMPLEMENTATIONS", registry.IMPLEMENTATIONS)
    monkeypatch.setattr(registry, "CORE_IMPLEMENTATIONS", registry.CORE_IMPLEMENTATIONS)
    return registry


# --- facts -------------------------------------------------------------------------


def test_every_registered_implementation_has_its_facts():
    infos = registry.infos()
    assert tuple(i.name for i in infos) == mlp.IMPLEMENTATIONS
    assert mlp.IMPLEMENTATIONS[:4] == ("loops", "numpy", "numba", "numba-loops")
    assert [i.order for i in infos] == sorted(i.order for i in infos)
    for i in infos:
        assert registry.info(i.name) is i
        assert isinstance(i.jit, bool) and isinstance(i.peer, bool)
        assert re.fullmatch(r"#[0-9A-F]{6}", i.colour), i
        assert i.marker and i.label and callable(i.loader)
        assert i.peer == (i.name in peers.PEERS)
        assert registry.is_jit(i.name) == i.jit and registry.colour(i.name) == i.colour
    assert mlp.CORE_IMPLEMENTATIONS == tuple(i.name for i in infos if not i.peer)
    assert [n for n in mlp.IMPLEMENTATIONS if registry.is_jit(n)][:2] == ["numba", "numba-loops"]
    assert not registry.is_jit("loops") and not registry.is_jit("numpy")
    if "jax" in mlp.IMPLEMENTATIONS:
        assert registry.is_jit("jax") and not registry.is_jit("torch")


def test_colours_and_markers_are_unique_and_apart_from_the_fallbacks():
    colours = [i.colour for i in registry.infos()]
    assert len(set(colours)) == len(colours)
    markers = [i.marker for i in registry.infos()]
    assert len(set(markers)) == len(markers)
    # every known peer too, installed or not
    known = {i.name: i.colour for i in registry.infos()}
    known.update({name: p.colour.upper() for name, p in peers.PEERS.items()})
    assert len(set(known.values())) == len(known)
    assert not set(known.values()) & set(registry.FALLBACK_COLOURS)
    assert registry.colour("numba") != registry.colour("numpy")


def test_unknown_names_get_a_stable_fallback_and_never_an_error():
    for name in ("fortran", "numba-v0", ""):
        c = registry.colour(name)
        assert c == registry.colour(name) == figures.color(name)
        want = registry.FALLBACK_COLOURS[zlib.crc32(name.encode()) % 6]
        assert c == want and c in registry.FALLBACK_COLOURS
        assert registry.marker(name) == figures.marker(name)
        assert not registry.is_jit(name)
    # they sort after the registered ones, by name
    names = ["zeta", "numba", "alpha", "loops"]
    assert sorted(names, key=analysis.impl_sort_key) == ["loops", "numba", "alpha", "zeta"]
    with pytest.raises(InputError, match="unknown MLP implementation 'fortran'"):
        registry.info("fortran")


def test_register_with_facts(isolated):
    info = mlp.register("mine", "mlpbench.mlp.impl_numpy", jit=True, colour="#123abc",
                        marker="*", order=-1, label="my numpy")
    assert mlp.IMPLEMENTATIONS[0] == "mine" and "mine" in mlp.CORE_IMPLEMENTATIONS
    assert info == registry.info("mine")
    assert (info.jit, info.peer, info.colour, info.marker, info.label, info.module) == (
        True, False, "#123ABC", "*", "my numpy", "mlpbench.mlp.impl_numpy")
    assert registry.is_jit("mine") and figures.color("mine") == "#123ABC"
    # replacing keeps the facts not given again
    mlp.register("mine", lambda: mlp.get("numba").raw, replace=True, label="now numba")
    again = registry.info("mine")
    assert (again.jit, again.colour, again.order, again.label) == (True, "#123ABC", -1,
                                                                   "now numba")
    assert mlp.get("mine").raw is mlp.get("numba").raw
    # positional register, no facts: defaults, a colour nobody uses, last in order
    plain = mlp.register("plain", "mlpbench.mlp.impl_numpy")
    assert mlp.IMPLEMENTATIONS[-1] == "plain" and not plain.jit and plain.label == "plain"
    others = {i.colour for i in registry.infos() if i.name != "plain"}
    assert plain.colour in registry.FALLBACK_COLOURS and plain.colour not in others


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"colour": "red"}, InputError, "colour must be a hex colour"),
    ({"jit": "yes"}, InputTypeError, "jit must be True or False"),
    ({"order": 1.5}, InputTypeError, "order must be an integer"),
    ({"marker": ""}, InputTypeError, "marker must be a non-empty string"),
])
def test_register_checks_its_facts(isolated, kwargs, error, match):
    with pytest.raises(error, match=match):
        mlp.register("bad", "mlpbench.mlp.impl_numpy", **kwargs)
    assert "bad" not in mlp.IMPLEMENTATIONS


# --- one colour per implementation in every figure ------------------------------------


def _capture(monkeypatch, module):
    """Replace module.save_figure by one that keeps the figure instead of writing it."""
    drawn = []

    def keep(fig, *args, **kwargs):
        drawn.append(fig)
        return None

    monkeypatch.setattr(module, "save_figure", keep)
    return drawn


def test_benchmark_and_training_figures_draw_an_implementation_in_one_colour(monkeypatch):
    impls = ("loops", "numpy", "numba", "numba-loops", "fortran")  # fortran: not registered
    series = {}
    for k, impl in enumerate(impls):
        t = [1e-4 * (k + 1) * x for x in (1, 4, 16)]
        series[("float64", impl)] = analysis.Series(
            "n", impl, "float64", "step", {"d": 8, "d_h": 4, "m": 3}, sizes=[1, 4, 16],
            median=t, q1=t, q3=t)
    bench = _capture(monkeypatch, figures)
    figures.draw_scaling("n", series, {}, None, "scaling_n")
    lines = {ln.get_label().split(":")[0]: to_hex(ln.get_color())
             for ln in bench[0].axes[0].get_lines() if ":" in ln.get_label()}
    rows = [{"impl": impl, "batch": b, "seconds": 0.1 * (k + 1), "extrapolated": False}
            for k, impl in enumerate(impls) for b in (1, 10)]
    train = _capture(monkeypatch, training)
    training.plot_epoch_times(rows, "unused.png")
    legend = train[0].axes[0].get_legend()
    bars = {text.get_text(): to_hex(patch.get_facecolor())
            for text, patch in zip(legend.get_texts(), legend.legend_handles, strict=True)}
    bar_colours = {to_hex(p.get_facecolor()) for p in train[0].axes[0].patches}
    import matplotlib.pyplot as plt

    plt.close(train[0])
    for impl in impls:
        want = registry.colour(impl).lower()
        assert lines[impl] == bars[impl] == want, impl
        assert want in bar_colours
    assert len(set(lines.values())) == len(impls)  # loops and numba-loops apart, too


# --- one exception type per argument ----------------------------------------------------


def _problem():
    return mlp.make_problem(6, 3, 4, 3, seed=0)


def _callers():
    p, X, y = _problem()
    impl = mlp.get("numpy")
    return {
        "impl.loss": lambda **kw: impl.loss(p, X, y, **kw),
        "impl.loss_and_grad": lambda **kw: impl.loss_and_grad(p, X, y, **kw),
        "impl.backward": lambda **kw: impl.backward(p, X, y, impl.forward(p, X), **kw),
        "train": lambda **kw: mlp.train("numpy", p, X, y, epochs=1, **kw),
        "time_epoch": lambda **kw: mlp.time_epoch("numpy", p, X, y, batch_size=2, **kw),
        "gradcheck": lambda **kw: mlp.gradcheck("numpy", p, X, y, **kw),
    }


@pytest.mark.parametrize(("kw", "error"), [
    ({"l1": "x"}, InputTypeError), ({"l2": None}, InputTypeError), ({"l1": True}, InputTypeError),
    ({"l1": -0.5}, InputError), ({"l2": math.nan}, InputError), ({"l2": math.inf}, InputError),
], ids=["l1 str", "l2 None", "l1 bool", "l1 negative", "l2 nan", "l2 inf"])
@pytest.mark.parametrize("caller", list(_callers()))
def test_a_penalty_raises_one_type_everywhere(caller, kw, error):
    (name,) = kw
    with pytest.raises(error, match=f"^{name} must be "):
        _callers()[caller](**kw)
    assert issubclass(error, TypeError if error is InputTypeError else ValueError)


@pytest.mark.parametrize(("value", "error"), [
    (2.5, InputTypeError), ("3", InputTypeError), (True, InputTypeError), (0, InputError),
    (-1, InputError),
])
def test_a_size_raises_one_type_everywhere(value, error):
    for call in (lambda: mlp.n_params(3, value, 2), lambda: mlp.init_params(3, value, 2),
                 lambda: mlp.make_problem(2, 3, value, 2)):
        with pytest.raises(error, match="^d_h must be a positive integer"):
            call()
    p, X, y = _problem()
    for name in ("epochs", "batch_size", "patience"):
        with pytest.raises(error, match=f"^{name} must be a positive integer"):
            mlp.train("numpy", p, X, y, val=(X, y), **{"epochs": 1, name: value})
    with pytest.raises(error, match="^threads must be a positive integer"):
        peers.configure_threads(value)


@pytest.mark.parametrize(("value", "error"), [
    ("0.1", InputTypeError), (None, InputTypeError), (0.0, InputError), (-1.0, InputError),
    (math.inf, InputError),
])
def test_a_rate_raises_one_type_everywhere(value, error):
    for caller in ("train", "time_epoch"):
        with pytest.raises(error, match="^lr must be a"):
            _callers()[caller](lr=value)


def test_a_dtype_argument_is_a_value():
    for call in (lambda: mlp.init_params(2, 2, 2, dtype=np.float16),
                 lambda: mlp.make_problem(2, 2, 2, 2, dtype="int8")):
        with pytest.raises(InputError, match="^dtype must be float32 or float64"):
            call()
