"""Data Science SE 44698: a hand-written 1-3-1 sigmoid network for sin(x) that adds its gradient.

SOURCE: https://datascience.stackexchange.com/questions/44698 ("Calculating sin function with neural
network using python"). The asker's NumPy program: 50 inputs drawn by ``np.random.uniform`` on [0, 1),
targets ``np.sin`` of them (so in [0, 0.84]); one hidden layer of 3 sigmoid units and one sigmoid output
unit; every weight and bias drawn by ``np.random.uniform`` on [0, 1); 20,000 full-batch iterations at
learning rate 0.1. Its backward pass is the one of the from-scratch tutorials it follows (sigmoid
derivative ``a * (1 - a)``, the output delta passed back through the output weights) except for one sign:
it takes ``Error = predicted_output - output_array`` and then *adds* ``learning_rate * activation.T @ delta``
to every weight and bias (the tutorials take ``E = y - output`` before adding). ``(prediction - target)``
times the chain of derivatives is the gradient of half the summed squared error, so every update climbs
the error instead of descending it. The port writes the same update: the summed squared error
(``MSELoss(reduction='sum')``, whose gradient is twice that of half the sum, hence lr 0.05 for the
asker's 0.1) under ``SGD(maximize=True)``; one batch of all 50 samples. Nothing needs a download: the
training inputs are drawn the same way per seed, and 200 more draws of the same distribution are the
validation set the question does not have. Nothing is cut: 20,000 iterations.
SYMPTOM: "the final error does not seem to reach any close to zero" after 20,000 epochs.
FIX: descend the error: ``Error = output_array - predicted_output`` with the same ``+=`` updates (the
tutorials' sign), i.e. subtract the gradient; network, initialization, data and learning rate unchanged.
The mechanism: ascending the squared error drives the output sigmoid away from the targets (all in
[0, 0.84]) toward 1 and saturates it there, so the error grows and then freezes far from zero.
Run plainly (seeds 0, 1, 2): validation MSE over the targets' variance 4.94 / 5.96 / 5.51 (training loss,
the summed squared error, 11.8 -> 16.5, 7.3 -> 16.4, 6.2 -> 17.0: it rises); fixed version 0.0007 / 0.0031 /
0.0025 (training loss down to 0.003-0.007). Each run 6-10 seconds.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.tensor import Tensor

from . import Program

SOURCE = ("https://datascience.stackexchange.com/questions/44698 (NumPy 1-3-1 sigmoid network for sin(x), "
          "Error = prediction - target added to the weights); data generated as in the question")
SYMPTOM = "the error does not come anywhere near zero after 20,000 iterations"
FIX = "subtract the gradient (Error = target - prediction before the += updates); nothing else changed"
SPLIT = "heldout"
ROUND = 18
EXPECTED = frozenset({"gradient_ascent"})
ALLOWED = frozenset({"saturated_activations", "vanishing_gradients", "underfitting", "slow_convergence"})

N_TRAIN, N_VAL, EPOCHS, LR = 50, 200, 20000, 0.1


def _uniform01(parameter: Tensor) -> None:
    """``np.random.uniform(size=...)``: uniform on [0, 1), from retroprop's seeded generator."""
    parameter.data[...] = rp.default_generator().random(parameter.shape).astype(parameter.dtype)


def _layer(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out, init=_uniform01)
    _uniform01(layer.bias)
    return layer


def _program(seed: int, ascend: bool) -> Program:
    rng = np.random.default_rng(seed)
    x_train = rng.uniform(size=(N_TRAIN, 1)).astype(np.float32)
    x_val = rng.uniform(size=(N_VAL, 1)).astype(np.float32)
    y_train, y_val = np.sin(x_train), np.sin(x_val)
    rp.manual_seed(seed)
    model = nn.Sequential(_layer(1, 3), nn.Sigmoid(), _layer(3, 1), nn.Sigmoid())
    # half the summed squared error at lr 0.1 == the summed squared error at lr 0.05
    optimizer = rp.optim.SGD(model.parameters(), lr=LR / 2, maximize=ascend)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss=nn.MSELoss(reduction="sum"),
                   epochs=EPOCHS, batch_size=N_TRAIN, metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, ascend=True)


def fixed(seed: int) -> Program:
    return _program(seed, ascend=False)
