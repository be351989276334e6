"""TheDeepChecker synthetic bug wrong_activation/baseCNN_wrong_act: a softmax as a hidden layer's activation.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_activation/baseCNN_wrong_act.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs/wrong_activation),
derived from its clean program clean_base_programs/baseCNN.py; the file's note calls a softmax as an
intermediate activation inappropriate. The network: a 32-filter 5x5 convolution whose activation is
``tf.nn.softmax`` (ReLU in the clean program), max-pooling, a 64-filter 3x3 ReLU convolution,
max-pooling, ``Dense(512)`` + ReLU (all He-normal) and a linear ``Dense(10)`` (Glorot-uniform, zero
biases); an L1/L2 penalty of 1e-5 on every kernel; softmax cross-entropy on the logits;
``GradientDescentOptimizer(0.1)``; MNIST scaled to [0, 1]. Here retroprop has no convolution: each
convolution becomes a dense layer with its activation, ``Dense(128)`` + softmax then ``Dense(256)`` + ReLU
(He-normal), so the softmax normalizes across the first layer's units as the original's does across its
32 channels; MNIST becomes scikit-learn's digits enlarged to 28x28 (784 inputs) in [0, 1] (600 held
out); the L2 penalty becomes SGD weight decay 2e-5; batch 64 (DeepChecker's loaders batch the data
themselves), 20 epochs.
SYMPTOM: the network learns slowly and ends below the clean program: the softmax squeezes the first
layer's outputs to sum 1 and scales the gradient through it down by about the number of its units.
(The benchmark's file names the fault, not a symptom; this is what the ported code shows when run plainly.)
FIX: the clean program's ReLU on that layer.
Run plainly (seed 0): validation accuracy 0.542 (the loss still 1.11 after 20 epochs); fixed version
0.980. Seeds 1, 2: 0.545, 0.552 against 0.967, 0.972. About 3 s a run.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, digits_784

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_activation/baseCNN_wrong_act.py (CNN -> MLP; "
          "MNIST -> sklearn digits enlarged to 28x28, [0, 1])")
SYMPTOM = "a softmax as a hidden activation: learning is hindered and the accuracy stays low"
FIX = "ReLU on that layer, as the clean program"
SPLIT = "heldout"
ROUND = 3
EXPECTED = frozenset({"vanishing_gradients"})
ALLOWED = frozenset({"saturated_activations", "slow_convergence", "underfitting"})


def _program(seed: int, first_activation: nn.Module) -> Program:
    x_tr, y_tr, x_va, y_va = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(784, 128, init="kaiming_normal"), first_activation,
                          dense(128, 256, init="kaiming_normal"), nn.ReLU(),
                          dense(256, 512, init="kaiming_normal"), nn.ReLU(), dense(512, 10))
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1, weight_decay=2e-5)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=20, batch_size=64,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, nn.Softmax(dim=-1))


def fixed(seed: int) -> Program:
    return _program(seed, nn.ReLU())
