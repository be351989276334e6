"""Cross Validated: a binary classifier whose single output unit goes through a softmax.

SOURCE:
https://stats.stackexchange.com/questions/481881/convolutional-neural-network-fails-even-when-given-answer
("Convolutional neural network fails even when given answer"). Two ReLU convolutions (30 and 64 filters)
on 99 x 25 x 2 inputs, flattened into ``Dense(1, activation='softmax')``, Adam (Keras default lr 0.001),
a binary target, batch 32, one epoch; the label itself is copied into the input's second channel, and
the network still predicts "true" for everything. Ported as an MLP (the convolutions become ReLU
layers of 30 and 64 units on a smaller 20 x 5 x 2 input, 200 features, the label copied into one
feature of the second channel), 1500 generated samples, 10 epochs. Keras's categorical cross-entropy on
one probability becomes retroprop's logistic loss on the softmax output (BCEWithLogitsLoss): in both,
the softmax of one unit is the constant 1, so no gradient reaches the network and every prediction
is the same.
SYMPTOM: the same prediction for every input ("true" for everything), accuracy at the majority share.
FIX: the answer: a softmax over one unit is always 1; use ``Dense(1, activation='sigmoid')`` with binary
cross-entropy (here: the output unit's logit into BCEWithLogitsLoss).
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, split

SOURCE = "https://stats.stackexchange.com/questions/481881 (CNN -> MLP, generated 20x5x2 inputs)"
SYMPTOM = "predicts the same class for every input, even with the label in the input"
FIX = "a sigmoid (logistic) output unit with binary cross-entropy instead of a softmax over one unit"
SPLIT = "heldout"
EXPECTED = ["loss_output_mismatch"]
ALLOWED = ["vanishing_gradients", "slow_convergence", "underfitting"]

_N, _SHAPE = 1500, (20, 5, 2)


def _data(seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    y = (rng.random(_N) < 0.6).astype(np.float32)
    x = rng.random((_N, *_SHAPE)).astype(np.float32)
    x[:, :, :, 1] = np.round(x[:, :, :, 1])  # a binary channel, as the question's pastebin sample
    x[:, 0, 0, 1] = y  # "the output boolean is in the input"
    return split(x.reshape(_N, -1), y.reshape(-1, 1), seed, 500)


def _program(seed: int, buggy: bool) -> Program:
    x_train, y_train, x_val, y_val = _data(seed)
    rp.manual_seed(seed)
    layers = [dense(200, 30), nn.ReLU(), dense(30, 64), nn.ReLU(), dense(64, 1)]
    model = nn.Sequential(*layers, nn.Softmax()) if buggy else nn.Sequential(*layers)
    return Program(model, rp.optim.Adam(model.parameters(), lr=0.001), x_train, y_train, x_val, y_val,
                   loss=nn.BCEWithLogitsLoss(), epochs=10, batch_size=32)


def buggy(seed: int) -> Program:
    return _program(seed, buggy=True)


def fixed(seed: int) -> Program:
    return _program(seed, buggy=False)
