"""TheDeepChecker synthetic fault low_lr/baseCNN_low_lr: plain gradient descent at lr 0.001 on a ReLU network.

SOURCE: TheDeepChecker, buggy_synthetic_programs/low_lr/baseCNN_low_lr.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean program clean_base_programs/baseCNN.py. The fault, as the file's docstring says: "we decrease the lr
in a way that hinders the learning": ``GradientDescentOptimizer(0.001)`` where the clean program uses 0.1.
The network: two ReLU convolutions (32 5x5, 64 3x3, He-normal, max-pooling) and ``Dense(512)`` + ReLU
(He-normal) before ``Dense(10)`` (TensorFlow's default Glorot-uniform, zero biases), an L2 penalty of 1e-5
on every kernel, softmax cross-entropy on the logits, MNIST scaled to [0, 1] by the benchmark's loader.
Here, as in the other baseCNN ports: the convolutions become one ``Dense(256)`` + ReLU (He-normal); MNIST
becomes scikit-learn's 8x8 digits scaled to [0, 1]; the penalty becomes SGD weight decay 2e-5 on the
kernels only; batch 64 (DeepChecker's loaders batch the data themselves; the size is not in the program),
20 epochs (380 steps).
SYMPTOM: learning is hindered: at a hundredth of the clean program's rate the loss creeps down and the
accuracy stays far below the clean program's in the same number of steps.
FIX: the clean program's learning rate, gradient descent at 0.1.
Run plainly (seeds 0, 1, 2): validation accuracy 0.627 / 0.573 / 0.585 (the training loss 2.38-2.48 in
the first epoch, still 1.74-1.81 in the last, falling steadily); fixed version 0.968 / 0.962 / 0.965
(training loss 0.05). Each run under a second.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, digits

SOURCE = ("TheDeepChecker buggy_synthetic_programs/low_lr/baseCNN_low_lr.py (CNN -> MLP; "
          "MNIST -> sklearn digits in [0, 1])")
SYMPTOM = "gradient descent at lr 0.001 hinders learning: the loss creeps down, the accuracy stays low"
FIX = "the clean program's learning rate, 0.1"
SPLIT = "heldout"
ROUND = 7
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"underfitting"})


def _program(seed: int, lr: float) -> Program:
    x_tr, y_tr, x_va, y_va = digits(seed, 1 / 16)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(64, 256, init="kaiming_normal"), nn.ReLU(),
                          dense(256, 512, init="kaiming_normal"), nn.ReLU(), dense(512, 10))
    kernels = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    # the penalty 1e-5 * sum(w^2) on the kernels adds 2e-5 * w to their gradients
    optimizer = rp.optim.SGD([{"params": kernels, "weight_decay": 2e-5},
                              {"params": biases, "weight_decay": 0.0}], lr=lr)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=20, batch_size=64,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, lr=0.001)


def fixed(seed: int) -> Program:
    return _program(seed, lr=0.1)
