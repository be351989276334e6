"""StackOverflow 69755379: a one-unit Keras regression on raw x = 1..20 diverging under ``'sgd'``.

SOURCE: https://stackoverflow.com/questions/69755379 ("Why is my loss function increasing with each
epoch?"). The question's program: ``xs = 1, 2, ..., 20`` (unscaled), ``ys = xs / 2``;
``keras.Sequential([Dense(units=1, input_shape=[1])])`` (Keras's Glorot-uniform kernel, zero bias),
``compile(optimizer="sgd", loss="mean_squared_error")``, i.e. Keras's default ``SGD()`` (lr 0.01, no
momentum), ``fit(xs, ys, epochs=500)`` at Keras's default batch of 32, so each epoch is one full-batch
step; it then predicts x = 25. The question has no validation data: here 4 of the 20 points, drawn by
the seed, are held out and the other 16 are trained on (still one full-batch step per epoch). Nothing
else is cut.
SYMPTOM: the loss grows about 3.5x every epoch (450, 1603, 5698, 20256, ... 1.3e13 by epoch 20) until
it overflows. Mechanism: the loss's curvature along the weight is 2 mean(x^2) ~ 290, so a step of lr
0.01 multiplies the weight's error by |1 - 2.9| ~ 1.9 each epoch.
FIX: the accepted answer's: a lower learning rate, ``keras.optimizers.SGD(learning_rate=0.0001)``; the
model, data and epochs unchanged.
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 2.4e36 / 6.8e36 / 4.7e36 (the training loss
reaches inf at epoch 65 / 86 / 66, where ``fit`` stops on the non-finite loss); fixed version 1e-7 /
3e-5 / 2e-4 (the line y = x / 2 recovered). Each run well under a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._qa_common import split

SOURCE = ("https://stackoverflow.com/questions/69755379 (the question's program and data: x = 1..20, "
          "y = x / 2; 4 points held out for validation)")
SYMPTOM = "the loss grows about 3.5x every epoch until it overflows"
FIX = "a lower learning rate (the accepted answer): SGD at lr 1e-4 instead of Keras's default 0.01"
SPLIT = "heldout"
ROUND = 8
EXPECTED = frozenset({"exploding_gradients"})
ALLOWED = frozenset({"non_finite", "unstable_loss", "unscaled_inputs", "unscaled_targets"})

N_VAL, EPOCHS, BATCH = 4, 500, 32


def _program(seed: int, lr: float) -> Program:
    x = np.arange(1, 21, dtype=np.float32).reshape(-1, 1)
    y = (x / 2.0).astype(np.float32)
    x_train, y_train, x_val, y_val = split(x, y, seed, N_VAL)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(1, 1))
    optimizer = rp.optim.SGD(model.parameters(), lr=lr, momentum=0.0)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="mse", epochs=EPOCHS,
                   batch_size=BATCH, metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, 0.01)


def fixed(seed: int) -> Program:
    return _program(seed, 1e-4)
