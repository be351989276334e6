"""DeepFD case 3 (StackOverflow 31556268): XOR with a 2-4-1 sigmoid net on mean absolute error.

Ported from DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark/Subjects/31556268: origin.py and
repair.py): the four XOR points, ``train_test_split(test_size=0.2)`` (three to train on, one held out),
2-4-1 sigmoid (Glorot-uniform), SGD lr 0.05 with momentum 0.11 (Nesterov; the 1e-6 decay is left out),
mean absolute error on the sigmoid output, batch 4, 1000 epochs. The repair trains on all four points
with MSE and Adam for 50,000 epochs; cut: 4,000 epochs, and its validation data are the four points
(the question has no other).
Run plainly (seed 0): the training loss goes from 0.48 to 0.34 and the held-out point is
wrong; the fixed version gets all four points right.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.tensor import Tensor

from . import Program
from ._keras import binary_accuracy, dense

SOURCE = ("DeepFD benchmark case 3 (github.com/ArabelaTso/DeepFD, Benchmark/Subjects/31556268/"
          "loss_mse__epoch_50000__lr_0.1: origin.py, repair.py); StackOverflow question 31556268")
SYMPTOM = "the network does not learn XOR: its outputs stay near 0.5 for every input"
FIX = "mean squared error instead of mean absolute error, Adam, all four points, many more epochs (DeepFD)"
SPLIT = "dev"
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"underfitting", "vanishing_gradients", "saturated_activations"})

XOR_X = np.array([[1, 1], [1, 0], [0, 0], [0, 1]], dtype=np.float32)
XOR_Y = np.array([[0], [1], [0], [1]], dtype=np.float32)


def mean_absolute_error(output: Tensor, target: np.ndarray) -> Tensor:
    """Keras's ``mean_absolute_error``."""
    return (output - np.asarray(target, dtype=output.dtype)).abs().mean()


def _model() -> nn.Sequential:
    return nn.Sequential(dense(2, 4), nn.Sigmoid(), dense(4, 1), nn.Sigmoid())


def buggy(seed: int) -> Program:
    rp.manual_seed(seed)
    x_tr, x_va, y_tr, y_va = rp.data.train_test_split(XOR_X, XOR_Y, test_size=0.2, seed=seed)
    model = _model()
    opt = rp.optim.SGD(model.parameters(), lr=0.05, momentum=0.11, nesterov=True)
    return Program(model, opt, x_tr, y_tr, x_va, y_va, loss=mean_absolute_error, epochs=1000, batch_size=4,
                   fit_options={"seed": seed, "metrics": [binary_accuracy]})


def fixed(seed: int) -> Program:
    rp.manual_seed(seed)
    model = _model()
    return Program(model, rp.optim.Adam(model.parameters(), lr=1e-3), XOR_X.copy(), XOR_Y.copy(),
                   XOR_X.copy(), XOR_Y.copy(), loss="mse", epochs=4000, batch_size=4,
                   fit_options={"seed": seed, "metrics": [binary_accuracy]})
