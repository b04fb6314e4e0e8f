"""``mlpbench new-impl PATH``: write a commented starting point for one's own
implementation (a plugin, docs/plugins.md) and print the command that checks it."""

from __future__ import annotations

import re
from pathlib import Path

from mlpbench.errors import UsageError

#: The file ``new-impl`` writes. Each function raises NotImplementedError with the next
#: step to write, so ``mlpbench check`` on the untouched file says what to do first.
TEMPLATE = '''\
"""My implementation of the mlpbench MLP (started by `mlpbench new-impl`).

Fill in the functions below, one spec item at a time: the items (2.#1, 2.#7, ...) are
explained in mlpbench's docs/math.md (item 2.#7 is the anchor math.md#2-7). Check it
against numpy and finite differences, then time it next to the others:

    mlpbench check --impl {name}={path}
    mlpbench bench --impl numpy,{name}={path} --quick

The contract (docs/plugins.md):

- p is an mlp.Params(W1, b1, W2, b2): W1 (d_h, d), b1 (d_h,), W2 (m, d_h), b2 (m,);
  X is (n, d); y holds n int64 labels in [0, m); l1, l2 are floats >= 0.
- The inputs arrive checked: C-contiguous, finite, one dtype (float32 or float64);
  compute in that dtype and return arrays of that dtype (the loss is a Python float).
- Never write into p, X, y or f: copy first (mlpbench checks this).
"""

import numpy as np

from mlpbench.mlp import Forward, Params

# Optional facts about this implementation (docs/plugins.md#facts):
# MLPBENCH_JIT = False          # True when the first call compiles (numba, jax.jit)
# MLPBENCH_COLOUR = "#117733"   # the colour every figure draws it in
# MLPBENCH_LABEL = "my implementation"


def forward(p, X):
    """The forward pass over the n rows of X: Forward(ha, hs, oa, os).

    ha, hs are (n, d_h); oa, os are (n, m); all in the dtype of X.
    """
    W1, b1, W2, b2 = p
    # 2.#1 (math.md#2-1): ha = X W1^T + b1, then hs = relu(ha) = max(ha, 0)
    # 2.#2 (math.md#2-2): oa = hs W2^T + b2
    # 2.#3 (math.md#2-3): os = softmax(oa), row by row; subtract each row's maximum
    #                     before exp (the stable form) so that nothing overflows
    # return Forward(ha, hs, oa, os)
    raise NotImplementedError(
        "write forward first: 2.#1-3 of docs/math.md#2-1: ha = X @ W1.T + b1, "
        "hs = relu(ha), oa = hs @ W2.T + b2, os = softmax(oa) row by row; "
        "return Forward(ha, hs, oa, os)")


def loss(p, X, y, l1=0.0, l2=0.0):
    """The regularized risk R, a Python float."""
    # f = forward(p, X)
    # 2.#4 (math.md#2-4): L_i = logsumexp(oa[i]) - oa[i, y[i]]  (stable logsumexp:
    #                     m_i + log(sum(exp(oa[i] - m_i))), m_i the row maximum)
    # 2.#5 (math.md#2-5): R = mean_i L_i + l1 (|W1|_1 + |W2|_1) + l2 (|W1|_2^2 + |W2|_2^2)
    #                     (the biases are not penalized; sum in float64)
    # return float(R)
    raise NotImplementedError(
        "write loss next: 2.#4-5 of docs/math.md#2-4: L_i = logsumexp(oa[i]) - oa[i, y[i]], "
        "R = mean(L) + l1*(|W1|_1 + |W2|_1) + l2*(|W1|_2^2 + |W2|_2^2); return float(R)")


def loss_and_grad(p, X, y, l1=0.0, l2=0.0):
    """R and its gradient Params(gW1, gb1, gW2, gb2), shapes and dtype of p."""
    # f = forward(p, X); R = the loss above (2.#4-5)
    # 2.#7-8   (math.md#2-7):  G_oa = (os - onehot(y)) / n                  (n, m)
    # 2.#9-10  (math.md#2-9):  gW2 = G_oa^T hs, gb2 = G_oa.sum(axis=0)
    # 2.#11-12 (math.md#2-11): G_hs = G_oa W2                               (n, d_h)
    # 2.#13-14 (math.md#2-13): G_ha = G_hs * (ha > 0)
    # 2.#15-16 (math.md#2-15): gW1 = G_ha^T X, gb1 = G_ha.sum(axis=0)
    # penalties (math.md#penalty-gradient): gW1 += l1 sign(W1) + 2 l2 W1, same for W2
    # return R, Params(gW1, gb1, gW2, gb2)
    raise NotImplementedError(
        "write loss_and_grad next: 2.#7-16 of docs/math.md#2-7: G_oa = (os - onehot(y)) / n, "
        "gW2 = G_oa.T @ hs, gb2 = G_oa.sum(0), G_hs = G_oa @ W2, G_ha = G_hs * (ha > 0), "
        "gW1 = G_ha.T @ X, gb1 = G_ha.sum(0), plus the penalties' gradient; "
        "return R, Params(gW1, gb1, gW2, gb2)")


# Optional: backward(p, X, y, f, l1=0.0, l2=0.0) -> Params, the gradient from a forward
# pass f = forward(p, X) already computed (2.#7-16); mlpbench times it as the "backward"
# phase. Without it, mlpbench takes the gradient of loss_and_grad.
'''


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "new-impl", help="write a starting point for your own implementation",
        description="Write PATH, a commented Python file with the functions an "
                    "implementation defines (forward, loss, loss_and_grad), each raising "
                    "NotImplementedError with the spec items to fill in (docs/math.md), and "
                    "print the command that checks it. See docs/plugins.md.")
    p.add_argument("path", type=Path, metavar="PATH", help="the file to write (name.py)")
    p.add_argument("--name", help="the implementation's name in the printed commands "
                                  "(default: the file name without .py)")
    p.add_argument("--force", action="store_true", help="overwrite an existing PATH")
    p.set_defaults(func=run)


def run(args) -> int:
    from mlpbench.atomic import write_text
    from mlpbench.files import check_writable
    from mlpbench.mlp.plugins import check_name

    path: Path = args.path
    if path.suffix != ".py":
        raise UsageError(f"{path}: give a file name ending in .py, e.g. mine.py")
    name = args.name or re.sub(r"[^A-Za-z0-9_.+-]", "_", path.stem) or "mine"
    if not re.match(r"[A-Za-z0-9]", name):
        name = f"my{name}"
    try:
        check_name(name)
    except ValueError as exc:
        raise UsageError(f"--name: {exc}") from None
    if path.exists() and not args.force:
        raise UsageError(f"{path} already exists; use --force to overwrite it")
    check_writable(path, force=True, what="the new implementation")
    shown = path.as_posix()
    write_text(path, TEMPLATE.format(name=name, path=shown))
    print(f"wrote {path}: fill in forward, loss and loss_and_grad (the spec items are in "
          f"the comments; docs/plugins.md is the contract), then check it with:")
    print(f"  mlpbench check --impl {name}={shown}")
    print("and time it next to numpy with:")
    print(f"  mlpbench bench --impl numpy,{name}={shown} --quick")
    return 0
