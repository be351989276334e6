"""StackOverflow 50663446: a 784-10-10 MNIST network with all-zero weights and a softmax hidden layer.

SOURCE: StackOverflow question 50663446 ("cannot train a neural network with one hidden layer"; the
number as its mirror shijianchuo.net/question/50663446 gives it, the same question and answer also at
pullrequest.ru/11818227). The question's TensorFlow program: MNIST pixels in [0, 1] (``input_data``,
one-hot labels); ``W1 = zeros([784, 10])``, ``b1 = zeros([10])``, ``out1 = softmax(x W1 + b1)``;
``W2 = zeros([10, 10])``, ``b2 = zeros([10])``, ``prediction = softmax(out1 W2 + b2)``; the loss
``reduce_mean(square(y - prediction))`` (MSE over the one-hot rows); ``GradientDescentOptimizer(0.1)``,
batch 100, 101 epochs; the test accuracy printed after each epoch (the validation data here). MNIST
needs a download: here scikit-learn's digits enlarged to 28x28 (784 inputs) in [0, 1], 600 held out;
cut: 2,000 epochs of about 12 steps (24,000 steps, against the original's 101 x 550 = 55,550). Accuracy
is the argmax of the output against the one-hot row.
SYMPTOM: the test accuracy does not change at all during training.
Mechanism: with every weight zero, each hidden softmax outputs 0.1 for every input, the rows of W2 get
identical updates, and the gradient the output sends back to the hidden layer is the same for all ten
units, which a softmax's Jacobian maps to exactly zero: W1 never moves and the output never depends on
the input.
FIX: the answer's: random initial weights and biases (``truncated_normal(stddev=0.1)``) and a
sigmoid instead of the softmax in the hidden layer; the same loss, optimizer, batch and epochs.
Run plainly (seeds 0, 1, 2): validation accuracy 0.090 / 0.087 / 0.083 (one class's share; training
loss 0.0900 at the first epoch and 0.0900 at the last); fixed version 0.910 / 0.923 / 0.930 (training
loss 0.017-0.021). Each run about 7-11 seconds.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import onehot_accuracy
from ._qa_common import digits_784, normal_init

SOURCE = ("StackOverflow question 50663446 (mirrored at shijianchuo.net/question/50663446; MNIST -> "
          "sklearn digits enlarged to 28x28, [0, 1])")
SYMPTOM = "the test accuracy does not change during training"
FIX = ("random initial weights and biases (truncated normal, std 0.1) and a sigmoid hidden layer instead of "
       "the softmax (the answer)")
SPLIT = "heldout"
ROUND = 7
EXPECTED = frozenset({"vanishing_gradients"})
ALLOWED = frozenset({"underfitting", "slow_convergence", "loss_output_mismatch", "saturated_activations"})

EPOCHS, BATCH = 2000, 100


def _layer(n_in: int, n_out: int, random: bool) -> nn.Linear:
    if not random:
        layer = nn.Linear(n_in, n_out, init="zeros")
        nn.init.zeros_(layer.bias)
        return layer
    fill = normal_init(0.1, truncated=True)
    layer = nn.Linear(n_in, n_out, init=fill)
    fill(layer.bias)
    return layer


def _program(seed: int, bug: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    eye = np.eye(10, dtype=np.float32)
    rp.manual_seed(seed)
    hidden = nn.Softmax(dim=-1) if bug else nn.Sigmoid()
    model = nn.Sequential(_layer(784, 10, not bug), hidden, _layer(10, 10, not bug), nn.Softmax(dim=-1))
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.1), x_train, eye[y_train], x_val, eye[y_val],
                   loss="mse", epochs=EPOCHS, batch_size=BATCH,
                   fit_options={"seed": seed, "metrics": [onehot_accuracy]})


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
