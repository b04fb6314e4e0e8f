"""``mlpbench check``: passes on the real implementations, fails on a wrong gradient."""

from __future__ import annotations

import pytest

from mlpbench import mlp
from mlpbench.commands import main
from mlpbench.mlp import impl_numba

SMALL = ["--shape", "1", "1", "1", "2", "--shape", "4", "3", "5", "3", "--problems", "1"]


def test_check_passes_and_prints_a_table(capsys):
    assert main(["check", *SMALL]) == 0
    out = capsys.readouterr().out
    for name in mlp.IMPLEMENTATIONS:
        for dtype in ("float32", "float64"):
            row = next(line for line in out.splitlines() if line.split()[:2] == [name, dtype])
            assert row.split()[-1 if name == "numpy" else -2] == "ok", row
    assert "all within tolerance" in out


def test_check_fails_on_a_wrong_gradient(monkeypatch, capsys):
    right = impl_numba.loss_and_grad

    def wrong(p, X, y, l1=0.0, l2=0.0):
        loss, g = right(p, X, y, l1, l2)
        return loss, g._replace(b1=g.b1 * 1.001)  # 0.1% off: both checks must see it

    monkeypatch.setattr(impl_numba, "loss_and_grad", wrong)
    assert main(["check", "--impl", "numba", "--dtype", "float64", *SMALL]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("numba"))
    assert "FAIL" in row and "loss_and_grad.gb1" in row
    assert "FAILED: numba/float64" in out


def test_check_fails_on_a_wrong_gradient_without_finite_differences(monkeypatch, capsys):
    right = impl_numba.backward

    def wrong(p, X, y, f, l1=0.0, l2=0.0):
        g = right(p, X, y, f, l1, l2)
        return g._replace(W2=-g.W2)

    monkeypatch.setattr(impl_numba, "backward", wrong)
    assert main(["check", "--impl", "numba", "--dtype", "float32", "--no-fd", *SMALL]) == 1
    assert "backward.gW2" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["--impl", "nope"], "unknown implementation(s) nope"),
    (["--problems", "0"], "--problems must be at least 1"),
    (["--shape", "0", "1", "1", "2"], "--shape N D D_H M takes sizes >= 1"),
])
def test_check_usage_errors(argv, message, capsys):
    assert main(["check", *argv]) == 2
    assert message in capsys.readouterr().err
