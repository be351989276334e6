"""Cross Validated 284189: a one-unit linear regression in Keras on raw TV budgets (0-300), SGD, batch 1.

SOURCE: https://stats.stackexchange.com/questions/284189 ("Simple Linear Regression in Keras"). The
question's program: one input column predicting another; ``Dense(1, activation='linear')`` (Keras's
Glorot-uniform kernel, zero bias), ``SGD()`` at Keras's defaults (lr 0.01, no momentum), mean squared
error, batch size 1, 30 epochs, ``shuffle=False``. Its data (a downloaded table of television
advertising budgets against sales, judging by its figure, "television-data") are not in the question:
here 200 rows generated on the same scale as that table, budgets ~ U(0.7, 296.4) and sales = 7.03 +
0.0475 budget + N(0, 3.26^2) (the least-squares line and residual spread of ISLR's Advertising data);
40 rows, drawn by the seed, are held out for validation (the question has none). Nothing else is cut.
SYMPTOM: "nan loss on every epoch"; only a "ridiculously small" learning rate (1e-7) gives a decent fit.
Mechanism: the loss's curvature along the weight is 2 x^2 per sample, up to 2 * 296^2 = 175,000, so a
step of lr 0.01 multiplies the error by up to 1,750: it overflows within a few steps.
FIX: the best answer's: standardize the input and the target (StandardScaler, fitted here on the
training rows and applied to the validation rows) and keep SGD's default learning rate; nothing else
changes.
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 1.1e41 / 1.1e41 / 8.3e41 (training loss inf
from the first epoch, the weight about 1e19); fixed version 0.52 / 0.30 / 0.36, at the noise floor of a
straight line (the least-squares line's validation error is 0.45 / 0.29 / 0.36 on these draws). Each
run under half a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._qa_common import split

SOURCE = ("https://stats.stackexchange.com/questions/284189 (TV-budget/sales data generated on the scale "
          "of ISLR's Advertising table; 40 rows held out for validation)")
SYMPTOM = "nan loss on every epoch unless the learning rate is made tiny (1e-7)"
FIX = "standardize the input and the target (the best answer); SGD's default lr kept"
SPLIT = "heldout"
ROUND = 7
EXPECTED = frozenset({"unscaled_inputs"})
ALLOWED = frozenset({"exploding_gradients", "non_finite", "unstable_loss", "unscaled_targets"})

N_ROWS, N_VAL = 200, 40
EPOCHS = 30


def _program(seed: int, standardized: bool) -> Program:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.7, 296.4, size=(N_ROWS, 1))
    y = 7.03 + 0.0475 * x + rng.normal(0.0, 3.26, size=(N_ROWS, 1))
    x_train, y_train, x_val, y_val = split(x.astype(np.float32), y.astype(np.float32), seed, N_VAL)
    if standardized:
        x_mean, x_std = x_train.mean(), x_train.std()
        y_mean, y_std = y_train.mean(), y_train.std()
        x_train, x_val = (x_train - x_mean) / x_std, (x_val - x_mean) / x_std
        y_train, y_val = (y_train - y_mean) / y_std, (y_val - y_mean) / y_std
    rp.manual_seed(seed)
    model = nn.Sequential(dense(1, 1))
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.01), x_train.astype(np.float32),
                   y_train.astype(np.float32), x_val.astype(np.float32), y_val.astype(np.float32), loss="mse",
                   epochs=EPOCHS, batch_size=1, metric=None, fit_options={"seed": seed, "shuffle": False})


def buggy(seed: int) -> Program:
    return _program(seed, standardized=False)


def fixed(seed: int) -> Program:
    return _program(seed, standardized=True)
