"""AutoTrainer's ``simplednn`` data sets (AutoTrainer/data/simplednn.py), drawn the same way.

``circle``: scikit-learn's ``make_circles(1000, noise=0.1)`` scaled to [-1, 1] per feature, the first 700
samples for training and the other 300 for validation. ``blob``: ``make_blobs(1000, centers=3,
n_features=2, cluster_std=2)``, unscaled, split 700/300. AutoTrainer fixes ``random_state`` (1 for the
circles, 2 for the blobs); seed ``s`` here draws with ``random_state + s``, so seed 0 is their draw.
Labels are class numbers (Keras's one-hot rows, as their argmax).
"""

from __future__ import annotations

import numpy as np

N_TRAIN = 700


def circle(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x_train, y_train, x_val, y_val`` of the circles (float32 inputs in [-1, 1], 0/1 labels)."""
    from sklearn.datasets import make_circles

    x, y = make_circles(n_samples=1000, noise=0.1, random_state=1 + seed)
    low, high = x.min(axis=0), x.max(axis=0)
    x = (x - low) / (high - low) * 2.0 - 1.0  # MinMaxScaler(feature_range=(-1, 1))
    x = x.astype(np.float32)
    return x[:N_TRAIN], y[:N_TRAIN].astype(np.int64), x[N_TRAIN:], y[N_TRAIN:].astype(np.int64)


def blob(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x_train, y_train, x_val, y_val`` of the three blobs (raw float32 inputs, labels 0-2)."""
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2 + seed)
    x = x.astype(np.float32)
    return x[:N_TRAIN], y[:N_TRAIN].astype(np.int64), x[N_TRAIN:], y[N_TRAIN:].astype(np.int64)
