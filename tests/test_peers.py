"""The PyTorch and JAX peers agree with ``numpy``, validate like it, and cache compiles.

A peer whose package is missing is skipped with the reason (``pytest.importorskip``).
Tolerances, element-wise with an absolute floor at the array's scale (an entry of a
gradient is a sum that can cancel to near 0): float64 ``rtol = 1e-10``; float32
``rtol = 2e-5`` (about 170 float32 ulps: chains of sums of lengths d, d_h, m and n
added in other orders by other BLAS kernels; seen 2.5e-7, and 3e-16 in float64).

Shapes are few and shared on purpose: every new shape costs JAX a compile per
function (0.1–0.5 s here); ``(1, 3, 4, 2)`` has n = 1 and m = 2.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings

import numpy as np
import pytest

from mlpbench import mlp
from mlpbench.mlp import peers

SHAPES = [(1, 3, 4, 2), (6, 5, 7, 3)]
PENALTIES = [(0.0, 0.0), (0.01, 0.02)]
RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 2e-5}


@pytest.fixture(params=list(peers.PEERS))
def peer(request):
    """The validated implementation of one peer, skipped when its package is missing."""
    pytest.importorskip(peers.PEERS[request.param].package)
    return mlp.get(request.param)


def assert_close(got, want, dtype, label):
    """Element-wise ``|got − want| <= rtol·(|want| + max|want|)``, rtol by dtype."""
    assert isinstance(got, float) or got.dtype == dtype, f"{label}: dtype {got.dtype}"
    rtol = RTOL[np.dtype(dtype)]
    scale = float(np.max(np.abs(want)))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=label)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_agrees_with_numpy(peer, shape, dtype):
    p, X, y = mlp.make_problem(*shape, seed=sum(shape), dtype=dtype)
    ref = mlp.get("numpy")

    f_ref, f = ref.forward(p, X), peer.forward(p, X)
    for field in mlp.Forward._fields:
        got = getattr(f, field)
        assert type(got) is np.ndarray, field
        assert_close(got, getattr(f_ref, field), dtype, f"forward.{field}")

    for l1, l2 in PENALTIES:
        label = f"l1={l1}, l2={l2}"
        loss_ref, g_ref = ref.loss_and_grad(p, X, y, l1, l2)
        loss, g = peer.loss_and_grad(p, X, y, l1, l2)
        assert isinstance(loss, float)
        assert_close(loss, loss_ref, dtype, f"loss_and_grad loss, {label}")
        assert_close(peer.loss(p, X, y, l1, l2), loss_ref, dtype, f"loss, {label}")
        grads = {
            "loss_and_grad": g,
            "backward(own forward)": peer.backward(p, X, y, f, l1, l2),
            "backward(numpy forward)": peer.backward(p, X, y, f_ref, l1, l2),
        }
        for how, grad in grads.items():
            assert isinstance(grad, mlp.Params)
            for field in mlp.Params._fields:
                want = getattr(g_ref, field)
                assert_close(getattr(grad, field), want, dtype, f"{how}.{field}, {label}")


def test_penalty_gradient_is_zero_at_zero_weights(peer):
    """``sign(0) = 0`` (1.#9): at W1 = W2 = 0 the penalties add exactly nothing to the
    gradient (JAX's own derivative of ``abs`` at 0 is 1), and gW1 = G_haᵀ X = 0."""
    p, X, y = mlp.make_problem(*SHAPES[0], seed=1)
    zero = mlp.Params(np.zeros_like(p.W1), p.b1, np.zeros_like(p.W2), p.b2)
    _, g_plain = peer.loss_and_grad(zero, X, y)
    _, g = peer.loss_and_grad(zero, X, y, 0.5, 0.5)
    assert not g.W1.any()
    np.testing.assert_array_equal(g.W2, g_plain.W2)
    _, g_ref = mlp.get("numpy").loss_and_grad(zero, X, y, 0.5, 0.5)
    for field in mlp.Params._fields:
        assert_close(getattr(g, field), getattr(g_ref, field), np.float64, field)


def test_bad_inputs_are_rejected_like_numpy(peer):
    p, X, y = mlp.make_problem(*SHAPES[0], seed=2)
    with pytest.raises(ValueError, match="X must be 2-D"):
        peer.forward(p, X[0])
    with pytest.raises(TypeError, match="share one dtype"):
        peer.loss(p, X.astype(np.float32), y)
    with pytest.raises(ValueError, match=r"labels in \[0, m\)"):
        peer.loss_and_grad(p, X, y + 5)
    with pytest.raises(ValueError, match="l1 must be a finite number >= 0"):
        peer.loss_and_grad(p, X, y, l1=-1.0)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        peer.loss(p, bad, y)


def test_read_only_inputs_work_without_warnings(peer):
    """PyTorch cannot wrap a read-only array; those are copied, with no warning."""
    p, X, y = mlp.make_problem(*SHAPES[0], seed=3)
    want_loss, want_g = peer.loss_and_grad(p, X, y, 0.01, 0.0)
    frozen = [a.copy() for a in (*p, X, y)]
    for a in frozen:
        a.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, g = peer.loss_and_grad(mlp.Params(*frozen[:4]), frozen[4], frozen[5], 0.01, 0.0)
    assert loss == want_loss
    for got, want in zip(g, want_g, strict=True):
        np.testing.assert_array_equal(got, want)


def test_results_are_writable_arrays_the_caller_owns(peer):
    """Training scales gradients in place: results must be writable and not alias inputs."""
    p, X, y = mlp.make_problem(*SHAPES[1], seed=4)
    _, g = peer.loss_and_grad(p, X, y, 0.01, 0.0)
    f = peer.forward(p, X)
    for a in (*g, *f):
        assert a.flags.writeable
        assert not any(np.shares_memory(a, b) for b in (*p, X))


def test_jax_compiles_once_per_shape():
    pytest.importorskip("jax")
    from mlpbench.mlp import impl_jax

    jax_impl = mlp.get("jax")
    p, X, y = mlp.make_problem(*SHAPES[0], seed=4)
    jax_impl.loss_and_grad(p, X, y, 0.01, 0.02)  # compiled here or by an earlier test
    before = impl_jax.TRACES.copy()
    for seed in (5, 6):
        # new values, new penalty weights, same shapes and dtype: no new trace
        p, X, y = mlp.make_problem(*SHAPES[0], seed=seed)
        jax_impl.loss_and_grad(p, X, y, 0.03 * seed, 0.01)
    assert impl_jax.TRACES == before
    # one more row is a new shape: exactly one new trace of the risk
    p, X, y = mlp.make_problem(SHAPES[0][0] + 1, *SHAPES[0][1:], seed=7)
    jax_impl.loss_and_grad(p, X, y, 0.01, 0.02)
    assert impl_jax.TRACES["risk"] == before["risk"] + 1


def test_peers_registered_exactly_when_installed():
    for name, peer in peers.PEERS.items():
        installed = importlib.util.find_spec(peer.package) is not None
        assert (name in mlp.IMPLEMENTATIONS) == installed, name
        assert (name in peers.unavailable()) == (not installed), name


def test_missing_peer_gives_the_reason(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    reasons = peers.unavailable()
    assert set(reasons) == set(peers.PEERS)
    assert "jax is not installed" in reasons["jax"]
    assert "mlpbench[peers]" in reasons["jax"]
    assert peers.available_loaders() == {}


def test_broken_peer_import_raises_peer_unavailable(monkeypatch):
    monkeypatch.setattr(peers, "_installed", lambda package: True)
    monkeypatch.setitem(sys.modules, "mlpbench.mlp.impl_torch", None)  # import fails
    load = peers.available_loaders()["torch-autograd"]
    with pytest.raises(peers.PeerUnavailable, match="'torch-autograd' is not available"):
        load()
    assert issubclass(peers.PeerUnavailable, ImportError)


@pytest.mark.parametrize(
    ("threads", "flags", "want"),
    [
        (1, "", "--xla_cpu_multi_thread_eigen=false"),
        (1, "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=true",
         "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=false"),
        (None, "--xla_cpu_multi_thread_eigen=false --xla_dump_to=/tmp/x", "--xla_dump_to=/tmp/x"),
        (2, "--xla_cpu_multi_thread_eigen=false", ""),
    ],
)
def test_xla_thread_flags_keep_other_flags(threads, flags, want):
    assert peers.xla_thread_flags(threads, flags) == want


def test_configure_threads_sets_and_records_torch(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(peers, "_torch_request", {})
    monkeypatch.setenv("XLA_FLAGS", peers.xla_thread_flags(1))  # JAX may have started
    old = torch.get_num_threads()
    try:
        settings = peers.configure_threads(1)
        assert torch.get_num_threads() == 1
        assert settings["torch"]["num_threads"] == 1
        assert settings["torch"]["version"] == torch.__version__
        assert settings["jax"]["num_threads"] == 1
    finally:
        torch.set_num_threads(old)
    with pytest.raises(ValueError, match="positive integer"):
        peers.configure_threads(0)


def test_configure_threads_refuses_once_jax_has_started(monkeypatch):
    jnp = pytest.importorskip("jax.numpy")
    float(jnp.zeros(1)[0] + 1)  # starts the CPU backend
    monkeypatch.setenv("XLA_FLAGS", "")
    monkeypatch.setattr(peers, "_torch_request", {})
    torch = sys.modules.get("torch")
    old = torch.get_num_threads() if torch else None
    try:
        with pytest.raises(RuntimeError, match="already started its CPU backend"):
            peers.configure_threads(1)
        if torch:  # PyTorch's count is set all the same: it can change at any time
            assert torch.get_num_threads() == 1
    finally:
        if torch:
            torch.set_num_threads(old)
    assert peers.peer_thread_settings()["jax"]["backend_started"] is True


# --- the resident form: inputs converted once, as each library's users run it -----------


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_resident_form_agrees_with_the_numpy_form(peer, dtype):
    """``prepare`` + ``resident_*`` (the sweep's default) give what the NumPy-array
    functions give, in the peer's own types and the input dtype."""
    raw = peer.raw
    assert peers.has_resident(raw)
    p, X, y = mlp.check_inputs(*mlp.make_problem(*SHAPES[1], seed=8, dtype=dtype))
    resident = raw.prepare(p, X, y)
    f = raw.resident_forward(resident)
    for field, want in zip(mlp.Forward._fields, raw.forward(p, X), strict=True):
        got = peers.to_numpy(getattr(f, field))
        assert type(got) is np.ndarray and got.dtype == dtype, field
        assert_close(got, want, dtype, f"resident forward.{field}")
    for l1, l2 in PENALTIES:
        loss_want, g_want = raw.loss_and_grad(p, X, y, l1, l2)
        loss, g = peers.to_numpy(raw.resident_loss_and_grad(resident, l1, l2))
        assert_close(float(loss), loss_want, dtype, "resident loss")
        g_back = peers.to_numpy(raw.resident_backward(resident, f, l1, l2))
        for field, want in zip(mlp.Params._fields, g_want, strict=True):
            assert_close(getattr(g, field), want, dtype, f"resident grad.{field}")
            assert_close(getattr(g_back, field), want, dtype, f"resident backward.{field}")


def test_torch_resident_tensors_share_numpy_buffers():
    """``torch.from_numpy``: preparing costs no copy of a writable array."""
    pytest.importorskip("torch")
    p, X, y = mlp.check_inputs(*mlp.make_problem(*SHAPES[1], seed=9))
    for name in ("torch", "torch-autograd"):
        resident = mlp.get(name).raw.prepare(p, X, y)
        for tensor, array in zip(resident, (*p, X, y), strict=True):
            assert tensor.data_ptr() == array.ctypes.data, name


def test_jax_x64_is_set_once_at_load(monkeypatch):
    """No configuration switch per call: float64 stays float64 with x64 set at load."""
    pytest.importorskip("jax")
    import jax

    jax_impl = mlp.get("jax")
    assert jax.config.jax_enable_x64
    assert peers.peer_thread_settings()["jax"]["x64"] is True

    def refuse(*args, **kwargs):
        raise AssertionError("jax.enable_x64 called per call")

    monkeypatch.setattr(jax, "enable_x64", refuse)
    p, X, y = mlp.make_problem(*SHAPES[0], seed=10)
    _, g = jax_impl.loss_and_grad(p, X, y)
    assert g.W1.dtype == np.float64


def test_phase_call_times_resident_peers_and_numpy_on_request(peer):
    """The gate's timed callable: resident by default for a peer (NumPy for mlpbench's
    own), NumPy arrays with ``peer_inputs="numpy"``; both pass the gate."""
    from mlpbench.harness import gate

    problem = gate.make_problem(6, 5, 7, 3, "float64", seed=0)
    numpy_impl = mlp.get("numpy")
    assert gate.inputs_used(numpy_impl) == "numpy"
    assert gate.inputs_used(peer) == "resident"
    assert gate.inputs_used(peer, "numpy") == "numpy"
    for phase in ("forward", "backward", "step"):
        ref = gate.phase_call(numpy_impl, phase, problem, 0.01, 0.0)()
        for inputs in gate.INPUTS:
            out = gate.numpy_output(gate.phase_call(peer, phase, problem, 0.01, 0.0, inputs)())
            assert gate.max_rel_err(out, ref) < 1e-12, (phase, inputs)
