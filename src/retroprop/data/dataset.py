"""Feeding data to a network: ``TensorDataset``, ``DataLoader``, ``train_test_split`` and scaling.

Names and semantics follow PyTorch (``TensorDataset``, ``DataLoader``) and scikit-learn
(``train_test_split``, ``StandardScaler``). Every random draw comes from retroprop's generator (see
``rp.manual_seed``) or from the ``generator=``/``seed=`` given; NumPy's and Python's global random
state are never touched.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from retroprop.random import get_generator
from retroprop.tensor import DEFAULT_DTYPE, Tensor

__all__ = [
    "DataLoader",
    "NotFittedError",
    "StandardScaler",
    "TensorDataset",
    "standardize",
    "train_test_split",
]


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def _as_numpy(array: Any, where: str, position: int | None = None) -> np.ndarray:
    """The NumPy array behind ``array`` (a Tensor's data, an ndarray, or an array-like), at least 1-D."""
    if isinstance(array, Tensor):
        out = array.data
    elif isinstance(array, np.ndarray):
        out = array
    else:
        out = np.asarray(array)
    if out.ndim == 0:
        which = "" if position is None else f" {position}"
        raise ValueError(
            f"{where}: array{which} is 0-d (a scalar); expected an array whose first axis indexes samples"
        )
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _common_length(arrays: Sequence[np.ndarray], where: str) -> int:
    n = len(arrays[0])
    for i, a in enumerate(arrays[1:], start=1):
        if len(a) != n:
            raise ValueError(
                f"{where}: all arrays must have the same length (first dimension); "
                f"array 0 has {n} samples but array {i} has {len(a)}"
            )
    return n


def _tensor_of(value: Any) -> Any:
    """``value`` as a tensor that shares its memory (a NumPy array or scalar of a numeric dtype, as
    torch's default collate turns them into tensors); anything else as it is."""
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "biuf":
        return Tensor._make(np.asarray(value))
    return value


# ---------------------------------------------------------------------------------------------
# TensorDataset
# ---------------------------------------------------------------------------------------------
class TensorDataset:
    """Samples made of the rows of equally long arrays, as ``torch.utils.data.TensorDataset``.

    ``TensorDataset(x, y)[i]`` is ``(x[i], y[i])``; ``i`` may be an int, a slice, an integer array or a
    boolean mask, and the result is always a tuple of tensors (one per array given, as torch's; they
    hold the indexed rows, which a slice or an int leaves sharing memory with the dataset). Tensors
    and arrays are accepted and stored as their NumPy data (no copy).
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array, got none")
        self.arrays: tuple[np.ndarray, ...] = tuple(
            _as_numpy(a, "TensorDataset", i) for i, a in enumerate(arrays)
        )
        n = _common_length(self.arrays, "TensorDataset")
        if n == 0:
            raise ValueError("TensorDataset: dataset is empty (the arrays have 0 samples)")
        self._length = n

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """The stored data as tensors sharing its memory (``arrays`` holds the NumPy arrays)."""
        return tuple(_tensor_of(a) for a in self.arrays)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: Any) -> tuple[Any, ...]:
        if isinstance(index, Tensor):
            index = index.data
        return tuple(_tensor_of(a[index]) for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        return f"TensorDataset({len(self)} samples: {shapes})"


# ---------------------------------------------------------------------------------------------
# DataLoader
# ---------------------------------------------------------------------------------------------
class DataLoader:
    """Iterate over a dataset in mini-batches, as ``torch.utils.data.DataLoader``.

    ``dataset`` is a ``TensorDataset``, a tuple or list of equally long arrays (wrapped in one), a
    single array, or any object with ``__len__`` whose ``__getitem__`` takes an integer array.
    Each batch is a tuple of tensors (NumPy arrays a custom dataset returns become tensors, as torch's
    default collate makes them), gathered with one fancy-indexing operation per array (no per-sample
    Python loop), so batches are copies that never alias the dataset.

    ``shuffle=True`` draws a fresh permutation every epoch (every ``iter``). It draws from
    ``generator``: None means retroprop's generator *at the time of iteration*, so
    ``rp.manual_seed(n)`` before a loop makes the order reproducible; an integer seed makes a
    generator once, here, so epochs differ but the sequence of epochs is reproducible; a
    ``numpy.random.Generator`` is used as it is.

    ``len(loader)`` is the number of batches; ``drop_last=True`` drops a final batch shorter than
    ``batch_size``. Note that a final batch of one sample breaks BatchNorm in training mode;
    ``fit`` takes care to avoid such one-sample batches, a bare ``DataLoader`` does not.
    """

    def __init__(self, dataset: Any, batch_size: int = 32, shuffle: bool = False,
                 drop_last: bool = False, generator: Any = None) -> None:
        if not _is_int(batch_size) or batch_size <= 0:
            raise ValueError(
                f"DataLoader: batch_size must be a positive integer, got {batch_size!r}"
            )
        if isinstance(dataset, (tuple, list)):
            dataset = TensorDataset(*dataset)
        elif isinstance(dataset, (np.ndarray, Tensor)):
            dataset = TensorDataset(dataset)
        elif not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                "DataLoader: dataset must be a TensorDataset, a tuple of arrays or an object with "
                f"__len__ and __getitem__, got {type(dataset).__name__}"
            )
        if len(dataset) == 0:
            raise ValueError("DataLoader: dataset is empty")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        # An int seed becomes one generator now, so that each epoch draws a new permutation.
        self.generator = get_generator(generator) if generator is not None else None

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        n = len(self.dataset)
        if self.shuffle:
            order = get_generator(self.generator).permutation(n)
        else:
            order = np.arange(n)
        stop = (n // self.batch_size) * self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            batch = self.dataset[order[start:start + self.batch_size]]
            yield tuple(_tensor_of(b) for b in batch) if isinstance(batch, tuple) else (_tensor_of(batch),)

    def __repr__(self) -> str:
        return (f"DataLoader({len(self.dataset)} samples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, {len(self)} batches)")


# ---------------------------------------------------------------------------------------------
# train_test_split
# ---------------------------------------------------------------------------------------------
def _test_count(test_size: Any, n: int) -> int:
    if _is_int(test_size):
        if not 1 <= test_size <= n - 1:
            raise ValueError(
                f"train_test_split: test_size={test_size} must be a count between 1 and "
                f"n_samples - 1 = {n - 1} (both sets need a sample), or a fraction in (0, 1)"
            )
        return int(test_size)
    if isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise ValueError(
                f"train_test_split: test_size={test_size} must be a fraction strictly between 0 and 1, "
                "or an integer count"
            )
        n_test = math.ceil(test_size * n)
        if not 1 <= n_test <= n - 1:
            raise ValueError(
                f"train_test_split: test_size={test_size} of {n} samples gives {n_test} test and "
                f"{n - n_test} training samples; both sets need at least one"
            )
        return n_test
    raise TypeError(
        f"train_test_split: test_size must be a float fraction or an int count, got "
        f"{type(test_size).__name__} {test_size!r}"
    )


def _stratified_indices(labels: np.ndarray, n_test: int, rng: np.random.Generator
                        ) -> tuple[np.ndarray, np.ndarray]:
    n = len(labels)
    _, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    codes = codes.reshape(-1)
    n_classes = len(counts)
    if counts.min() < 2:
        raise ValueError(
            "train_test_split: stratify needs at least 2 samples of every class; the least "
            f"populated class has {counts.min()}"
        )
    if n_test < n_classes or n - n_test < n_classes:
        raise ValueError(
            f"train_test_split: with stratify, the test set ({n_test}) and the training set "
            f"({n - n_test}) must each hold at least one sample of each of the {n_classes} classes"
        )
    # Largest-remainder allocation: each class's share of the test set, summing to n_test.
    exact = counts * (n_test / n)
    per_class = np.floor(exact).astype(np.int64)
    short = n_test - per_class.sum()
    if short > 0:
        remainder = exact - per_class
        # Ties among remainders broken at random, so no class is favoured systematically.
        order = np.lexsort((rng.random(n_classes), -remainder))
        per_class[order[:short]] += 1
    # Group a random permutation by class (stable sort keeps the random order within a class).
    perm = rng.permutation(n)
    grouped = perm[np.argsort(codes[perm], kind="stable")]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    grouped_codes = codes[grouped]
    rank = np.arange(n) - starts[grouped_codes]
    in_test = rank < per_class[grouped_codes]
    test = grouped[in_test]
    train = grouped[~in_test]
    return rng.permutation(train), rng.permutation(test)


def train_test_split(*arrays: Any, test_size: float | int = 0.25, shuffle: bool = True,
                     seed: Any = None, stratify: Any = None) -> list[Any]:
    """Split arrays into random train and test subsets, as scikit-learn's ``train_test_split``.

    Returns ``[a_train, a_test, b_train, b_test, ...]``. ``test_size`` is a fraction in (0, 1) (the
    test count is rounded up, as scikit-learn) or an int count. ``shuffle=False`` takes the last
    samples as the test set. ``seed`` is None (retroprop's generator, see ``rp.manual_seed``), an int
    or a ``numpy.random.Generator``. ``stratify`` (labels, usually ``y``) keeps each class's
    proportion in both sets. NumPy arrays come back for array-likes, Tensors for Tensors.
    """
    if not arrays:
        raise ValueError("train_test_split: expected at least one array, got none")
    data = [_as_numpy(a, "train_test_split", i) for i, a in enumerate(arrays)]
    n = _common_length(data, "train_test_split")
    if n < 2:
        raise ValueError(f"train_test_split: need at least 2 samples to split, got {n}")
    n_test = _test_count(test_size, n)
    if stratify is not None:
        if not shuffle:
            raise ValueError("train_test_split: stratify needs shuffle=True (got shuffle=False)")
        labels = _as_numpy(stratify, "train_test_split (stratify)")
        if len(labels) != n:
            raise ValueError(
                f"train_test_split: stratify has {len(labels)} labels but the arrays have {n} samples"
            )
        if labels.ndim > 1:
            labels = np.unique(labels.reshape(n, -1), axis=0, return_inverse=True)[1].reshape(-1)
        train, test = _stratified_indices(labels, n_test, get_generator(seed))
    elif shuffle:
        perm = get_generator(seed).permutation(n)
        train, test = perm[n_test:], perm[:n_test]
    else:
        train, test = np.arange(n - n_test), np.arange(n - n_test, n)
    out: list[Any] = []
    for original, a in zip(arrays, data, strict=True):
        for index in (train, test):
            part = a[index]
            out.append(Tensor(part) if isinstance(original, Tensor) else part)
    return out


# ---------------------------------------------------------------------------------------------
# StandardScaler
# ---------------------------------------------------------------------------------------------
class NotFittedError(ValueError, AttributeError):
    """A scaler was used before ``fit`` (scikit-learn's exception of the same name)."""


def _float_array(x: Any, where: str) -> np.ndarray:
    a = _as_numpy(x, where)
    if a.dtype.kind == "f":
        return a
    if a.dtype.kind in "biu":
        return a.astype(DEFAULT_DTYPE)
    raise TypeError(f"{where}: expected numbers, got an array of dtype {a.dtype}")


def _like_input(original: Any, result: np.ndarray) -> Any:
    return Tensor(result) if isinstance(original, Tensor) else result


class StandardScaler:
    """Scale each feature to zero mean and unit variance, as scikit-learn's ``StandardScaler``.

    ``fit`` learns ``mean_`` and ``scale_`` (the population standard deviation, ``ddof=0``) per
    feature along the first axis. A constant feature gets ``scale_ = 1`` and its mean exactly, so it
    transforms to finite zeros: the scaler never divides by a zero standard deviation. Floating
    input keeps its dtype (float32 stays float32, statistics are accumulated in float64); integer
    input becomes float32. Tensors in give Tensors out.
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.var_: np.ndarray | None = None
        self.n_samples_seen_: int = 0

    def fit(self, x: Any) -> StandardScaler:
        """Learn each feature's mean and standard deviation from ``x`` (samples along axis 0)."""
        a = _float_array(x, "StandardScaler.fit")
        if len(a) == 0:
            raise ValueError("StandardScaler.fit: x has 0 samples; need at least one")
        wide = a.astype(np.float64, copy=False)
        mean = wide.mean(axis=0)
        var = wide.var(axis=0)
        constant = (wide == wide[:1]).all(axis=0)
        mean = np.where(constant, wide[0], mean)  # exactly the constant value
        var = np.where(constant, 0.0, var)
        scale = np.where(constant | (var == 0), 1.0, np.sqrt(var))
        self.mean_ = mean.astype(a.dtype)
        self.var_ = var.astype(a.dtype)
        self.scale_ = scale.astype(a.dtype)
        self.n_samples_seen_ = len(a)
        return self

    def _check(self, x: Any, where: str) -> np.ndarray:
        if self.mean_ is None or self.scale_ is None:
            raise NotFittedError(f"{where}: this StandardScaler is not fitted yet; call fit first")
        a = _float_array(x, where)
        if a.shape[1:] != self.mean_.shape:
            raise ValueError(
                f"{where}: x has feature shape {a.shape[1:]} but the scaler was fitted on feature "
                f"shape {self.mean_.shape}"
            )
        return a

    def transform(self, x: Any) -> Any:
        """``(x - mean_) / scale_``, in ``x``'s floating dtype."""
        a = self._check(x, "StandardScaler.transform")
        out = (a - self.mean_.astype(a.dtype)) / self.scale_.astype(a.dtype)
        return _like_input(x, out)

    def fit_transform(self, x: Any) -> Any:
        """``fit(x)`` then ``transform(x)``."""
        return self.fit(x).transform(x)

    def inverse_transform(self, x: Any) -> Any:
        """Undo ``transform``: ``x * scale_ + mean_``."""
        a = self._check(x, "StandardScaler.inverse_transform")
        out = a * self.scale_.astype(a.dtype) + self.mean_.astype(a.dtype)
        return _like_input(x, out)

    def __repr__(self) -> str:
        fitted = "not fitted" if self.mean_ is None else f"fitted on {self.n_samples_seen_} samples"
        return f"StandardScaler({fitted})"


def standardize(x_train: Any, *others: Any) -> Any:
    """Fit a ``StandardScaler`` on ``x_train`` and transform it and every array in ``others``.

    ``x_train_s = standardize(x_train)`` or ``x_train_s, x_test_s = standardize(x_train, x_test)``:
    one array in gives one array out, several give a tuple in the same order. The test data never
    influences the statistics.
    """
    scaler = StandardScaler().fit(x_train)
    if not others:
        return scaler.transform(x_train)
    return (scaler.transform(x_train), *(scaler.transform(o) for o in others))
