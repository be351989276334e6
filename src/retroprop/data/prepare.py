"""Data made ready for training: loaded or generated, split, scaled and shaped for the loss.

``prepare_builtin`` does it for the built-in sets by name, ``prepare_arrays`` for arrays and
``prepare_files`` for a practitioner's own files (read by ``retroprop.data.files``). The split is
stratified by class and seeded; standardization is fitted on the training part only. Experiment specs
(``retroprop.spec``) build their data through these.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

__all__ = ["BUILTIN_SETS", "DataSourceError", "Prepared", "TargetKind", "prepare_arrays", "prepare_builtin",
           "prepare_files", "shape_targets", "split_problem"]

TargetKind = Literal["labels", "binary", "onehot", "values"]


class BuiltinSet(NamedTuple):
    n_features: int
    n_classes: int | None  # None: the n_classes option
    n_samples: int | None  # None: generated (n_samples option) or a fixed split (mnist1d)
    loader: str  # the retroprop.data function


BUILTIN_SETS: dict[str, BuiltinSet] = {
    "digits": BuiltinSet(64, 10, 1797, "load_digits"),
    "iris": BuiltinSet(4, 3, 150, "load_iris"),
    "breast_cancer": BuiltinSet(30, 2, 569, "load_breast_cancer"),
    "wine": BuiltinSet(13, 3, 178, "load_wine"),
    "mnist1d": BuiltinSet(40, 10, None, "load_mnist1d"),
    "spiral": BuiltinSet(2, None, None, "spiral"),
    "circles": BuiltinSet(2, 2, None, "circles"),
    "xor": BuiltinSet(2, 2, None, "xor"),
    "gaussians": BuiltinSet(2, None, None, "gaussians"),
    "moons": BuiltinSet(2, 2, None, "moons"),
}


@dataclass(frozen=True)
class Prepared:
    """Data split, scaled and shaped for a loss.

    The targets are class labels (int64) for cross-entropy and NLL, a float column (n, 1) of 0/1
    for the binary losses, one-hot float rows for the squared error on classes, and float columns
    for a numeric target (then ``n_classes`` is the number of target columns and ``class_names``
    is empty). The inputs are float32 when standardized, else float64 (raw values as given). Unpacks
    as ``x_train, y_train, x_val, y_val``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_features: int
    n_classes: int
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...] | None = None
    name: str = ""

    def __iter__(self) -> Iterator[np.ndarray]:
        yield from (self.x_train, self.y_train, self.x_val, self.y_val)

    def __repr__(self) -> str:
        return (f"Prepared({self.name!r}: x_train {self.x_train.shape}, x_val {self.x_val.shape}, "
                f"{self.n_features} features, {self.n_classes} classes)")


def shape_targets(y: np.ndarray, kind: TargetKind, n_classes: int) -> np.ndarray:
    """Targets for a loss: labels (int64), a 0/1 column, one-hot rows, or float columns."""
    if kind == "values":
        y = np.asarray(y, dtype=np.float32)
        return y.reshape(-1, 1) if y.ndim == 1 else y
    labels = np.asarray(y, dtype=np.int64)
    if kind == "binary":
        return labels.astype(np.float32).reshape(-1, 1)
    if kind == "onehot":
        return np.eye(n_classes, dtype=np.float32)[labels]
    return labels


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent generators from ``seed``: one for generating data, one for the split."""
    a, b = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(a), np.random.default_rng(b)


def _finish(x_train: Any, y_train: Any, x_val: Any, y_val: Any, *, kind: TargetKind, standardize: bool,
            n_classes: int, class_names: Sequence[str], feature_names: Sequence[str] | None,
            name: str) -> Prepared:
    from retroprop.data.dataset import standardize as fit_and_scale

    # standardized inputs are well scaled, so float32 holds them; raw ones stay float64, because a
    # feature far from 0 (a timestamp near 1.7e9) loses its variation in float32 (steps of 128)
    dtype = np.float32 if standardize else np.float64
    if standardize:
        x_train, x_val = fit_and_scale(x_train, x_val)  # fitted on the training part only
    return Prepared(np.asarray(x_train, dtype=dtype), shape_targets(y_train, kind, n_classes),
                    np.asarray(x_val, dtype=dtype), shape_targets(y_val, kind, n_classes),
                    int(np.shape(x_train)[1]), n_classes, tuple(class_names),
                    None if feature_names is None else tuple(feature_names), name)


def prepare_builtin(name: str, *, seed: int, test_size: float | None = 0.25, standardize: bool = True,
                    kind: TargetKind = "labels", **options: Any) -> Prepared:
    """A built-in set (``BUILTIN_SETS``) loaded or generated with ``options``, split with ``test_size``
    (mnist1d comes split: ``n_train``, ``n_test``) and scaled. ``seed`` seeds the generator and the
    split from two independent streams."""
    from retroprop import data as rp_data

    info = BUILTIN_SETS[name]
    loader = getattr(rp_data, info.loader)
    feature_names = None
    if name == "mnist1d":
        split = loader(**options, seed=seed)
        x_train, y_train, x_val, y_val = split
        class_names = split.target_names
    else:
        generate_rng, split_rng = _streams(seed)
        if info.n_samples is None:  # generated
            x, y = loader(**options, seed=generate_rng)
            class_names = tuple(str(c) for c in range(info.n_classes or options["n_classes"]))
        else:
            loaded = loader()
            x, y = loaded
            class_names, feature_names = loaded.target_names, loaded.feature_names
        x_train, x_val, y_train, y_val = rp_data.train_test_split(x, y, test_size=test_size, seed=split_rng,
                                                                  stratify=y)
    return _finish(x_train, y_train, x_val, y_val, kind=kind, standardize=standardize,
                   n_classes=len(class_names), class_names=class_names, feature_names=feature_names,
                   name=name)


def prepare_arrays(x: np.ndarray, y: np.ndarray, *, seed: int = 0, test_size: float = 0.25,
                   standardize: bool = True, kind: TargetKind = "labels",
                   class_names: Sequence[str] | None = None, feature_names: Sequence[str] | None = None,
                   validation: tuple[np.ndarray, np.ndarray] | None = None, name: str = "") -> Prepared:
    """Arrays split (stratified for classes; ``validation`` instead of a split) and scaled.

    ``y`` holds class indices (``class_names`` their names; default "0".."k-1") unless ``kind`` is
    "values" (a numeric target). A split that would leave a class out of either part is refused.
    """
    from retroprop.data.dataset import train_test_split

    if kind == "values":
        n_classes, names = (1 if np.ndim(y) == 1 else int(np.shape(y)[1])), ()
    else:
        names = tuple(class_names) if class_names is not None else tuple(
            str(c) for c in range(int(np.max(y)) + 1 if len(y) else 0))
        n_classes = len(names)
    if validation is not None:
        x_val, y_val = validation
        x_train, y_train = x, y
    else:
        stratify = y if kind != "values" else None
        x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=test_size, seed=_streams(seed)[1],
                                                          stratify=stratify)
    return _finish(x_train, y_train, x_val, y_val, kind=kind, standardize=standardize, n_classes=n_classes,
                   class_names=names, feature_names=feature_names, name=name)


def split_problem(n: int, n_classes: int, test_size: float, *, smallest: int | None = None) -> str | None:
    """Why a stratified split of ``n`` samples of ``n_classes`` classes cannot leave one sample of
    each class in both parts with ``test_size`` (``smallest``: the fewest samples of a class, when
    known), or None when it can."""
    n_test = math.ceil(test_size * n)
    if (smallest is not None and smallest < 2) or not n_classes <= n_test <= n - n_classes:
        return (f"leaves {n_test} of {n} samples for testing; the test and the training set each need one "
                f"sample of each of the {n_classes} classes" + (" present" if smallest is not None else ""))
    return None


class DataSourceError(ValueError):
    """Data from files that cannot be prepared; ``option`` names the keyword of ``prepare_files`` at
    fault (``file``, ``validation_file``, ``x_file``, ``validation_x_file``, ``test_size`` or ``kind``)."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.option = option


def prepare_files(*, file: str | None = None, label: str | int = -1, header: bool | None = None,
                  delimiter: str | None = None, x: str = "x", y: str = "y", x_file: str | None = None,
                  y_file: str | None = None, validation_file: str | None = None,
                  validation_x_file: str | None = None, validation_y_file: str | None = None,
                  test_size: float = 0.25, seed: int = 0, standardize: bool = True,
                  kind: TargetKind = "labels") -> Prepared:
    """A practitioner's own data (``retroprop.data.files``): a CSV or ``.npz`` ``file``, or ``x_file`` and
    ``y_file``, split (or with a validation file read with the same options and the training classes),
    checked against the task ``kind`` and scaled. Raises ``DataSourceError`` naming the option at fault."""
    from retroprop.data import files

    classes = kind != "values"
    if x_file is not None:
        options = ("x_file", "validation_x_file")
        sources = [(x_file, y_file), (validation_x_file, validation_y_file)]

        def read(*paths: Any, **kw: Any) -> files.Table:
            return files.load_npy_pair(*paths, **kw)
    else:
        options = ("file", "validation_file")
        sources = [(file,), (validation_file,)]

        def read(*paths: Any, **kw: Any) -> files.Table:
            if str(paths[0]).lower().endswith(".npz"):
                return files.load_npz(paths[0], x, y, **kw)
            return files.load_csv(paths[0], label=label, header=header, delimiter=delimiter, **kw)
    try:
        table = read(*sources[0], classes=classes)
    except files.DataFileError as err:
        raise DataSourceError(str(err), options[0]) from None
    try:
        held_out = None if sources[1][0] is None else read(*sources[1], classes=classes,
                                                           class_names=table.class_names)
    except files.DataFileError as err:
        raise DataSourceError(str(err), options[1]) from None
    names = table.class_names or ()
    if classes and len(names) < 2:
        raise DataSourceError(f"the labels hold {len(names)} class; classification needs at least 2",
                              options[0])
    if kind == "binary" and len(names) != 2:
        raise DataSourceError(f"needs labels 0 and 1 (or two names), but the data has {len(names)} classes: "
                              f"{', '.join(names[:10])}", "kind")
    if held_out is not None and held_out.x.shape[1] != table.x.shape[1]:
        raise DataSourceError(f"has {held_out.x.shape[1]} features; the training data has {table.x.shape[1]}",
                              options[1])
    if classes and held_out is None:
        counts = np.bincount(table.y)  # no longer than files.MAX_CLASSES: the labels are checked
        present = counts[counts > 0]
        if problem := split_problem(len(table.y), len(present), test_size, smallest=int(present.min())):
            raise DataSourceError(f"{problem} (or give a validation file)", "test_size")
    return prepare_arrays(table.x, table.y, seed=seed, test_size=test_size, standardize=standardize,
                          kind=kind, class_names=table.class_names, feature_names=table.feature_names,
                          name=Path(str(sources[0][0])).stem,
                          validation=None if held_out is None else (held_out.x, held_out.y))
