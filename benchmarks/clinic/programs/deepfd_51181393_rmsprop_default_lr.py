"""DeepFD case 45 (StackOverflow 51181393): a one-weight linear regression y = 5x trained by RMSprop at its
default learning rate.

Ported from DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx, case 45: ground
truth "learning rate"), whose patch gives the buggy and the fixed ``compile`` lines, and from the question's
program (stackoverflow.com/questions/51181393; read from a public copy of its fixed version instrumented
with Umlaut's callback) for the rest: 100 inputs evenly spaced in [1, 2], targets ``y = 5 x`` (5 to 10);
``train_test_split(test_size=0.2)`` (80 train, 20 validate); one ``Dense(1)`` with a linear activation
(Glorot-uniform weight, zero bias); mean squared error; ``optimizer='rmsprop'``, i.e. RMSprop at Keras's
defaults (lr 0.001, rho 0.9, eps 1e-7); batch 32; 200 epochs (600 steps).
SYMPTOM: the loss falls but far too slowly: after 200 epochs the predictions are still far from 5x.
Mechanism: RMSprop moves each parameter by about the learning rate per step whatever the gradient's size
(a few times more in the first steps), so 600 steps of 0.001 move the weight and the bias by well under 1
each, while the fit needs the weight at 5 from a start in [-1.7, 1.7].
FIX: DeepFD's patch: RMSprop at lr 0.1 (a training setting; nothing else changes).
Run plainly (seed 0): validation MSE / var(y_val) = 9.92 (training loss 48.2 -> 29.5); fixed version 0.007
(seeds 1, 2: 15.9 / 0.007, 30.7 / 0.010). Each run under half a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("DeepFD benchmark case 45 (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx); "
          "https://stackoverflow.com/questions/51181393 (the question's program; data generated as there)")
SYMPTOM = "the loss falls far too slowly: after 600 steps a linear fit of y = 5x is still far off"
FIX = "RMSprop at lr 0.1 instead of its default 0.001 (DeepFD's patch)"
SPLIT = "heldout"
ROUND = 3
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"underfitting", "unscaled_targets", "unscaled_inputs"})


def _program(seed: int, lr: float) -> Program:
    x = np.linspace(1, 2, 100, dtype=np.float32).reshape(-1, 1)
    y = (5 * x).astype(np.float32)
    x_tr, x_va, y_tr, y_va = rp.data.train_test_split(x, y, test_size=0.2, seed=seed)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(1, 1))
    optimizer = rp.optim.RMSprop(model.parameters(), lr=lr, alpha=0.9, eps=1e-7)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="mse", epochs=200, batch_size=32,
                   metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, lr=1e-3)


def fixed(seed: int) -> Program:
    return _program(seed, lr=0.1)
