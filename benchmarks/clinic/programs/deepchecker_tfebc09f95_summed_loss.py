"""TheDeepChecker GitHub example TFE_bc09f95: a cross-entropy summed over the batch under plain SGD.

SOURCE: TheDeepChecker, GH_buggy_examples/TFE_bc09f95/tfe_bc09f95_under_test.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/GH_buggy_examples/TFE_bc09f95), from
aymericdamien/TensorFlow-Examples' ``tensorboard_advanced`` example (commit bc09f95). 784 -> 256 ReLU ->
256 ReLU -> 10, every weight and bias from ``tf.random_normal`` (std 1), gradient descent at lr 0.01,
batch 100, 25 epochs; the bug: ``reduce_sum`` of the softmax cross-entropy over the batch where the
original took ``reduce_mean`` (every step 100x larger). MNIST (needs a download) is replaced by
scikit-learn's digits enlarged to 28x28 (784 inputs) in [0, 1]; 15 epochs.
SYMPTOM: the loss explodes and turns NaN in the first epoch.
(The benchmark's file quotes no symptom; this is what the ported code shows when run plainly.)
FIX: the line left commented out: the mean of the cross-entropy over the batch.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, digits_784, fill_normal, normal_init

SOURCE = ("TheDeepChecker GH_buggy_examples/TFE_bc09f95 (TensorFlow-Examples tensorboard_advanced; MNIST "
          "-> digits)")
SYMPTOM = "loss explodes to inf/NaN within the first epoch"
FIX = "average the cross-entropy over the batch (reduce_mean) instead of summing it"
SPLIT = "dev"
EXPECTED = ["exploding_gradients"]
ALLOWED = ["non_finite", "unstable_loss", "dead_relu"]


def _program(seed: int, buggy: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    layers: list[nn.Module] = []
    for n_in, n_out in ((784, 256), (256, 256), (256, 10)):
        layer = dense(n_in, n_out, init=normal_init(1.0))
        fill_normal(layer.bias, 1.0)
        layers += [layer, nn.ReLU()] if n_out != 10 else [layer]
    model = nn.Sequential(*layers)
    loss = nn.CrossEntropyLoss(reduction="sum" if buggy else "mean")
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.01), x_train, y_train, x_val, y_val,
                   loss=loss, epochs=15, batch_size=100)


def buggy(seed: int) -> Program:
    return _program(seed, buggy=True)


def fixed(seed: int) -> Program:
    return _program(seed, buggy=False)
