"""TheDeepChecker SO example IPS_7: a hand-written binary cross-entropy on a network with a linear output.

SOURCE: TheDeepChecker, SO_buggy_examples/IPS_7.py
(https://github.com/thedeepchecker/thedeepchecker/blob/master/SO_buggy_examples/IPS_7.py), a StackOverflow
question ported by the benchmark's authors. One hidden layer 784 -> 512 sigmoid, output 512 -> 10 with
no activation, both without bias and with ``random_normal`` (std 1) weights; the loss is
``mean(sum(-y*log(out) - (1-y)*log(1-out), axis=1))`` on one-hot labels, applied to the raw linear
outputs; plain gradient descent at lr 0.05, inputs normalized to [0, 1]. MNIST (needs a download) is
replaced by scikit-learn's digits enlarged to 28x28 (784 inputs) and scaled to [0, 1]; batch 100.
SYMPTOM: the loss is NaN from the first steps (log of negative outputs) and nothing is learnt.
(The benchmark's file quotes no symptom; this is what the ported code shows when run plainly.)
FIX: the line the original leaves commented out: ``tf.nn.sigmoid_cross_entropy_with_logits(y_, y)``,
the logistic loss on the logits (the sigmoid inside the loss).
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import (
    NaiveBinaryCrossEntropy,
    SigmoidCrossEntropy,
    dense,
    digits_784,
    normal_init,
)

SOURCE = "TheDeepChecker SO_buggy_examples/IPS_7.py (MNIST -> sklearn digits enlarged to 28x28, [0, 1])"
SYMPTOM = "NaN loss from the start; accuracy at chance"
FIX = "sigmoid cross-entropy on the logits (tf.nn.sigmoid_cross_entropy_with_logits) instead of log(out)"
SPLIT = "heldout"
EXPECTED = ["loss_output_mismatch", "non_finite"]
ALLOWED = ["saturated_activations", "exploding_gradients", "unstable_loss"]


def _program(seed: int, buggy: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(784, 512, init=normal_init(1.0), bias=False), nn.Sigmoid(),
                          dense(512, 10, init=normal_init(1.0), bias=False))
    loss = NaiveBinaryCrossEntropy() if buggy else SigmoidCrossEntropy()
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.05), x_train, y_train, x_val, y_val,
                   loss=loss, epochs=15, batch_size=100)


def buggy(seed: int) -> Program:
    return _program(seed, buggy=True)


def fixed(seed: int) -> Program:
    return _program(seed, buggy=False)
