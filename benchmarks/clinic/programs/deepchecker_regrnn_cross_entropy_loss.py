"""TheDeepChecker synthetic fault wrong_loss_selection (regrNN_inap_loss): cross-entropy as a regression loss.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_loss_selection/regrNN_inap_loss.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean regression program clean_base_programs/regrNN.py (see ``_regrnn``: 9 features -> 64 ReLU -> 64 ReLU
-> 1 linear, He-normal hidden kernels, L2 penalty 1e-5, Adam at lr 0.001). The fault, as the file's
docstring says: "A beginner fault is to use CE for regression problem": the loss is
``reduce_mean(-reduce_sum(labels * log(clip_by_value(outputs, 1e-10, 1.0))))``, a cross-entropy of the
linear output against the targets, summed over the batch (the outer mean is of one number), where the clean
program has the mean squared error. The benchmark's loader (``DataLoaderFromArrays(problem_type=
'regression', normalization=True, homogeneous=False)``) min-max scales the targets, column by column, to
[0, 1], and the features too; here the same, with the training rows' ranges. Auto MPG is not bundled:
scikit-learn's diabetes set (442 x 10, raw columns, 110 rows held out) stands in for it; batch 32 and 15
epochs as in the other regrNN ports. (The other regrNN ports standardize instead; under min-max targets the
clean program trained on standardized features overfits to a validation error above the targets' variance,
while on the loader's min-max features it is healthy.)
SYMPTOM: the loss falls toward 0 while the predictions are worthless: the cross-entropy rewards any output
raised toward 1 (its gradient -y / output pushes every output up) and has no gradient once an output
passes 1 or falls below 1e-10 (the clip), so the network learns to answer >= 1 for every input whatever
its target.
FIX: the clean program's mean squared error (same network, optimizer and data).
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 58.1 / 54.5 / 39.3 (the summed loss 1.3 / 3.4 /
95 in the first epoch, below 0.3 by the fourth and 0.000 at the end; every validation prediction between
0.9 and 3.5, median about 2, against targets of mean 0.4); fixed version 0.614 / 0.556 / 0.504 (training MSE
0.024-0.025, the targets' variance about 0.058). Each run well under a second.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop.nn.loss import _Loss
from retroprop.tensor import Tensor

from . import Program
from ._qa_common import split
from ._regrnn import BATCH, EPOCHS, network

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_loss_selection/regrNN_inap_loss.py (Auto MPG -> "
          "sklearn diabetes, targets min-max scaled to [0, 1] as the benchmark's loader)")
SYMPTOM = ("a cross-entropy -sum(y * log(clip(output, 1e-10, 1))) as the loss of a regression: the loss "
           "falls while every prediction is pushed up to 1")
FIX = "the mean squared error (the clean program)"
SPLIT = "heldout"
ROUND = 10
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"underfitting", "slow_convergence", "dead_relu", "vanishing_gradients"})

N_VAL = 110


class ClippedCrossEntropy(_Loss):
    """TensorFlow's hand-written ``reduce_mean(-reduce_sum(y * log(clip_by_value(out, 1e-10, 1.0))))``
    on a regression output: summed over the batch, no gradient where the clip holds the output."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        y = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=np.float32)
        y = y.reshape(input.shape)
        return -(input.clip(1e-10, 1.0).log() * y).sum()


def _min_max(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The loader's normalization, column by column: ``(x - min) / (max - min)`` of the training rows."""
    low, spread = train.min(axis=0), train.max(axis=0) - train.min(axis=0)
    return ((train - low) / spread).astype(np.float32), ((other - low) / spread).astype(np.float32)


def _program(seed: int, loss: Any) -> Program:
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True, scaled=False)
    x_train, y_train, x_val, y_val = split(x, y.reshape(-1, 1), seed, N_VAL)
    x_train, x_val = _min_max(x_train, x_val)
    y_train, y_val = _min_max(y_train, y_val)
    model = network(seed, x_train.shape[1])  # seeds retroprop's generator
    # the penalty 1e-5 * sum(w^2) adds 2e-5 * w to each gradient: Adam's (coupled) weight_decay
    optimizer = rp.optim.Adam(model.parameters(), lr=0.001, weight_decay=2e-5)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss=loss, epochs=EPOCHS,
                   batch_size=BATCH, metric=None)


def buggy(seed: int) -> Program:
    return _program(seed, ClippedCrossEntropy())


def fixed(seed: int) -> Program:
    return _program(seed, "mse")
