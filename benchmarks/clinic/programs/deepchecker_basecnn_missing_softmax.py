"""TheDeepChecker synthetic bug missing_softmax/baseCNN_miss_soft: a hand-written log loss on the raw logits.

SOURCE: TheDeepChecker, buggy_synthetic_programs/missing_softmax/baseCNN_miss_soft.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean program clean_base_programs/baseCNN.py. The fault: ``probabilities = logits`` (the softmax removed),
so the hand-written ``mean(-sum(labels * log(clip(probabilities, 1e-32, 1 - 1e-32))))`` takes the log of
the linear output layer's values: every logit at or above 1 (or at or below 1e-32) is clipped and gets no
gradient, the loss says nothing about the other classes, and the argmax is junk. The network: two ReLU
convolutions (32 5x5, 64 3x3, He-normal, max-pooling) and ``Dense(512)`` + ReLU (He-normal) before
``Dense(10)`` (TensorFlow's default Glorot-uniform, zero biases), an L1/L2 penalty of 1e-5 on every
kernel, plain gradient descent at lr 0.1, MNIST scaled to [0, 1]. Here: retroprop has no convolution, so
the convolutions become one ``Dense(256)`` + ReLU (He-normal: the size of their flattened output on 8x8
images); MNIST becomes scikit-learn's 8x8 digits scaled to [0, 1]; the L2 penalty 1e-5 (gradient
2e-5 w) becomes SGD weight decay 2e-5 (on biases too), the L1 part 0 as in the clean program; batch 64
(DeepChecker's loaders batch the data themselves; their size is not in the program), 20 epochs.
Fixed: the clean program's ``tf.losses.softmax_cross_entropy(labels, logits)``.
Run plainly (seed 0): validation accuracy 0.102; fixed version 0.968.
"""

from __future__ import annotations

from typing import Any

import retroprop as rp
from retroprop import nn
from retroprop.nn.loss import _Loss
from retroprop.tensor import Tensor

from . import Program
from ._qa_common import _one_hot, dense, digits

SOURCE = ("TheDeepChecker buggy_synthetic_programs/missing_softmax/baseCNN_miss_soft.py (CNN -> MLP; "
          "MNIST -> sklearn digits in [0, 1])")
SYMPTOM = ("the loss is computed on logits instead of probabilities: training does not reach the clean "
           "accuracy")
FIX = "softmax cross-entropy on the logits (tf.losses.softmax_cross_entropy), as the clean program"
SPLIT = "dev"
ROUND = 2
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"non_finite", "exploding_gradients", "unstable_loss", "dead_relu", "slow_convergence",
                     "underfitting"})


class ClippedLogLoss(_Loss):
    """The program's hand-written ``mean(-sum(labels * log(clip(p, 1e-32, 1 - 1e-32)), axis=1))`` on integer
    labels (one-hot inside), applied to whatever the network outputs."""

    classification = True

    def forward(self, input: Tensor, target: Any) -> Tensor:
        p = input.clip(1e-32, 1.0 - 1e-32)
        return -(p.log() * _one_hot(target, input.shape[-1])).sum() / input.shape[0]


def _program(seed: int, loss: Any) -> Program:
    x_tr, y_tr, x_va, y_va = digits(seed, 1 / 16)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(64, 256, init="kaiming_normal"), nn.ReLU(),
                          dense(256, 512, init="kaiming_normal"), nn.ReLU(), dense(512, 10))
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1, weight_decay=2e-5)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss=loss, epochs=20, batch_size=64,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, ClippedLogLoss())


def fixed(seed: int) -> Program:
    return _program(seed, "cross_entropy")
