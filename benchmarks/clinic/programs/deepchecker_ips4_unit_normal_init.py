"""TheDeepChecker SO example IPS_4: a 3 x 500 ReLU network on MNIST with unit-variance random weights.

SOURCE: TheDeepChecker, SO_buggy_examples/IPS_4.py
(https://github.com/thedeepchecker/thedeepchecker/blob/master/SO_buggy_examples/IPS_4.py), a StackOverflow
question ported by the benchmark's authors (the file states neither symptom nor fix; the fault ported here
is the unit-variance initialization of weights and biases, where the benchmark's clean programs use He
initialization and zero biases). 784 -> 500 -> 500 -> 500 ReLU -> 10, every weight and bias drawn from
``tf.random_normal`` (std 1), softmax cross-entropy on the logits, Adam at lr 0.003, batch 100, inputs
normalized to [0, 1]. MNIST (needs a download) is replaced by scikit-learn's digits enlarged to 28x28 (784
inputs) in [0, 1].
SYMPTOM: a loss in the tens of thousands at the start and a lower accuracy than the same network reaches
when initialized properly.
(The benchmark's file quotes no symptom; this is what the ported code shows when run plainly.)
FIX (inferred, see above): scaled initialization (He / Glorot: weights with variance ~ 2 / fan_in, zero
biases).

REPRODUCED as the huge loss (1.4e4-2.1e4 at the start against 1.2-1.4; validation loss 520-720 at the
end against 0.10-0.13, seeds 0-2); the accuracy gap is smaller than on MNIST: 0.942-0.955 against
0.963-0.978.
"""

from __future__ import annotations

import itertools

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, digits_784, fill_normal, normal_init

SOURCE = "TheDeepChecker SO_buggy_examples/IPS_4.py (MNIST -> sklearn digits enlarged to 28x28, [0, 1])"
SYMPTOM = "huge initial loss (~1e4); lower accuracy than with a scaled initialization"
FIX = "He-scaled weight initialization with zero biases"
SPLIT = "heldout"
EXPECTED = ["exploding_gradients"]
ALLOWED = ["dead_relu", "unstable_loss", "overfitting", "slow_convergence", "underfitting"]


def _program(seed: int, buggy: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    sizes = [784, 500, 500, 500, 10]
    layers: list[nn.Module] = []
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layer = dense(n_in, n_out, init=normal_init(1.0) if buggy else "he_normal")
        if buggy:
            fill_normal(layer.bias, 1.0)
        layers += [layer, nn.ReLU()] if k < len(sizes) - 2 else [layer]
    model = nn.Sequential(*layers)
    return Program(model, rp.optim.Adam(model.parameters(), lr=0.003), x_train, y_train, x_val, y_val,
                   loss="cross_entropy", epochs=10, batch_size=100)


def buggy(seed: int) -> Program:
    return _program(seed, buggy=True)


def fixed(seed: int) -> Program:
    return _program(seed, buggy=False)
