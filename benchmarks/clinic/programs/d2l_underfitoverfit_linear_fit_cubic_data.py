"""Dive into Deep Learning, "Model Selection, Underfitting, and Overfitting": a linear function fitted
to data drawn from a cubic, which underfits.

SOURCE: Dive into Deep Learning 0.17 (PyTorch edition), section 4.4 "Model Selection, Underfitting, and
Overfitting", subsection "Polynomial Regression" (https://d2l.ai/chapter_multilayer-perceptrons/
underfit-overfit.html; github.com/d2l-ai/d2l-en, chapter_multilayer-perceptrons/underfit-overfit.md). The
tutorial's program: 200 draws x ~ N(0, 1) (100 to train, 100 to test), features x^i / i! for i = 0..19,
labels 5 + 1.2 x - 3.4 x^2/2! + 5.6 x^3/3! plus N(0, 0.1^2) noise; ``train`` builds
``nn.Sequential(nn.Linear(d, 1, bias=False))`` with PyTorch's default initialization, ``nn.MSELoss``
(``reduction='none'``, averaged before ``backward`` by ``train_epoch_ch3``), ``torch.optim.SGD(lr=0.01)``,
minibatches of ``min(10, n_train) = 10`` reshuffled every epoch, 400 epochs, and plots the train and test
loss. Its "Linear Function Fitting (Underfitting)" run passes only the first two feature columns (1 and
x) where the "Third-Order Polynomial Function Fitting (Normal)" run passes the first four. The data are
generated as in the tutorial (NumPy's generator seeded per run); nothing is replaced and nothing is cut.
SYMPTOM: the tutorial: after the early epochs the training loss hardly decreases any more and stays high
at the end, the test loss with it: the linear model underfits the cubic data.
FIX: the tutorial's normal case: the first four feature columns (1, x, x^2/2!, x^3/3!), the degree of the
function that drew the labels; network, loss, optimizer, learning rate, batch and epochs unchanged.
The mechanism: with only 1 and x the best the model can do is the least-squares line through a cubic;
the residual (what the quadratic and cubic terms leave after that line, a mean square of ~8 against the
labels' variance of ~21) is not in the span of its features, so no amount of training lowers either loss
past it. With four columns the span holds the true function and the loss falls to the noise (0.01).
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 0.381 / 0.383 / 0.380 (training loss
28.4 -> 8.2, 25.5 -> 7.8, 31.8 -> 7.6: it stops falling in the first epochs); fixed version 0.0005 /
0.0003 / 0.0005 (training loss 29.1 -> 0.011, 24.6 -> 0.008, 32.0 -> 0.011, the noise's 0.01). Each run
under half a second.
"""

from __future__ import annotations

import math

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program

SOURCE = ("Dive into Deep Learning 0.17 (PyTorch), 'Model Selection, Underfitting, and Overfitting', "
          "polynomial regression, linear function fitting (https://d2l.ai/chapter_multilayer-perceptrons/"
          "underfit-overfit.html; github.com/d2l-ai/d2l-en chapter_multilayer-perceptrons/"
          "underfit-overfit.md); data generated as there")
SYMPTOM = ("the training loss stops decreasing early and stays high, the test loss too: the linear model "
           "underfits")
FIX = "the tutorial's normal case: feed the first four polynomial features (degree 3) instead of two (1, x)"
SPLIT = "heldout"
ROUND = 17
EXPECTED = frozenset({"underfitting"})
ALLOWED = frozenset({"missing_nonlinearity"})
FIX_CHANGES_INPUTS = True  # the fix feeds four polynomial features where the bug feeds two

MAX_DEGREE, N_TRAIN, N_TEST, BATCH, EPOCHS, LR = 20, 100, 100, 10, 400, 0.01
TRUE_W = (5.0, 1.2, -3.4, 5.6)


def _data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's ``poly_features`` (x^i / i!, i < 20) and ``labels`` for 200 draws of x."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_TRAIN + N_TEST, 1))
    rng.shuffle(x)
    powers = np.power(x, np.arange(MAX_DEGREE).reshape(1, -1))
    poly = powers / np.array([math.gamma(i + 1) for i in range(MAX_DEGREE)]).reshape(1, -1)
    weights = np.zeros(MAX_DEGREE)
    weights[:len(TRUE_W)] = TRUE_W
    labels = poly @ weights + rng.normal(scale=0.1, size=len(poly))
    return poly.astype(np.float32), labels.reshape(-1, 1).astype(np.float32)


def _program(seed: int, n_columns: int) -> Program:
    poly, labels = _data(seed)
    x_train, x_test = poly[:N_TRAIN, :n_columns], poly[N_TRAIN:, :n_columns]
    y_train, y_test = labels[:N_TRAIN], labels[N_TRAIN:]
    rp.manual_seed(seed)
    model = nn.Sequential(nn.Linear(n_columns, 1, bias=False))  # PyTorch's default initialization
    optimizer = rp.optim.SGD(model.parameters(), lr=LR)
    return Program(model, optimizer, x_train, y_train, x_test, y_test, loss="mse", epochs=EPOCHS,
                   batch_size=BATCH, metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, n_columns=2)


def fixed(seed: int) -> Program:
    return _program(seed, n_columns=4)
