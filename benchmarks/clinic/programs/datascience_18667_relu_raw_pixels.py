"""Data Science SE 18667: a one-hidden-layer ReLU network under plain SGD on raw 0-255 pixels.

SOURCE: https://datascience.stackexchange.com/questions/18667/relu-vs-sigmoid-in-mnist-example ("ReLU vs
sigmoid in mnist example"). The question's whole program: MNIST flattened to 784 raw pixel values (0-255,
never rescaled), ``Dense(100)``, an activation, ``Dense(10)`` + softmax, categorical cross-entropy, Keras's
``'sgd'`` (lr 0.01), batch 100, 15 epochs (Keras's Glorot-uniform weights, zero biases). The asker reports
about 95 % accuracy with a sigmoid hidden layer and under 50 % once it is a ReLU; the ReLU version is the
buggy one here. MNIST needs a download: here scikit-learn's digits enlarged to 28x28 (784 inputs) and
kept on the 0-255 scale, 600 held out for validation. Keras's softmax output under categorical
cross-entropy is the logits form here (``cross_entropy``), the same function. Nothing is cut.
SYMPTOM: the accuracy stays at chance with the ReLU hidden layer. (Mechanism: pre-activations in the
hundreds give a first loss in the thousands; the first SGD steps are huge and push nearly every hidden
ReLU negative on every input (99 of 100 at seed 0), after which the network outputs almost a constant and
the loss sits near ln 10.)
FIX: scale the pixels to [0, 1] (divide by 255), nothing else changed. The answers to the question could
not be read here; this is the fix the asker of the sibling question
https://stats.stackexchange.com/questions/367057 (a ReLU MLP on raw Fashion-MNIST pixels at about 20 %
accuracy, better with sigmoids) found and reported in an edit.
Run plainly (seed 0): validation accuracy 0.088; fixed version 0.878.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._qa_common import digits_784

SOURCE = ("https://datascience.stackexchange.com/questions/18667 (the question's program with a ReLU "
          "hidden layer; MNIST -> sklearn digits enlarged to 28x28, 0-255)")
SYMPTOM = "accuracy at chance with a ReLU hidden layer on raw pixels (about 95 % with a sigmoid)"
FIX = "divide the pixels by 255"
SPLIT = "heldout"
ROUND = 4
EXPECTED = frozenset({"unscaled_inputs"})
ALLOWED = frozenset({"dead_relu", "exploding_gradients", "unstable_loss", "underfitting",
                     "slow_convergence"})


def _program(seed: int, scale: float) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, scale)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(784, 100), nn.ReLU(), dense(100, 10))
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.01), x_train, y_train, x_val, y_val,
                   loss="cross_entropy", epochs=15, batch_size=100, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, 16.0)  # digits 0-16 -> MNIST's 0-255


def fixed(seed: int) -> Program:
    return _program(seed, 1 / 16)  # the same pixels / 255
