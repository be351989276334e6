"""TheDeepChecker synthetic fault over_regularization/baseCNN_over_reg: an L2 penalty of 0.1 on every kernel.

SOURCE: TheDeepChecker, buggy_synthetic_programs/over_regulariaztion/baseCNN_over_reg.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean program clean_base_programs/baseCNN.py. The fault, as the file's docstring says: "we set up a high
lambda for l2-norm in a way that hinders the learning": ``l1_l2(0.0, 1e-1)`` on every kernel where the
clean program has 1e-5. The network: two ReLU convolutions (32 5x5, 64 3x3, He-normal, max-pooling) and
``Dense(512)`` + ReLU (He-normal) before ``Dense(10)`` (TensorFlow's default Glorot-uniform, zero biases),
softmax cross-entropy on the logits, plain gradient descent at lr 0.1 on loss + penalty, MNIST scaled to
[0, 1] by the benchmark's loader. Here, as in the other baseCNN ports: the convolutions become one
``Dense(256)`` + ReLU (He-normal); MNIST becomes scikit-learn's 8x8 digits scaled to [0, 1]; the penalty
l2 * sum(w^2) becomes SGD weight decay 2 * l2 on the kernels only (0.2 here, 2e-5 in the clean program);
batch 64 (DeepChecker's loaders batch the data themselves; the size is not in the program), 20 epochs.
The vocabulary has no over-regularization id: the penalty pulls every kernel toward zero each step (by 2%
at lr 0.1) so the model cannot fit its own training data: underfitting is what a user sees.
SYMPTOM: the penalty hinders learning: the training loss stays high and the accuracy far below the clean
program's.
FIX: the clean program's L2 penalty of 1e-5.
Run plainly (seeds 0, 1, 2): validation accuracy 0.090 / 0.088 / 0.097 (the training
cross-entropy, without the penalty, climbs from 1.73-1.79 in the first epoch to ln 10 = 2.302: the kernels
are decayed to zero and the outputs become uniform); fixed version 0.968 / 0.962 / 0.965. Each run one to
three seconds.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, digits

SOURCE = ("TheDeepChecker buggy_synthetic_programs/over_regulariaztion/baseCNN_over_reg.py (CNN -> MLP; "
          "MNIST -> sklearn digits in [0, 1])")
SYMPTOM = "an L2 penalty of 0.1 on every kernel hinders learning: the model fits its training data poorly"
FIX = "the clean program's L2 penalty of 1e-5"
SPLIT = "heldout"
ROUND = 6
EXPECTED = frozenset({"underfitting"})
ALLOWED = frozenset({"slow_convergence", "dead_relu", "vanishing_gradients"})


def _program(seed: int, l2: float) -> Program:
    x_tr, y_tr, x_va, y_va = digits(seed, 1 / 16)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(64, 256, init="kaiming_normal"), nn.ReLU(),
                          dense(256, 512, init="kaiming_normal"), nn.ReLU(), dense(512, 10))
    kernels = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    # the penalty l2 * sum(w^2) on the kernels adds 2 * l2 * w to their gradients
    optimizer = rp.optim.SGD([{"params": kernels, "weight_decay": 2 * l2},
                              {"params": biases, "weight_decay": 0.0}], lr=0.1)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=20, batch_size=64,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, l2=1e-1)


def fixed(seed: int) -> Program:
    return _program(seed, l2=1e-5)
