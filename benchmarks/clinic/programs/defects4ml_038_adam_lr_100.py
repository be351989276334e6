"""Defects4ML bug 038 (NikhilM98/learning-deeplearning): a three-layer classifier trained by Adam at lr 100.

SOURCE: Defects4ML (github.com/mohmehmo/defects4ml), ``bugs/038`` (``conf.ini``: bug type "Suboptimal
learning rate", symptom "Bad performance": "model accuracy does not reach the level that is expected"),
whose buggy and fixed programs are ``super_basic_1.py`` of github.com/NikhilM98/learning-deeplearning
before and at commit eb24906 ("Inc Accuracy"). The program (a well-known Keras tutorial's drug-trial
toy): 1,000 pairs of ages, one ``randint(13, 64)`` labelled 0 and one ``randint(65, 100)`` labelled 1, then
50 pairs labelled the other way round (2,100 samples, 5 % of them against the pattern);
``MinMaxScaler(feature_range=(0, 1))`` on the ages; ``Dense(16, relu)``, ``Dense(32, relu)``, ``Dense(2,
softmax)`` (Keras's Glorot-uniform kernels, zero biases); sparse categorical cross-entropy;
``Adam(lr=100)``; batch 10, 20 epochs, shuffled. The buggy program has no validation data: here both
versions are validated on a second draw of the same generator at a tenth of the size (100 + 5 pairs, 210
samples, scaled by the training scaler). Seed ``s`` draws both data sets (Python's unseeded ``randint``
in the program) and the weights. Keras's softmax output under sparse categorical cross-entropy is the
logits form here (``cross_entropy``, the same function). Nothing is cut (4,200 steps).
SYMPTOM: the accuracy stays low ("Bad performance"): each of Adam's first steps moves every weight by about
the learning rate, 100, against weights of size 0.1-0.6.
FIX: the fixed commit's ``Adam(lr=0.0001)`` (it also adds ``validation_split=0.1`` and swaps the order in
which the two groups are generated, which shuffling makes immaterial); same data, network, batch and epochs.
Run plainly (seeds 0, 1, 2): validation accuracy 0.500 / 0.500 / 0.500 (training loss 1.6e5-2.6e5 in the first
epoch, 12-19 in the last; training accuracy 0.50); fixed version 0.914 / 0.924 / 0.919 (training loss
0.67-0.73 -> 0.26-0.33; 5 % of the labels go against the pattern, so about 0.95 is the ceiling). Each run
about a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("Defects4ML bugs/038 (github.com/mohmehmo/defects4ml); github.com/NikhilM98/learning-deeplearning "
          "super_basic_1.py before and at commit eb24906; data generated as in the program, validation on a "
          "second draw")
SYMPTOM = "Adam(lr=100): the accuracy does not reach the expected level (bad performance)"
FIX = "Adam(lr=0.0001) (commit eb24906)"
SPLIT = "heldout"
ROUND = 12
EXPECTED = frozenset({"exploding_gradients"})
ALLOWED = frozenset({"non_finite", "unstable_loss", "dead_relu", "vanishing_gradients", "underfitting",
                     "slow_convergence"})

EPOCHS, BATCH = 20, 10


def _ages(rng: np.random.Generator, normal: int, outliers: int) -> tuple[np.ndarray, np.ndarray]:
    """The program's loops: ``normal`` pairs (young 0, old 1), then ``outliers`` pairs the other way."""
    ages, labels = [], []
    for count, young_label in ((normal, 0), (outliers, 1)):
        for _ in range(count):
            ages += [int(rng.integers(13, 65)), int(rng.integers(65, 101))]  # randint's ends are inclusive
            labels += [young_label, 1 - young_label]
    return np.array(ages, dtype=np.float64).reshape(-1, 1), np.array(labels, dtype=np.int64)


def _program(seed: int, lr: float) -> Program:
    rng = np.random.default_rng(seed)
    x_tr, y_tr = _ages(rng, 1000, 50)
    x_va, y_va = _ages(rng, 100, 5)
    low, high = x_tr.min(), x_tr.max()  # MinMaxScaler(feature_range=(0, 1)) fitted on the training ages
    x_tr, x_va = (x_tr - low) / (high - low), (x_va - low) / (high - low)
    rp.manual_seed(seed)
    # the softmax is in the loss
    model = nn.Sequential(dense(1, 16), nn.ReLU(), dense(16, 32), nn.ReLU(), dense(32, 2))
    optimizer = rp.optim.Adam(model.parameters(), lr=lr, eps=1e-7)
    return Program(model, optimizer, x_tr.astype(np.float32), y_tr, x_va.astype(np.float32), y_va,
                   loss="cross_entropy", epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, lr=100.0)


def fixed(seed: int) -> Program:
    return _program(seed, lr=1e-4)
