"""TheDeepChecker synthetic bug high_lr/baseCNN_high_lr: plain gradient descent at lr 0.5 on a ReLU network.

SOURCE: TheDeepChecker, buggy_synthetic_programs/high_lr/baseCNN_high_lr.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs/high_lr), derived
from its clean program clean_base_programs/baseCNN.py; the file's own note says the rate was raised until
it hinders learning and the accuracy drops. The network: two ReLU convolutions (32 5x5, 64 3x3,
He-normal, max-pooling) and ``Dense(1024)`` + ReLU (He-normal; 512 in the clean program) before a linear
``Dense(10)`` (TensorFlow's default Glorot-uniform, zero biases), an L1/L2 penalty of 1e-5 on every
kernel, softmax cross-entropy on the logits, ``GradientDescentOptimizer(0.5)`` where the clean program
uses 0.1, MNIST scaled to [0, 1]. Here, as in the port of baseCNN_miss_soft: retroprop has no
convolution, so the convolutions become one ``Dense(256)`` + ReLU (He-normal); MNIST becomes
scikit-learn's digits enlarged to 28x28 (784 inputs) in [0, 1], 600 held out (the 784 inputs keep
MNIST's input norm, which sets how large a step the first layer tolerates; on the 8x8 digits lr 0.5 is
harmless); the L2 penalty 1e-5 becomes SGD weight decay 2e-5; batch 64 (DeepChecker's loaders batch the
data themselves), 20 epochs.
SYMPTOM: the accuracy drops well below the clean program's: the first steps overshoot, the loss jumps,
and the network never recovers. (The benchmark's file states the intent, not a run; this is what the
ported code shows when run plainly.)
FIX: the clean program's learning rate, gradient descent at 0.1 (the width stays 1024).
Run plainly (seed 0): validation accuracy 0.090 (the training loss 27.6 in the first epoch, then flat at
ln 10 = 2.30); fixed version 0.973. Seeds 1, 2: 0.088, 0.097 against 0.972, 0.985. About 3 s a run.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, digits_784

SOURCE = ("TheDeepChecker buggy_synthetic_programs/high_lr/baseCNN_high_lr.py (CNN -> MLP; "
          "MNIST -> sklearn digits enlarged to 28x28, [0, 1])")
SYMPTOM = "the learning rate is so high that learning is hindered and the accuracy drops"
FIX = "gradient descent at lr 0.1, the clean program's rate"
SPLIT = "heldout"
ROUND = 3
EXPECTED = frozenset({"unstable_loss"})
ALLOWED = frozenset({"exploding_gradients", "dead_relu", "non_finite", "underfitting"})


def _program(seed: int, lr: float) -> Program:
    x_tr, y_tr, x_va, y_va = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(784, 256, init="kaiming_normal"), nn.ReLU(),
                          dense(256, 1024, init="kaiming_normal"), nn.ReLU(), dense(1024, 10))
    optimizer = rp.optim.SGD(model.parameters(), lr=lr, weight_decay=2e-5)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=20, batch_size=64,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, 0.5)


def fixed(seed: int) -> Program:
    return _program(seed, 0.1)
