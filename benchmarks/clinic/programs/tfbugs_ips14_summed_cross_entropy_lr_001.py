"""Zhang et al. ISSTA 2018 TensorFlow bug IPS-14: softmax regression on a summed cross-entropy at lr 0.01.

SOURCE: "An Empirical Study on TensorFlow Program Bugs" (Zhang, Chen, Cheung, Xiong, Zhang, ISSTA 2018), its
reproducible subjects at github.com/ForeverZyh/TensorFlow-Program-Bugs, ``StackOverflow/IPS-14``
(``33641799-buggy/mnist.py`` and ``33641799-fix/mnist.py``; StackOverflow question 33641799; root cause
IPS: incorrect model parameter or structure). The program, TensorFlow's "MNIST for beginners" softmax
regression: MNIST flattened to 784 inputs in [0, 1], one-hot labels; ``y = softmax(x W + b)`` with ``W`` and
``b`` starting at zero; the loss ``-reduce_sum(y_ * log(y))`` (summed over the batch and the classes, no
clipping); ``GradientDescentOptimizer(0.01)``; 1,000 steps of ``mnist.train.next_batch(205)``; accuracy by
argmax on the test set. MNIST needs a download: here scikit-learn's bundled 8x8 digits blown up to 28x28
(784 inputs, ``digits_784(seed, 1/16)``), 600 of them held out for validation; 1,197 training images make 6
batches of 205 an epoch (the last one 172), so 167 epochs give the program's 1,000 steps. Nothing is cut.
The scale: what sets the largest stable step of this linear model is the inputs' energy per image,
``sum(x**2)``: 87.8 on MNIST (pixel mean 0.1307, std 0.3081: 784 * (0.1307^2 + 0.3081^2)) but 135 on the
enlarged digits in [0, 1], whose 3x3 blocks are bolder than MNIST's strokes. The digits are therefore
multiplied by sqrt(87.8 / 135) = 0.81 (pixels in [0, 0.81]) so that a step of lr 0.01 or 0.005 is as large
as on MNIST. (A first port on the unscaled enlarged digits made the fixed lr 0.005 diverge as well on seed
0, as expected of inputs 1.5 times MNIST's energy.)
SYMPTOM (the buggy run the study reproduced): the loss turns NaN during training, and the NaN spreads to
the weights.
FIX: the benchmark's fixed file: ``GradientDescentOptimizer(0.005)``; the model, loss and data unchanged.
Mechanism: a loss summed over 205 samples makes each step 205 times the step of the mean loss, so lr 0.01 is
about 2 on the usual scale; on inputs with a hundred or more lit pixels the logits jump by tens each step
and overshoot, a confident mistake's probability underflows to 0, ``log(0)`` is -inf and ``0 * -inf`` in
the sum is NaN, which the next step writes into every weight.
Run plainly (seeds 0, 1, 2): the loss is NaN in the first epoch and ``fit`` stops there, keeping the last
finite weights: validation accuracy 0.290 / 0.177 / 0.465; fixed version 0.965 / 0.955 / 0.967 (training
loss, summed over a batch of 205, 898-1130 in the first epoch, 4.6-6.0 in the last). Each run under a
second.
A variant of this subject is among TheDeepChecker's StackOverflow examples (SO_buggy_examples/IPS_14.py,
``W`` drawn from ``truncated_normal`` there); this port follows the study's own buggy and fixed files.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import NaiveCrossEntropy, digits_784

SOURCE = ("Zhang et al. ISSTA'18 TensorFlow program bugs (github.com/ForeverZyh/TensorFlow-Program-Bugs, "
          "StackOverflow/IPS-14, question 33641799); MNIST -> sklearn digits enlarged to 28x28, scaled to "
          "MNIST's energy per image")
SYMPTOM = "the summed, unguarded cross-entropy turns NaN under gradient descent at lr 0.01"
FIX = "the benchmark's fix: GradientDescentOptimizer(0.005)"
SPLIT = "heldout"
ROUND = 18
EXPECTED = frozenset({"unstable_loss"})
ALLOWED = frozenset({"non_finite", "exploding_gradients", "underfitting"})

EPOCHS, BATCH = 167, 205
MNIST_ENERGY = 784 * (0.1307**2 + 0.3081**2)  # mean sum(x**2) of an MNIST image in [0, 1]


def _program(seed: int, lr: float) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1.0 / 16.0)
    every = np.concatenate([x_train, x_val])
    scale = np.float32(np.sqrt(MNIST_ENERGY / float((every.astype(np.float64) ** 2).sum(axis=1).mean())))
    x_train, x_val = x_train * scale, x_val * scale
    rp.manual_seed(seed)
    linear = nn.Linear(784, 10)
    nn.init.zeros_(linear.weight)  # tf.Variable(tf.zeros([784, 10]))
    nn.init.zeros_(linear.bias)  # tf.Variable(tf.zeros([10]))
    model = nn.Sequential(linear, nn.Softmax(dim=-1))
    optimizer = rp.optim.SGD(model.parameters(), lr=lr)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss=NaiveCrossEntropy(reduction="sum"),
                   epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, lr=0.01)


def fixed(seed: int) -> Program:
    return _program(seed, lr=0.005)
