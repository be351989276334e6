"""Habr 347510: Keras's mnist_mlp example fed its training images sorted by digit, with no shuffling.

SOURCE: https://habr.com/ru/post/347510/ (English mirror:
https://weekly-geekly.imtqy.com/articles/347510/index.html), an experiment on "the order of the training
sequence": Keras's ``examples/mnist_mlp.py`` trained three ways on MNIST, 64 times each: in the data set's
own order, interleaved 0123456789 0123..., and sorted, "all the pictures of 0, then all 1, then all 2 and
so on until 9". The first two reach 0.97 test accuracy; the sorted one "simply does not learn" (0.098 to
0.114 in every run). Sorting can only matter when the fit does not reshuffle, so the sorted run is fit
with ``shuffle=False``. The program (Keras's example): pixels flattened to 784 and divided by 255;
``Dense(512, relu)``, ``Dropout(0.2)``, ``Dense(512, relu)``, ``Dropout(0.2)``, ``Dense(10, softmax)``
(Glorot-uniform kernels, zero biases); ``categorical_crossentropy`` on the softmax's probabilities;
``RMSprop()`` with Keras's defaults (lr 0.001, rho 0.9, epsilon 1e-7); batch 128; 20 epochs; accuracy =
argmax. MNIST needs a download: here scikit-learn's digits enlarged to 28x28 (784 inputs) in [0, 1], 600
of them held out in random order, the other 1,197 the training images. What the bug turns on is how many
consecutive batches show one digit: MNIST's 6,000 images a digit fill 47 batches of 128 in a row, the
digits' 120 not even one. So each training image is repeated 10 times (11,970 images, about 9 batches of
one digit in a row), then sorted by label as the article sorts them (stable sort of a random order).
Nothing else is cut: 20 epochs (of 94 batches where MNIST gives 469).
SYMPTOM: test accuracy about 0.10 in every run: the network "does not learn".
FIX: the article's working runs: let the batches mix the digits, i.e. train with Keras's default
``shuffle=True`` (the order is redrawn every epoch); data, network, optimizer and epochs unchanged.
The mechanism: with the images sorted and no shuffling, each batch of 128 holds one digit (two at a
boundary), so each stretch of steps pulls the softmax toward the digit it shows and away from the others;
every epoch ends on runs of 8s and 9s, and the network that is scored is the one those last runs bent.
Run plainly (seeds 0, 1, 2): validation accuracy 0.427 / 0.383 / 0.393 (training loss 0.76 -> 0.027-0.038:
each batch, one digit, is fit well); fixed version 0.975 / 0.975 / 0.988 (training loss 0.32 -> 0.001-0.008).
Each run 16-30 seconds on a loaded machine.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import CategoricalCrossentropy, dense
from ._qa_common import digits_784

SOURCE = ("https://habr.com/ru/post/347510/ (Keras mnist_mlp trained on images sorted by digit, no "
          "shuffling); MNIST -> sklearn digits enlarged to 28x28, [0, 1]")
SYMPTOM = "trained on the images sorted by digit, the MLP scores about 10 % (chance): it does not learn"
FIX = "shuffle the training data every epoch (Keras's default shuffle=True), as the article's working runs"
SPLIT = "heldout"
ROUND = 18
EXPECTED = frozenset({"unshuffled_data"})
ALLOWED = frozenset({"unstable_loss", "underfitting", "slow_convergence"})

EPOCHS, BATCH, COPIES = 20, 128, 10


def _program(seed: int, shuffle: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    x_train, y_train = np.tile(x_train, (COPIES, 1)), np.tile(y_train, COPIES)
    order = np.argsort(y_train, kind="stable")  # all the 0s, then all the 1s, ..., then the 9s
    x_train, y_train = x_train[order], y_train[order]
    rp.manual_seed(seed)
    model = nn.Sequential(dense(784, 512), nn.ReLU(), nn.Dropout(0.2), dense(512, 512), nn.ReLU(),
                          nn.Dropout(0.2), dense(512, 10), nn.Softmax(dim=-1))
    optimizer = rp.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss=CategoricalCrossentropy(),
                   epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed, "shuffle": shuffle})


def buggy(seed: int) -> Program:
    return _program(seed, shuffle=False)


def fixed(seed: int) -> Program:
    return _program(seed, shuffle=True)
