"""StackOverflow 48355700: the Keras MNIST MLP with Dropout(0.99) after each hidden layer.

SOURCE: https://stackoverflow.com/questions/48355700 ("Dropout behavior in Keras with rate=1 (dropping all
input units) not as expected"). The Keras ``mnist_mlp`` example as the question and its accepted answer
run it: ``Dense(512, relu, use_bias=False)`` on the 784 pixels, ``Dropout``, ``Dense(512, relu)``,
``Dropout``, ``Dense(10, softmax)``, categorical cross-entropy, ``RMSprop()`` (lr 0.001, rho 0.9), batch
128, pixels divided by 255. The answer shows that at a dropout rate of 0.99 "there is effectively no
training taking place" (loss 3.43 then 2.33, accuracy 0.11 for 3 epochs). MNIST needs a download: here
scikit-learn's digits enlarged to 28x28 (784 inputs) in [0, 1]; 10 epochs (about 90 steps). Keras's
softmax output with categorical cross-entropy is the logits form here (``cross_entropy``), the same
function.
SYMPTOM: training and validation accuracy stay near chance (0.11): nearly every unit is dropped at each step.
FIX: the example's own rate, Dropout(0.2).
Run plainly (seed 0): validation accuracy 0.088; fixed version 0.910.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._qa_common import digits_784

SOURCE = ("https://stackoverflow.com/questions/48355700 (the accepted answer's Dropout(0.99) run of the "
          "Keras mnist_mlp example; MNIST -> sklearn digits enlarged to 28x28, [0, 1])")
SYMPTOM = "no training takes place: loss near ln 10 and accuracy about 0.11"
FIX = "the mnist_mlp example's Dropout(0.2)"
SPLIT = "heldout"
ROUND = 2
EXPECTED = frozenset({"dropout_too_high"})
ALLOWED = frozenset({"underfitting", "slow_convergence", "unstable_loss", "dead_relu"})


def _program(seed: int, rate: float) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    first = nn.Linear(784, 512, bias=False, init="xavier_uniform")
    model = nn.Sequential(first, nn.ReLU(), nn.Dropout(rate), dense(512, 512), nn.ReLU(), nn.Dropout(rate),
                          dense(512, 10))
    optimizer = rp.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=10,
                   batch_size=128, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, 0.99)


def fixed(seed: int) -> Program:
    return _program(seed, 0.2)
