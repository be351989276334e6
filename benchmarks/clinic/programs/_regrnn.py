"""TheDeepChecker's clean regression program ``clean_base_programs/regrNN.py``, from which its synthetic
regression faults are derived: features -> 64 ReLU -> 64 ReLU -> 1 linear, He-normal hidden weights
(Glorot output), an L1/L2 penalty of 1e-5 (L2 only is nonzero), mean squared error, Adam at lr 0.001, on
Auto MPG (392 x 9, standardized features and targets by the benchmark's loader). Auto MPG is not bundled:
scikit-learn's diabetes set (442 x 10, targets 25-346) stands in for it."""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, diabetes, split, standardize_targets

EPOCHS = 15  # the clean program reaches its best validation error at 8-16 epochs on this data
BATCH = 32


class Rescale(nn.Module):
    """A fixed affine map ``x * scale + offset`` (no parameters): a prediction in the targets' units from
    a network trained on standardized targets."""

    def __init__(self, scale: float, offset: float) -> None:
        super().__init__()
        self.scale, self.offset = float(scale), float(offset)

    def forward(self, x: Any) -> Any:
        return x * self.scale + self.offset


def network(seed: int, n_in: int, output: nn.Module | None = None,
            hidden_init: Any = "he_normal") -> nn.Sequential:
    rp.manual_seed(seed)
    layers = [dense(n_in, 64, init=hidden_init), nn.ReLU(), dense(64, 64, init=hidden_init), nn.ReLU(),
              dense(64, 1)]
    return nn.Sequential(*layers, *(() if output is None else (output,)))


def double_normalized_diabetes(seed: int) -> tuple[np.ndarray, ...]:
    """The raw diabetes features min-max normalized twice over (``(x - min) / range / range``), as the
    benchmark's ``double_normalization`` loader does: each column lands in [0, 1 / range]."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True, scaled=False)
    x_train, y_train, x_val, y_val = split(x, y.reshape(-1, 1), seed, 110)
    low, spread = x_train.min(axis=0), x_train.max(axis=0) - x_train.min(axis=0)
    x_train, x_val = ((x_train - low) / spread / spread, (x_val - low) / spread / spread)
    return (x_train.astype(np.float32), y_train.astype(np.float32), x_val.astype(np.float32),
            y_val.astype(np.float32))


def program(seed: int, *, lr: float = 0.001, raw_features: bool = False, double_normalized: bool = False,
            raw_targets: bool = False, target_range: tuple[float, float] | None = None,
            output: nn.Module | None = None, unscale_output: bool = False, l2: float = 1e-5,
            hidden_init: Any = "he_normal", loss: Any = "mse") -> Program:
    """The clean program with one fault switched on. ``unscale_output`` trains on standardized targets
    but predicts (and is judged) in the raw targets' units, through a fixed ``Rescale`` output;
    ``target_range`` min-max scales the targets to that range instead of standardizing them."""
    if double_normalized:
        x_train, y_train, x_val, y_val = double_normalized_diabetes(seed)
    else:
        x_train, y_train, x_val, y_val = diabetes(seed, raw_features=raw_features)
    if unscale_output:
        mean, std = float(y_train.mean()), float(y_train.std())
        model = network(seed, x_train.shape[1], Rescale(std, mean), hidden_init)
    else:
        if target_range is not None:
            low, high = float(y_train.min()), float(y_train.max())
            y_train, y_val = (target_range[0] + (y - low) / (high - low) * (target_range[1] - target_range[0])
                              for y in (y_train, y_val))
        elif not raw_targets:
            y_train, y_val = standardize_targets(y_train, y_val)
        model = network(seed, x_train.shape[1], output, hidden_init)
    # the penalty l2 * sum(w^2) adds 2 * l2 * w to each gradient: Adam's (coupled) weight_decay
    optimizer = rp.optim.Adam(model.parameters(), lr=lr, weight_decay=2 * l2)
    return Program(model, optimizer, x_train, y_train.astype(np.float32), x_val, y_val.astype(np.float32),
                   loss=loss, epochs=EPOCHS, batch_size=BATCH, metric=None)
