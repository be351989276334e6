"""Ready-made data: scikit-learn's small bundled sets, MNIST-1D, and generated 2-D problems.

Every function returns float32 inputs and int64 labels, and leaves NumPy's and Python's global
random state exactly as it found it. Nothing here downloads: the scikit-learn sets are read from
the files that ship with scikit-learn, and MNIST-1D is generated locally by the ``mnist1d``
package (both from ``pip install retroprop[data]``).

The generators (``spiral``, ``circles``, ``xor``, ``gaussians``, ``moons``) are vectorized, give
balanced classes (sizes differ by at most one) and draw from ``seed``: None means retroprop's
generator (so ``rp.manual_seed(n)`` makes them reproducible), an int a fresh generator seeded with
it, a ``numpy.random.Generator`` itself.
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from retroprop.random import get_generator

__all__ = [
    "Dataset",
    "SplitDataset",
    "circles",
    "gaussians",
    "load_breast_cancer",
    "load_digits",
    "load_iris",
    "load_mnist1d",
    "load_wine",
    "moons",
    "spiral",
    "xor",
]

_INSTALL_HINT = "install it with: pip install retroprop[data]"


# ---------------------------------------------------------------------------------------------
# Result types
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A labelled dataset: ``x`` (float32, samples along axis 0) and ``y`` (int64 class labels).

    Unpacks as ``x, y = load_iris()``; the other fields describe the data.
    """

    x: np.ndarray
    y: np.ndarray
    target_names: tuple[str, ...]
    feature_names: tuple[str, ...] | None = None
    description: str = ""
    name: str = ""

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.x
        yield self.y

    @property
    def n_classes(self) -> int:
        return len(self.target_names)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}: x {self.x.shape} {self.x.dtype}, y {self.y.shape} {self.y.dtype}, "
                f"{self.n_classes} classes)")


@dataclass(frozen=True, eq=False, repr=False)
class SplitDataset:
    """A dataset already split into training and test sets.

    Unpacks as ``x_train, y_train, x_test, y_test = load_mnist1d()``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    target_names: tuple[str, ...]
    description: str = ""
    name: str = ""

    def __iter__(self) -> Iterator[np.ndarray]:
        yield from (self.x_train, self.y_train, self.x_test, self.y_test)

    @property
    def n_classes(self) -> int:
        return len(self.target_names)

    def __repr__(self) -> str:
        return (f"SplitDataset({self.name!r}: x_train {self.x_train.shape}, x_test {self.x_test.shape}, "
                f"{self.x_train.dtype}, {self.n_classes} classes)")


# ---------------------------------------------------------------------------------------------
# Global random state guard
# ---------------------------------------------------------------------------------------------
_global_state_lock = threading.RLock()


@contextlib.contextmanager
def _preserve_global_random_state() -> Iterator[None]:
    """Restore NumPy's and Python's global random state on the way out, even on error."""
    with _global_state_lock:
        numpy_state = np.random.get_state()  # noqa: NPY002 - saved only to be restored
        python_state = random.getstate()
        try:
            yield
        finally:
            np.random.set_state(numpy_state)  # noqa: NPY002
            random.setstate(python_state)


# ---------------------------------------------------------------------------------------------
# scikit-learn's bundled sets
# ---------------------------------------------------------------------------------------------
def _load_sklearn(name: str) -> Dataset:
    try:
        from sklearn import datasets as sk_datasets
    except ImportError as err:
        raise ImportError(f"load_{name} needs scikit-learn; {_INSTALL_HINT}") from err
    with _preserve_global_random_state():
        bunch = getattr(sk_datasets, f"load_{name}")()
    features = getattr(bunch, "feature_names", None)
    return Dataset(
        x=np.asarray(bunch.data, dtype=np.float32),
        y=np.asarray(bunch.target, dtype=np.int64),
        target_names=tuple(str(t) for t in bunch.target_names),
        feature_names=None if features is None else tuple(str(f) for f in features),
        description=str(getattr(bunch, "DESCR", "")),
        name=name,
    )


def load_digits() -> Dataset:
    """8x8 images of handwritten digits: x (1797, 64) float32 in [0, 16], y (1797,) in 0..9."""
    return _load_sklearn("digits")


def load_iris() -> Dataset:
    """Fisher's iris flowers: x (150, 4) float32 measurements in cm, y (150,) in 0..2."""
    return _load_sklearn("iris")


def load_breast_cancer() -> Dataset:
    """Wisconsin breast cancer: x (569, 30) float32, y (569,): 0 malignant, 1 benign."""
    return _load_sklearn("breast_cancer")


def load_wine() -> Dataset:
    """Wine recognition: x (178, 13) float32 chemical measurements, y (178,) in 0..2."""
    return _load_sklearn("wine")


# ---------------------------------------------------------------------------------------------
# MNIST-1D
# ---------------------------------------------------------------------------------------------
_mnist1d_cache: dict[tuple[int, int, int], tuple[np.ndarray, ...]] = {}

_MNIST1D_DESCRIPTION = (
    "MNIST-1D (Greydanus, 2020): each sample is a 40-point 1-D signal made from one of ten digit "
    "templates by random padding, scaling, translation, correlated and i.i.d. noise and shear, then "
    "standardized over the whole set. Small enough to train on a CPU in seconds, yet a linear model "
    "and an MLP are clearly separated from a CNN. Generated locally with mnist1d.data.make_dataset."
)


def _check_count(where: str, name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{where}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def load_mnist1d(n_train: int = 4000, n_test: int = 1000, seed: int = 42) -> SplitDataset:
    """MNIST-1D, generated locally (never downloaded): x (n, 40) float32, y int64 in 0..9.

    The defaults are the package's standard set: 5000 samples from seed 42, the first 4000 for
    training and the last 1000 for testing. Generation takes about a second; results are cached
    in this process by ``(n_train, n_test, seed)``, and each call returns fresh copies. mnist1d
    reseeds NumPy's and Python's global random state; both are restored afterwards.
    """
    where = "load_mnist1d"
    n_train = _check_count(where, "n_train", n_train)
    n_test = _check_count(where, "n_test", n_test)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= seed < 2**32:
        raise ValueError(f"{where}: seed must be an integer in [0, 2**32), got {seed!r}")
    key = (n_train, n_test, int(seed))
    with _global_state_lock:
        if key not in _mnist1d_cache:
            _mnist1d_cache[key] = _make_mnist1d(n_train, n_test, int(seed))
        arrays = tuple(a.copy() for a in _mnist1d_cache[key])
    return SplitDataset(*arrays, target_names=tuple(str(d) for d in range(10)),
                        description=_MNIST1D_DESCRIPTION, name="mnist1d")


def _make_mnist1d(n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, ...]:
    with _preserve_global_random_state():
        try:
            from mnist1d.data import get_dataset_args, make_dataset
        except ImportError as err:
            raise ImportError(f"load_mnist1d needs the mnist1d package; {_INSTALL_HINT}") from err
        args = get_dataset_args()
        # make_dataset makes num_samples // 10 samples of each digit, shuffles, then splits.
        args.num_samples = 10 * math.ceil((n_train + n_test) / 10)
        args.train_split = n_train / args.num_samples
        args.seed = seed
        data = make_dataset(args)
    x = np.concatenate([data["x"], data["x_test"]]).astype(np.float32)
    y = np.concatenate([data["y"], data["y_test"]]).astype(np.int64)
    expected = args.num_samples
    if len(x) != expected or len(y) != expected:
        raise RuntimeError(
            f"load_mnist1d: mnist1d.data.make_dataset returned {len(x)} signals and {len(y)} labels; "
            f"expected {expected} (this version of mnist1d behaves differently)"
        )
    parts = (x[:n_train], y[:n_train], x[n_train:n_train + n_test], y[n_train:n_train + n_test])
    for part in parts:
        part.flags.writeable = False  # the cached copy must never change
    return parts


# ---------------------------------------------------------------------------------------------
# Generated 2-D problems
# ---------------------------------------------------------------------------------------------
def _check_noise(where: str, noise: Any, name: str = "noise") -> float:
    try:
        value = float(noise)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(noise, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{where}: {name} must be a finite number >= 0, got {noise!r}")
    return value


def _balanced_labels(n_samples: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels 0..n_classes-1 in blocks whose sizes differ by at most one, and each sample's
    position in its block as a fraction in [0, 1] (0 for a block of one)."""
    sizes = np.full(n_classes, n_samples // n_classes, dtype=np.int64)
    sizes[: n_samples % n_classes] += 1
    labels = np.repeat(np.arange(n_classes, dtype=np.int64), sizes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.arange(n_samples) - starts[labels]
    fraction = rank / np.maximum(sizes[labels] - 1, 1)
    return labels, fraction


def _finish(points: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
            shuffle: bool) -> tuple[np.ndarray, np.ndarray]:
    if shuffle:
        order = rng.permutation(len(labels))
        points, labels = points[order], labels[order]
    return np.ascontiguousarray(points, dtype=np.float32), labels.astype(np.int64, copy=False)


def spiral(n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, seed: Any = None,
           shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class: x (n_samples, 2) float32, y int64.

    Each arm runs from radius 0.05 to 1 and turns by 4 radians; ``noise`` is the standard
    deviation of the Gaussian jitter added to the angle.
    """
    where = "spiral"
    n_classes = _check_count(where, "n_classes", n_classes, 2)
    n_samples = _check_count(where, "n_samples", n_samples, n_classes)
    noise = _check_noise(where, noise)
    rng = get_generator(seed)
    labels, fraction = _balanced_labels(n_samples, n_classes)
    radius = 0.05 + 0.95 * fraction
    angle = labels * (2 * np.pi / n_classes) + 4.0 * radius + rng.normal(scale=noise, size=n_samples)
    points = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    return _finish(points, labels, rng, shuffle)


def circles(n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed: Any = None,
            shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A circle of radius 1 (class 0) around a circle of radius ``factor`` (class 1), as
    scikit-learn's ``make_circles``: x (n_samples, 2) float32, y int64.

    ``noise`` is the standard deviation of Gaussian noise added to each coordinate.
    """
    where = "circles"
    n_samples = _check_count(where, "n_samples", n_samples, 2)
    noise = _check_noise(where, noise)
    if isinstance(factor, bool) or not isinstance(factor, (int, float, np.number)) \
            or not 0 <= factor < 1:
        raise ValueError(f"{where}: factor (inner radius / outer radius) must be in [0, 1), got {factor!r}")
    rng = get_generator(seed)
    labels, _ = _balanced_labels(n_samples, 2)
    sizes = np.bincount(labels, minlength=2)
    # Evenly spaced angles on each circle (no endpoint, so no point is doubled).
    rank = np.arange(n_samples) - np.where(labels == 1, sizes[0], 0)
    angle = 2 * np.pi * rank / sizes[labels]
    radius = np.where(labels == 0, 1.0, float(factor))
    points = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    points = points + rng.normal(scale=noise, size=points.shape)
    return _finish(points, labels, rng, shuffle)


def moons(n_samples: int = 200, noise: float = 0.1, seed: Any = None,
          shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, as scikit-learn's ``make_moons``: x (n_samples, 2) float32,
    y int64. ``noise`` is the standard deviation of Gaussian noise added to each coordinate."""
    where = "moons"
    n_samples = _check_count(where, "n_samples", n_samples, 2)
    noise = _check_noise(where, noise)
    rng = get_generator(seed)
    labels, fraction = _balanced_labels(n_samples, 2)
    angle = np.pi * fraction
    upper = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    lower = np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], axis=1)
    points = np.where((labels == 0)[:, None], upper, lower)
    points = points + rng.normal(scale=noise, size=points.shape)
    return _finish(points, labels, rng, shuffle)


def xor(n_samples: int = 200, noise: float = 0.1, seed: Any = None,
        shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: points in the square [-1, 1]², class 1 where the coordinates' signs
    differ (quadrants II and IV), class 0 where they agree: x (n_samples, 2) float32, y int64.

    ``noise`` is the standard deviation of Gaussian noise added to each coordinate after the
    label is set, so a noisy point may cross an axis.
    """
    where = "xor"
    n_samples = _check_count(where, "n_samples", n_samples, 2)
    noise = _check_noise(where, noise)
    rng = get_generator(seed)
    labels, _ = _balanced_labels(n_samples, 2)
    magnitude = rng.random((n_samples, 2))
    sign_x = rng.choice(np.array([-1.0, 1.0]), size=n_samples)
    sign_y = np.where(labels == 1, -sign_x, sign_x)
    points = magnitude * np.stack([sign_x, sign_y], axis=1)
    points = points + rng.normal(scale=noise, size=points.shape)
    return _finish(points, labels, rng, shuffle)


def gaussians(n_samples: int = 200, n_classes: int | None = None, noise: float = 0.5,
              centers: Any = None, seed: Any = None, shuffle: bool = True
              ) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian blobs, one per class, as scikit-learn's ``make_blobs``.

    ``centers`` is an array (n_classes, n_features) of blob centres; without it, ``n_classes``
    (default 2) centres lie evenly on a circle of radius 2. ``noise`` is each blob's standard
    deviation. Returns x (n_samples, n_features) float32 (n_features = 2 by default), y int64.
    """
    where = "gaussians"
    noise = _check_noise(where, noise)
    if centers is None:
        n_classes = 2 if n_classes is None else _check_count(where, "n_classes", n_classes, 1)
        angle = 2 * np.pi * np.arange(n_classes) / n_classes
        centre_array = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    else:
        centre_array = np.asarray(centers, dtype=np.float64)
        if centre_array.ndim != 2 or len(centre_array) == 0 or not np.isfinite(centre_array).all():
            raise ValueError(
                f"{where}: centers must be a finite array of shape (n_classes, n_features), got shape "
                f"{centre_array.shape}"
            )
        if n_classes is not None and n_classes != len(centre_array):
            raise ValueError(
                f"{where}: n_classes={n_classes!r} disagrees with the {len(centre_array)} centers given; "
                "pass one or the other"
            )
        n_classes = len(centre_array)
    n_samples = _check_count(where, "n_samples", n_samples, n_classes)
    rng = get_generator(seed)
    labels, _ = _balanced_labels(n_samples, n_classes)
    points = centre_array[labels] + rng.normal(scale=noise, size=(n_samples, centre_array.shape[1]))
    return _finish(points, labels, rng, shuffle)
