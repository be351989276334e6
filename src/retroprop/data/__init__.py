"""Data for training: datasets, mini-batch loading, splitting, scaling, and ready-made problems.

``TensorDataset`` and ``DataLoader`` follow PyTorch; ``train_test_split`` and ``StandardScaler``
follow scikit-learn. The loaders read scikit-learn's bundled sets or generate MNIST-1D locally
(``pip install retroprop[data]``); the generators make small 2-D classification problems. Nothing
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

__all__ = [
    "DataLoader",
    "Dataset",
    "NotFittedError",
    "SplitDataset",
    "StandardScaler",
    "TensorDataset",
    "circles",
    "gaussians",
    "load_breast_cancer",
    "load_digits",
    "load_iris",
    "load_mnist1d",
    "load_wine",
    "moons",
    "spiral",
    "standardize",
    "train_test_split",
    "xor",
]
