"""TheDeepChecker synthetic fault wrong_loss_function2/regrNN_wrong_loss2: (N,) targets broadcast against
(N, 1) predictions in a hand-written squared error.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_loss_function2/regrNN_wrong_loss2.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs/wrong_loss_function2),
derived from its clean regression program clean_base_programs/regrNN.py (see ``_regrnn``: features -> 64
ReLU -> 64 ReLU -> 1, He-normal hidden kernels, Glorot output, Adam at lr 0.001, the benchmark's loader
normalizing features and targets; Auto MPG, not bundled, becomes scikit-learn's diabetes set, standardized).
The fault, as the file's docstring explains it: the labels' placeholder drops its explicit single dimension
(``[None]`` instead of ``[None, 1]``, the targets fed unreshaped) and the loss is written by hand as
``reduce_mean(square(outputs - labels))``, so the (B, 1) outputs and the (B,) labels broadcast to a (B, B)
matrix: every prediction is compared with every target of the batch. The faulty file also lowers the L2
penalty from 1e-5 to 1e-6; both versions here keep its 1e-6 (Adam's coupled weight decay 2e-6), so that they
differ by the fix only. Batch 32 and 15 epochs as the other regrNN ports (the loaders batch the data
themselves; neither number is in the program).
SYMPTOM: the file names the fault only (a broadcast in the loss); its mechanism, below, leaves the
predictions at the targets' mean: the validation error stays near the targets' variance.
FIX: the clean program: targets of shape (N, 1) and ``tf.losses.mean_squared_error(labels, outputs)``.
Mechanism: mean_ij (p_i - y_j)^2 = mean_i (p_i - mean_j y_j)^2 + var_j(y_j) over the batch: the loss is
smallest when every prediction equals the batch's mean target, whatever the inputs, so the network learns
to ignore them; its training loss stalls near the targets' variance (1 in standardized units).
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 0.963 / 1.064 / 0.975 (training loss, the
broadcast mean, 1.4-2.0 in the first epoch and 1.02-1.04 in the fifteenth: the targets' variance); fixed
version 0.595 / 0.584 / 0.506 (training MSE 1.3-2.0 to 0.35-0.36). Each run well under a second.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from retroprop.nn.loss import _Loss
from retroprop.tensor import Tensor

from . import Program
from ._regrnn import program

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_loss_function2/regrNN_wrong_loss2.py (Auto MPG -> "
          "sklearn diabetes)")
SYMPTOM = ("(N,) targets broadcast against (N, 1) outputs in a hand-written squared error: the network "
           "predicts the batch's mean target whatever the inputs")
FIX = "targets of shape (N, 1) and tf.losses.mean_squared_error, as the clean program"
SPLIT = "heldout"
ROUND = 17
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"underfitting", "slow_convergence"})

L2 = 1e-6  # the faulty file's penalty, kept in both versions


class BroadcastSquaredError(_Loss):
    """``reduce_mean(square(outputs - labels))`` with (B, 1) outputs and (B,) labels: TensorFlow broadcasts
    them to (B, B) and the mean runs over all B^2 pairs."""

    classification = False
    doctor_loss_kind = "mse"

    def forward(self, input: Tensor, target: Any) -> Tensor:
        y = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=input.dtype)
        diff = input - y.reshape(1, -1)  # (B, 1) - (1, B) -> (B, B)
        return (diff * diff).mean()

    def extra_repr(self) -> str:
        return "(B, 1) outputs against (B,) labels, broadcast to (B, B), as the benchmark's file"


def buggy(seed: int) -> Program:
    p = program(seed, l2=L2, loss=BroadcastSquaredError())
    p.y_train, p.y_val = p.y_train.reshape(-1), p.y_val.reshape(-1)  # labels fed as (N,)
    return p


def fixed(seed: int) -> Program:
    return program(seed, l2=L2)
