"""StackOverflow: "Why does a binary Keras CNN always predict 1?" - a softmax over the one output unit.

SOURCE: StackOverflow question "Why does a binary Keras CNN always predict 1?" (text mirrored at
https://geek-questions.imtqy.com/articles/1270335/index.html and https://whosebug.com/question/2796462).
About 6000 windows of 10 time steps x 4 standardized price features; two ``Convolution1D`` layers (16 and
8 filters, length 4) each with BatchNormalization, LeakyReLU and Dropout(0.2); Flatten; ``Dense(64)``,
BatchNormalization, LeakyReLU; ``Dense(1)``, ``Activation('softmax')``; Adam, ``binary_crossentropy``,
batch 128, 100 epochs, ReduceLROnPlateau. Ported as an MLP (each convolution becomes a dense layer of the
same output size, 160 and 80 units, with the same BatchNorm/LeakyReLU/Dropout), 1500 generated windows
of a random walk whose label (about 60 % ones, as the question's 608 / 970) depends on the window's trend,
30 epochs, without the plateau schedule. Keras's sigmoid-less binary cross-entropy on the softmax output
becomes BCEWithLogitsLoss on it: the softmax of one unit is the constant 1, so no gradient flows.
SYMPTOM: every prediction is 1 (confusion matrix [[0 362] [0 608]]).
FIX: the answer: a softmax over one unit always outputs 1; use a sigmoid output (``Dense(1)`` with
``activation='sigmoid'``), here the unit's logit into BCEWithLogitsLoss.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, split

SOURCE = "StackOverflow 'Why does a binary Keras CNN always predict 1?' (CNN -> MLP, generated price windows)"
SYMPTOM = "predicts 1 for every sample"
FIX = "sigmoid output unit with binary cross-entropy instead of a softmax over one unit"
SPLIT = "dev"
EXPECTED = ["loss_output_mismatch"]
ALLOWED = ["vanishing_gradients", "slow_convergence", "underfitting"]

_N, _STEPS = 1500, 10


def _data(seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    close = np.cumsum(rng.standard_normal((_N, _STEPS + 1)), axis=1)
    spread = np.abs(rng.standard_normal((_N, _STEPS + 1, 2))) * 0.3
    windows = np.stack([close, close + spread[..., 0], close - spread[..., 1], np.roll(close, 1, axis=1)],
                       axis=2)[:, 1:]  # open-ish, high, low, previous close
    trend = close[:, -1] - close[:, 1]
    y = (trend + 0.5 * rng.standard_normal(_N) > -0.8).astype(np.float32)
    x = windows - windows.mean(axis=(1, 2), keepdims=True)
    x = (x - x.mean()) / x.std()
    return split(x.reshape(_N, -1).astype(np.float32), y.reshape(-1, 1), seed, 500)


def _program(seed: int, buggy: bool) -> Program:
    x_train, y_train, x_val, y_val = _data(seed)
    rp.manual_seed(seed)
    layers = [dense(40, 160), nn.BatchNorm1d(160), nn.LeakyReLU(), nn.Dropout(0.2),
              dense(160, 80), nn.BatchNorm1d(80), nn.LeakyReLU(), nn.Dropout(0.2),
              dense(80, 64), nn.BatchNorm1d(64), nn.LeakyReLU(), dense(64, 1)]
    model = nn.Sequential(*layers, nn.Softmax()) if buggy else nn.Sequential(*layers)
    return Program(model, rp.optim.Adam(model.parameters(), lr=0.001), x_train, y_train, x_val, y_val,
                   loss=nn.BCEWithLogitsLoss(), epochs=30, batch_size=128)


def buggy(seed: int) -> Program:
    return _program(seed, buggy=True)


def fixed(seed: int) -> Program:
    return _program(seed, buggy=False)
