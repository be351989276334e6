"""TheDeepChecker SO example IPS_11: the logits layer built by the hidden-layer helper, so a ReLU clips them.

SOURCE: TheDeepChecker, SO_buggy_examples/IPS_11.py
(https://github.com/thedeepchecker/thedeepchecker/blob/master/SO_buggy_examples/IPS_11.py), a StackOverflow
question ported by the benchmark's authors (its log path, /tmp/mnist_demo, suggests the TensorBoard MNIST
demo). Two ReLU convolutions (32 and 64 filters of 5x5, max-pooling) and ``fc1`` (3136 -> 1024,
ReLU), then ``logits = fc_layer(fc1, 1024, 10)``: the same helper as the hidden layer, which applies
``tf.nn.relu``, so every logit below zero becomes 0 and passes no gradient; softmax cross-entropy with
logits (``reduce_mean``), Adam at lr 0.001; every weight from ``truncated_normal(stddev=0.1)``, every bias
0.1; MNIST scaled to [0, 1] by DeepChecker's loader. retroprop has no convolution: the two convolutions
become one ``Dense(256)`` + ReLU with the same initialization; MNIST (needs a download) becomes
scikit-learn's digits enlarged to 28x28 (784 inputs) in [0, 1]; batch 100 (DeepChecker's loaders batch the
data themselves; the program does not say); 20 epochs (about 240 steps).
SYMPTOM: training stalls far below the accuracy the network reaches with linear logits: a class whose
logit is clipped at 0 for an input cannot be raised for it, and an input whose logits are all 0 is
assigned class 0. (The benchmark's file quotes no symptom; this is what the ported code shows.)
FIX (not stated by the benchmark): linear logits: the last layer without the ReLU (``tf.matmul(fc1, w) + b``).
Run plainly (seed 0): validation accuracy 0.687; fixed version 0.972.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import digits_784, normal_init


def _layer(n_in: int, n_out: int) -> nn.Linear:
    """The program's ``W = truncated_normal(stddev=0.1)``, ``B = constant(0.1)``."""
    layer = nn.Linear(n_in, n_out, init=normal_init(0.1, truncated=True))
    layer.bias.data[...] = 0.1
    return layer


SOURCE = ("TheDeepChecker SO_buggy_examples/IPS_11.py (the TensorBoard MNIST demo; CNN -> MLP, MNIST -> "
          "sklearn digits enlarged to 28x28, [0, 1])")
SYMPTOM = "a ReLU on the logits: training stalls far below the accuracy of linear logits"
FIX = "no activation on the logits layer"
SPLIT = "heldout"
ROUND = 4
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"dead_relu", "underfitting", "slow_convergence"})


def _program(seed: int, relu_logits: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    layers: list[nn.Module] = [_layer(784, 256), nn.ReLU(), _layer(256, 1024), nn.ReLU(), _layer(1024, 10)]
    if relu_logits:
        layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    return Program(model, rp.optim.Adam(model.parameters(), lr=1e-3), x_train, y_train, x_val, y_val,
                   loss="cross_entropy", epochs=20, batch_size=100, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, relu_logits=True)


def fixed(seed: int) -> Program:
    return _program(seed, relu_logits=False)
