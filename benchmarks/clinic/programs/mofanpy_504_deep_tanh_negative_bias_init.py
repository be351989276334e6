"""MorvanZhou's PyTorch tutorial 504: eight tanh layers with N(0, 0.1) weights and biases of -0.2 fail to fit.

SOURCE: https://github.com/MorvanZhou/PyTorch-Tutorial/blob/master/tutorial-contents/504_batch_normalization.py
(the batch-normalization lesson of mofanpy.com's PyTorch tutorial), a tutorial that shows a network that
fails and the cure. The program: 2,000 points ``x = linspace(-7, 10)`` (unscaled), targets ``x**2 - 5 +
N(0, 2^2)`` (up to ~95, unscaled); a test set of 200 points drawn the same way; eight hidden
``Linear(·, 10)`` layers, each followed by tanh, and a ``Linear(10, 1)`` output, every weight drawn from
N(0, 0.1^2) and every bias set to the constant -0.2 (the source's comment: "use a bad bias constant
initializer"); ``MSELoss``, ``Adam(lr=0.03)``, batches of 64 reshuffled every epoch, 12 epochs; the test
loss is measured in eval mode. The tutorial trains the "original" network and the same network with
batch normalization side by side and plots both. Nothing is replaced (the data are generated as in the
source, from the seed) and nothing is cut.
SYMPTOM: the original network's test loss stays high (its prediction barely bends to the parabola) while
the batch-normalized twin fits it.
FIX: the tutorial's cure: ``Net(batch_normalization=True)``: ``BatchNorm1d(1, momentum=0.5)`` on the input
and ``BatchNorm1d(10, momentum=0.5)`` after every hidden ``Linear``, before its tanh; the same
initialization, optimizer, data and epochs.
The mechanism: with weights of std 0.1 over 10 inputs, each hidden layer's pre-activation is about
-0.2 plus a term of std ~0.1 * sqrt(10) * (its input's spread); tanh of that is close to the constant
tanh(-0.2) = -0.197, so the input's variation shrinks several-fold at each of the eight layers and the
last hidden layer hands the output an almost constant vector: the output can only fit the targets'
mean, and the gradients that reach the first layers are as small as the signal (measured at
initialization on the training inputs: the hidden layers' spread is 0.25, 0.09, 0.024, 0.006, ...
3e-5). Batch normalization rescales every pre-activation to unit spread, so the signal (and the
gradient) survives the depth.
Run plainly (seeds 0, 1, 2): test MSE / var(y_test) = 1.000 / 1.000 / 1.001 (the mean; training loss 970 ->
684-691); fixed version 0.080 / 0.162 / 0.089 (training loss ~1000 -> 82-85). Each run under a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program

SOURCE = ("https://github.com/MorvanZhou/PyTorch-Tutorial/blob/master/tutorial-contents/"
          "504_batch_normalization.py (the 'original' network without batch normalization); data generated "
          "as in the source")
SYMPTOM = "the deep tanh network's test loss stays high: its prediction does not follow the parabola"
FIX = "the tutorial's cure: BatchNorm1d (momentum 0.5) on the input and after every hidden Linear"
SPLIT = "heldout"
ROUND = 21
EXPECTED = frozenset({"vanishing_gradients"})
ALLOWED = frozenset({"saturated_activations", "unscaled_inputs", "underfitting", "slow_convergence"})

N_SAMPLES, N_TEST, BATCH, EPOCHS, LR, N_HIDDEN, B_INIT = 2000, 200, 64, 12, 0.03, 8, -0.2


def _linear(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.normal_(layer.weight, 0.0, 0.1)
    nn.init.constant_(layer.bias, B_INIT)
    return layer


def _data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(-7, 10, n)[:, None]
    y = np.square(x) - 5 + rng.normal(0, 2, x.shape)
    return x.astype(np.float32), y.astype(np.float32)


def _program(seed: int, batch_normalization: bool) -> Program:
    rng = np.random.default_rng(seed)
    x_train, y_train = _data(rng, N_SAMPLES)
    x_test, y_test = _data(rng, N_TEST)
    rp.manual_seed(seed)
    layers: list[nn.Module] = [nn.BatchNorm1d(1, momentum=0.5)] if batch_normalization else []
    for i in range(N_HIDDEN):
        layers.append(_linear(1 if i == 0 else 10, 10))
        if batch_normalization:
            layers.append(nn.BatchNorm1d(10, momentum=0.5))
        layers.append(nn.Tanh())
    layers.append(_linear(10, 1))
    model = nn.Sequential(*layers)
    return Program(model, rp.optim.Adam(model.parameters(), lr=LR), x_train, y_train, x_test, y_test,
                   loss="mse", epochs=EPOCHS, batch_size=BATCH, metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, batch_normalization=False)


def fixed(seed: int) -> Program:
    return _program(seed, batch_normalization=True)
