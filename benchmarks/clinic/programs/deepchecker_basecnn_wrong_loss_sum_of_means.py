"""TheDeepChecker synthetic fault wrong_loss_function/baseCNN_wrong_loss: the loss's mean and sum swapped.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_loss_function/baseCNN_wrong_loss.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs/wrong_loss_function),
derived from its clean program clean_base_programs/baseCNN.py. The fault, as the file's docstring says:
nested reductions such as ``reduce_sum(reduce_mean(..., axis), axis)`` are easily swapped, "we reproduce the
inverse of mean and sum for loss computation": a hand-written softmax (row max subtracted) and
``-reduce_mean(labels * log(clip(p, 1e-32, 1 - 1e-32)), axis=1)`` (a mean over the 10 classes, not a sum),
then ``reduce_sum`` over the batch (not a mean). The loss is the batch's summed cross-entropy over 10: for a
batch of 64, 6.4 times the clean program's mean, and so are its gradients. (The same file's sibling,
wrong_loss_function2/baseCNN_wrong_loss2, sums over axis 0 and averages over the classes: the same number.)
The network as the faulty file builds it: two ReLU convolutions (32 5x5, 64 3x3, He-normal, max-pooling)
and ``Dense(1024)`` + ReLU (He-normal; 512 in the clean program) before a linear ``Dense(10)`` (TensorFlow's
default Glorot-uniform, zero biases), an L1/L2 penalty of 1e-5 on every kernel, plain
``GradientDescentOptimizer(0.1)`` on loss + penalty, MNIST scaled to [0, 1] by the benchmark's loader. Here,
as in the other baseCNN ports (baseCNN_high_lr's among them): the convolutions become one ``Dense(256)`` +
ReLU (He-normal); MNIST becomes scikit-learn's digits enlarged to 28x28 (784 inputs) in [0, 1], 600 held
out; the penalty 1e-5 * sum(w^2) becomes SGD weight decay 2e-5 (biases included); batch 64 (DeepChecker's
loaders batch the data themselves; the size is not in the program), 20 epochs. Nothing else is cut.
SYMPTOM: the swapped reductions scale every step by the batch size over the number of classes (6.4 here):
gradient descent at 0.1 then takes steps of an effective 0.64, overshoots, and the accuracy falls far below
the clean program's (the benchmark's file states the fault, not a run; this is what the ported code shows).
FIX: the clean program's loss, softmax cross-entropy averaged over the batch
(``tf.losses.softmax_cross_entropy``); the network (width 1024), rate and penalty unchanged.
Run plainly (seeds 0, 1, 2): validation accuracy 0.090 / 0.088 / 0.097 (the summed loss 75-105 in the
first epoch, then flat at 14.6, a batch of 64 times ln 10 / 10: the outputs are uniform from the second
epoch on); fixed version 0.973 / 0.972 / 0.985 (training loss 1.23-1.27 to 0.02). Each run one to two
seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.nn.loss import _Loss
from retroprop.tensor import Tensor

from . import Program
from ._qa_common import _one_hot, dense, digits_784

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_loss_function/baseCNN_wrong_loss.py (CNN -> MLP; "
          "MNIST -> sklearn digits enlarged to 28x28, [0, 1])")
SYMPTOM = ("the cross-entropy is averaged over the classes and summed over the batch: every step is 6.4x "
           "the clean program's and the accuracy falls far below it")
FIX = "the clean program's softmax cross-entropy averaged over the batch (tf.losses.softmax_cross_entropy)"
SPLIT = "heldout"
ROUND = 15
EXPECTED = frozenset({"exploding_gradients"})
ALLOWED = frozenset({"unstable_loss", "non_finite", "dead_relu", "underfitting"})


class SumOfClassMeans(_Loss):
    """The faulty file's loss on the logits: a hand-written softmax (the row's max subtracted), the
    probabilities clipped to [1e-32, 1 - 1e-32], ``-mean(onehot * log p)`` over the classes, summed over
    the batch (integer labels; accuracy by argmax)."""

    classification = True

    def forward(self, input: Tensor, target: Any) -> Tensor:
        shifted = input - np.max(input.data, axis=1, keepdims=True)  # the max is a constant shift
        exps = shifted.exp()
        probabilities = exps / exps.sum(axis=1, keepdims=True)
        picked = probabilities.clip(1e-32, 1.0 - 1e-32).log() * _one_hot(target, input.shape[-1])
        return -(picked.sum(axis=1) / input.shape[-1]).sum()


def _program(seed: int, bug: bool) -> Program:
    x_tr, y_tr, x_va, y_va = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(784, 256, init="kaiming_normal"), nn.ReLU(),
                          dense(256, 1024, init="kaiming_normal"), nn.ReLU(), dense(1024, 10))
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1, weight_decay=2e-5)
    loss = SumOfClassMeans() if bug else "cross_entropy"
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss=loss, epochs=20, batch_size=64,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
