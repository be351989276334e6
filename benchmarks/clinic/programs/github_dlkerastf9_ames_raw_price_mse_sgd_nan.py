"""dl-keras-tf issue #9: Ames sale prices in dollars as raw targets of an MSE loss under SGD at lr 0.1.

SOURCE: https://github.com/rstudio-conf-2020/dl-keras-tf/issues/9 ("train/valid loss = NAN when loss =
'mean_squared_error' due to exploding values"), on the workshop's mini-project
``materials/03-recipe/02-mini-project-ames.Rmd`` (commit 3dca65d, step 2). The program: the Ames housing
table (2,930 homes) split 70/30 at random; a ``recipes`` blueprint Yeo-Johnson-transforms, centres and
scales the numeric features and one-hot encodes the categorical ones (188 inputs in all, numeric ones
about N(0, 1), dummies 0/1); the response ``Sale_Price`` stays in dollars (about $180,000 on average, up to
$755,000). ``layer_dense(128, relu)`` then ``layer_dense(1)`` (Keras's Glorot-uniform kernels, zero
biases), ``optimizer_sgd(lr = 0.1)``, ``loss = "mean_squared_error"``, ``batch_size = 16``,
``validation_split = 0.2`` (Keras takes the last 20 % of the already shuffled training rows: 1,640 to
train on, 411 to validate), 10 epochs (the R interface's default), shuffled every epoch.
The Ames data needs a download: here a generated table of the same shape and scale, 2,051 homes (the 70 %
training part) with 48 standardized numeric features and 20 categorical features of 7 levels one-hot
encoded (188 inputs), and a log-normal sale price ``exp(12.0 + 0.4 * s)`` where ``s`` is a standardized
mix of a linear function of the numeric features, per-level effects of the categorical ones, a few
products of features and noise (mean about $175,000, a long right tail as Ames's). Nothing is cut.
SYMPTOM: ``loss: nan - mae: nan - val_loss: nan`` from the first epoch on.
FIX: the issue's: the instructions' loss, ``loss = "msle"`` (Keras's mean squared logarithmic error,
``mean((log(max(p, 1e-7) + 1) - log(max(y, 1e-7) + 1))^2)``), the network, optimizer and data unchanged.
The mechanism: against targets of order 2e5 the squared error is of order 4e10 and its gradient at the
output of order 4e5; one SGD step at lr 0.1 moves the output bias by tens of thousands of dollars and the
output weights by thousands, the next prediction overshoots by more, and within a few steps the weights
overflow to inf and the loss to NaN. On the log scale the error is of order 12 and its gradient through
``1 / (p + 1)`` small: the same steps are stable and the outputs climb toward the prices (slowly, see below).
Run plainly (seeds 0, 1, 2): the training loss overflows to inf within the first epoch, where ``fit`` stops
with the last finite (already enormous) weights: validation MSE / var(y_val) = 2.6e42 / 6.9e43 / 5.3e44;
fixed version (scored on the dollar prices as well) 7.05 / 6.31 / 6.21, training loss (msle) 45-48 -> 14.7.
The fixed version is stable but not yet a good model: at lr 0.1 the msle gradient, divided by ``p + 1``,
is small once the outputs are in the thousands, and after the issue's 10 epochs the predictions are still
climbing (about $4,000 on seed 0 against prices around $175,000, correlation with them 0.35). Each run
under a second.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.nn.loss import _Loss
from retroprop.tensor import Tensor

from . import Program
from ._keras import EPSILON, dense

SOURCE = ("https://github.com/rstudio-conf-2020/dl-keras-tf/issues/9 (materials/03-recipe/"
          "02-mini-project-ames.Rmd, step 2, with loss mean_squared_error and optimizer_sgd(lr = 0.1)); "
          "Ames housing -> a generated table of the same shape (188 standardized/one-hot inputs) with "
          "log-normal dollar prices")
SYMPTOM = "train and validation loss are NaN from the first epoch"
FIX = "use the instructions' loss, 'msle' (mean squared logarithmic error), instead of mean_squared_error"
SPLIT = "heldout"
ROUND = 21
EXPECTED = frozenset({"unscaled_targets"})
ALLOWED = frozenset({"exploding_gradients", "non_finite", "unstable_loss"})

N_HOMES, N_NUMERIC, N_CATEGORICAL, N_LEVELS = 2051, 48, 20, 7
EPOCHS, BATCH, LR = 10, 16, 0.1


class MeanSquaredLogarithmicError(_Loss):
    """Keras's ``msle``: ``mean((log(max(p, eps) + 1) - log(max(y, eps) + 1))^2)`` on a linear output."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        y = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=input.dtype)
        log_true = np.log(np.maximum(y.reshape(input.shape), EPSILON) + 1.0)
        diff = (input.clamp(min=EPSILON) + 1.0).log() - log_true
        return (diff * diff).mean()


def _homes(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The stand-in table: 188 inputs as the recipe bakes them, prices in dollars."""
    rng = np.random.default_rng(seed)
    numeric = rng.standard_normal((N_HOMES, N_NUMERIC))
    levels = rng.integers(0, N_LEVELS, size=(N_HOMES, N_CATEGORICAL))
    onehot = np.zeros((N_HOMES, N_CATEGORICAL * N_LEVELS))
    onehot[np.arange(N_HOMES)[:, None], np.arange(N_CATEGORICAL) * N_LEVELS + levels] = 1.0
    weights = rng.standard_normal(N_NUMERIC) * (rng.random(N_NUMERIC) < 0.4)
    effects = rng.standard_normal((N_CATEGORICAL, N_LEVELS)) * 0.5
    signal = (numeric @ weights + effects[np.arange(N_CATEGORICAL), levels].sum(axis=1)
              + 0.5 * numeric[:, 0] * numeric[:, 1] + 0.3 * np.abs(numeric[:, 2]))
    signal = signal + 0.4 * signal.std() * rng.standard_normal(N_HOMES)
    price = np.exp(12.0 + 0.4 * (signal - signal.mean()) / signal.std())
    x = np.concatenate([numeric, onehot], axis=1).astype(np.float32)
    return x, price.astype(np.float32).reshape(-1, 1)


def _program(seed: int, loss: Any) -> Program:
    x, y = _homes(seed)
    n_train = int(N_HOMES * 0.8)  # validation_split = 0.2: the last rows
    rp.manual_seed(seed)
    model = nn.Sequential(dense(x.shape[1], 128), nn.ReLU(), dense(128, 1))
    return Program(model, rp.optim.SGD(model.parameters(), lr=LR), x[:n_train], y[:n_train], x[n_train:],
                   y[n_train:], loss=loss, epochs=EPOCHS, batch_size=BATCH, metric=None,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, "mse")


def fixed(seed: int) -> Program:
    return _program(seed, MeanSquaredLogarithmicError())
