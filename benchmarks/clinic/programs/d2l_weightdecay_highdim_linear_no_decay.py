"""Dive into Deep Learning, "Weight Decay": 200-input linear regression fit on 20 examples without decay.

SOURCE: Dive into Deep Learning (d2l.ai, PyTorch edition 0.17), section "Weight Decay"
(https://d2l.ai/chapter_multilayer-perceptrons/weight-decay.html at the time; source file
github.com/d2l-ai/d2l-en, chapter_multilayer-perceptrons/weight-decay.md; its 1.0 rewrite moved to
chapter_linear-regression and changed the initialization and the epochs), the concise implementation
``train_concise(wd)``. The tutorial's program: ``synthetic_data``: inputs ``X ~ N(0, 1)`` of 200 features,
``y = 0.05 + 0.01 * sum(X) + N(0, 0.01^2)``; 20 training and 100 test examples; ``nn.Linear(200, 1)``
with *every* parameter (weight and bias) drawn from ``normal_()`` (N(0, 1)); ``nn.MSELoss`` averaged over
the batch; ``torch.optim.SGD`` at lr 0.003 with two parameter groups, the weight's with
``weight_decay=wd`` and the bias's without; 100 epochs of shuffled mini-batches of 5. The text runs it with
``wd = 0`` ("we overfit badly, decreasing the training error but not the test error - a textbook case of
overfitting") and then with ``wd = 3``. Nothing is replaced (the data are generated as there, drawn from
the seed) and nothing is cut; the 100 test examples are the validation data.
SYMPTOM: with ``wd = 0`` the training loss falls while the test loss stays high: the model overfits.
FIX: the tutorial's: ``weight_decay=3`` on the weight's parameter group (the bias still undecayed); data,
model, initialization, learning rate, batch and epochs unchanged.
The mechanism: 20 equations cannot pin down 200 weights. Gradient descent only moves the weight vector
inside the 20-dimensional span of the training inputs; the other 180 directions keep their N(0, 1)
starting values, which the test inputs read as noise of variance ~180 against targets of variance 0.02.
Weight decay shrinks every direction by (1 - lr * wd) per step, 400 steps here: the unconstrained part
decays to a few percent of its start.
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 11331 / 8783 / 11066 (training loss 222 / 236 /
200 -> 3e-11 to 3e-10: the 20 examples are fit exactly, while the validation loss only goes 240 -> 211,
166 -> 148, 216 -> 215; weight norm 12-14); fixed version 16.6 / 27.5 / 38.5 (training loss -> 0.003-0.010,
validation loss -> 0.31 / 0.46 / 0.75; weight norm 0.35-0.44). Each run well under a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program

SOURCE = ("Dive into Deep Learning 0.17 (PyTorch), 'Weight Decay', train_concise "
          "(https://d2l.ai/chapter_multilayer-perceptrons/weight-decay.html; github.com/d2l-ai/d2l-en "
          "chapter_multilayer-perceptrons/weight-decay.md); data generated as there")
SYMPTOM = "training error falls but the test error does not: the 200-weight model overfits its 20 examples"
FIX = "the tutorial's: SGD weight_decay=3 on the weight (bias undecayed) instead of 0"
SPLIT = "heldout"
ROUND = 16
EXPECTED = frozenset({"overfitting"})
ALLOWED: frozenset[str] = frozenset()

N_TRAIN, N_TEST, N_INPUTS, BATCH, EPOCHS, LR = 20, 100, 200, 5, 100, 0.003


def _synthetic(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """d2l's ``synthetic_data(true_w = 0.01 * ones, true_b = 0.05, n)``."""
    x = rng.standard_normal((n, N_INPUTS))
    y = x @ np.full((N_INPUTS, 1), 0.01) + 0.05 + rng.normal(0.0, 0.01, (n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def _program(seed: int, wd: float) -> Program:
    rng = np.random.default_rng(seed)
    x_train, y_train = _synthetic(rng, N_TRAIN)
    x_test, y_test = _synthetic(rng, N_TEST)
    rp.manual_seed(seed)
    layer = nn.Linear(N_INPUTS, 1)
    nn.init.normal_(layer.weight, 0.0, 1.0)  # param.data.normal_() on both parameters
    nn.init.normal_(layer.bias, 0.0, 1.0)
    model = nn.Sequential(layer)
    optimizer = rp.optim.SGD([{"params": [layer.weight], "weight_decay": wd}, {"params": [layer.bias]}],
                             lr=LR)
    return Program(model, optimizer, x_train, y_train, x_test, y_test, loss="mse", epochs=EPOCHS,
                   batch_size=BATCH, metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, wd=0.0)


def fixed(seed: int) -> Program:
    return _program(seed, wd=3.0)
