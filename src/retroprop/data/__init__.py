"""Data for training: datasets, mini-batch loading, splitting, scaling, and ready-made problems.

``TensorDataset`` and ``DataLoader`` follow PyTorch; ``train_test_split`` and ``StandardScaler``
follow scikit-learn. The loaders read scikit-learn's bundled sets or generate MNIST-1D locally
(``pip install retroprop[data]``); the generators make small 2-D classification problems.
``load_csv``, ``load_npz`` and ``load_npy_pair`` read a practitioner's own data, checked (``files``);
``prepare_*`` split, scale and shape data for a loss (``prepare``). Nothing
here touches NumPy's or Python's global random state.
"""

from __future__ import annotations

from retroprop.data.dataset import (
    DataLoader,
    NotFittedError,
    StandardScaler,
    TensorDataset,
    standardize,
    train_test_split,
)
from retroprop.data.datasets import (
    Dataset,
    SplitDataset,
    circles,
    gaussians,
    load_breast_cancer,
    load_digits,
    load_iris,
    load_mnist1d,
    load_wine,
    moons,
    spiral,
    xor,
)
from retroprop.data.files import (
    DataFileError,
    Samples,
    Table,
    load_csv,
    load_npy_pair,
    load_npz,
    load_samples,
)
from retroprop.data.prepare import (
    DataSourceError,
    Prepared,
    prepare_arrays,
    prepare_builtin,
    prepare_files,
)

__all__ = [
    "DataFileError",
    "DataLoader",
    "DataSourceError",
    "Dataset",
    "NotFittedError",
    "Prepared",
    "Samples",
    "SplitDataset",
    "StandardScaler",
    "Table",
    "TensorDataset",
    "circles",
    "gaussians",
    "load_breast_cancer",
    "load_csv",
    "load_digits",
    "load_iris",
    "load_mnist1d",
    "load_npy_pair",
    "load_npz",
    "load_samples",
    "load_wine",
    "moons",
    "prepare_arrays",
    "prepare_builtin",
    "prepare_files",
    "spiral",
    "standardize",
    "train_test_split",
    "xor",
]
