"""Data sets for training the MLP: two moons, the 8×8 digits, Gaussian blobs.

Nothing is downloaded: moons and blobs are generated from a seed, digits ship
inside scikit-learn (the optional ``digits`` extra). :func:`load` returns a
:class:`Dataset` with deterministic stratified train/validation/test splits,
standardized with statistics of the training split only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpbench.checks import check_finite
from mlpbench.errors import InputError, InputTypeError, MlpbenchError

#: Names accepted by :func:`load`.
DATASETS = ("moons", "digits", "blobs")

#: Fraction of each class kept for validation and for test; the rest trains.
VAL_FRACTION = 0.2
TEST_FRACTION = 0.2

#: Largest moons noise accepted: the moons span about 3 × 1.5, so beyond this the data
#: are noise alone, and much beyond it the noise overflows float64 (or its variance does).
MAX_NOISE = 1e3

#: A feature whose training standard deviation is below this is treated as
#: constant: it is centred but not scaled (no division by zero).
CONSTANT_STD = 1e-12


class MissingDependency(MlpbenchError, ImportError):
    """An optional package a data set needs is not installed."""


@dataclass(frozen=True)
class Dataset:
    """A classification problem split three ways, features standardized.

    ``X_*`` are ``(n_*, d)`` float arrays (C-contiguous, ``dtype``), ``y_*`` int64
    labels in ``[0, m)``. ``mean`` and ``scale`` (length ``d``) are the training
    statistics: ``X_std = (X_raw - mean) / scale``.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    m: int
    mean: np.ndarray
    scale: np.ndarray

    @property
    def d(self) -> int:
        return self.X_train.shape[1]

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{"train": (X, y), "val": (X, y), "test": (X, y)}``."""
        return {"train": (self.X_train, self.y_train),
                "val": (self.X_val, self.y_val),
                "test": (self.X_test, self.y_test)}

    def transform(self, X_raw: np.ndarray) -> np.ndarray:
        """Standardize raw features with this data set's training statistics."""
        X = (np.asarray(X_raw, dtype=np.float64) - self.mean) / self.scale
        return np.ascontiguousarray(X, dtype=self.X_train.dtype)


def make_moons(n: int = 600, noise: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in the plane, ``n`` points, classes 0 and 1.

    Class 0 lies on ``(cos t, sin t)``, class 1 on ``(1 − cos t, 0.5 − sin t)``,
    ``t`` uniform in ``[0, π]``; Gaussian noise of standard deviation ``noise``
    is added to both coordinates. Returns ``X`` (n×2 float64), ``y`` (n int64).
    """
    _check_count("n", n, 2)
    noise = check_finite("noise", noise)
    if not 0 <= noise <= MAX_NOISE:
        raise InputError(f"noise must be between 0 and {MAX_NOISE:g} (the moons span about "
                         f"3 x 1.5), got {noise:g}")
    rng = np.random.default_rng(seed)
    y = np.arange(n, dtype=np.int64) % 2
    t = rng.uniform(0.0, np.pi, size=n)
    X = np.where(y[:, None] == 0,
                 np.column_stack([np.cos(t), np.sin(t)]),
                 np.column_stack([1.0 - np.cos(t), 0.5 - np.sin(t)]))
    X += noise * rng.standard_normal((n, 2))
    order = rng.permutation(n)
    return X[order], y[order]


def make_blobs(n: int = 1000, d: int = 2, m: int = 3, seed: int = 0,
               spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian mixture: ``m`` classes of (nearly) equal size in ``d`` dimensions.

    Class centres are drawn from ``N(0, 3² I_d)``; each point is its class centre
    plus ``N(0, spread² I_d)`` noise, so the problem is separable but not trivially.
    Returns ``X`` (n×d float64), ``y`` (n int64). Any sizes, for scaling runs.
    """
    _check_count("n", n, 1)
    _check_count("d", d, 1)
    _check_count("m", m, 2)
    if not (np.isfinite(spread) and spread > 0):
        raise InputError(f"spread must be a finite number > 0, got {spread!r}")
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.standard_normal((m, d))
    y = rng.permutation(np.arange(n, dtype=np.int64) % m)
    X = centres[y] + spread * rng.standard_normal((n, d))
    return X, y


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 8×8 handwritten digits shipped with scikit-learn: X (1797×64, 0–16), y (0–9)."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as exc:
        raise MissingDependency(
            "the digits data set ships with scikit-learn, which is not installed: "
            "pip install -e '.[digits]'") from exc
    X, y = sklearn_digits(return_X_y=True)
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)


def split(y: np.ndarray, val: float = VAL_FRACTION, test: float = TEST_FRACTION,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified indices ``(train, val, test)`` of a label vector, from ``seed``.

    Within each class the examples are shuffled and cut at ``1 − val − test`` and
    ``1 − test``; each part is then shuffled again so classes interleave.
    """
    y = np.asarray(y)
    if not (0 < val < 1 and 0 < test < 1 and val + test < 1):
        raise InputError(f"val and test must be fractions in (0, 1) with val + test < 1, "
                         f"got val={val!r}, test={test!r}")
    rng = np.random.default_rng(seed)
    parts: tuple[list, list, list] = ([], [], [])
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        cuts = np.rint(np.array([1.0 - val - test, 1.0 - test]) * idx.size).astype(int)
        for part, chunk in zip(parts, np.split(idx, cuts), strict=True):
            part.append(chunk)
    out = tuple(rng.permutation(np.concatenate(p)) for p in parts)
    for name, idx in zip(("train", "validation", "test"), out, strict=True):
        if idx.size == 0:
            raise InputError(f"the {name} split is empty: {y.size} examples are too few "
                             f"for fractions val={val}, test={test}")
    return out


def standardize(X_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, scale)`` of the training features; constant features get scale 1."""
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    scale = np.where(std > CONSTANT_STD, std, 1.0)
    return mean, scale


def load(name: str, *, n: int | None = None, d: int = 2, m: int = 3, noise: float = 0.2,
         seed: int = 0, val: float = VAL_FRACTION, test: float = TEST_FRACTION,
         dtype=np.float64) -> Dataset:
    """Build data set ``name`` (one of :data:`DATASETS`), split and standardized.

    ``n`` is the number of examples for moons (default 600) and blobs (default
    1000); ``d`` and ``m`` apply to blobs, ``noise`` to moons. Digits are fixed
    at 1797 × 64 with 10 classes and accept no ``n``. The same arguments always
    give the same arrays.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise InputTypeError(f"dtype must be float32 or float64, got {dtype}")
    if name == "moons":
        X, y = make_moons(600 if n is None else n, noise=noise, seed=seed)
        n_classes = 2
    elif name == "blobs":
        X, y = make_blobs(1000 if n is None else n, d=d, m=m, seed=seed)
        n_classes = m
    elif name == "digits":
        if n is not None:
            raise InputError("the digits data set has a fixed size (1797 examples); "
                             "do not pass n")
        X, y = load_digits()
        n_classes = 10
    else:
        raise InputError(f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}")
    i_train, i_val, i_test = split(y, val=val, test=test, seed=seed)
    mean, scale = standardize(X[i_train])

    def part(idx):
        X_std = (X[idx] - mean) / scale
        return np.ascontiguousarray(X_std, dtype=dtype), np.ascontiguousarray(y[idx])

    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = part(i_train), part(i_val), part(i_test)
    return Dataset(name, X_tr, y_tr, X_va, y_va, X_te, y_te, m=n_classes,
                   mean=mean, scale=scale)


def _check_count(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
