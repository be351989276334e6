"""TheDeepChecker synthetic fault wrong_init/baseCNN_constant: every kernel starts at the constant 0.01.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_init/baseCNN_constant.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean program clean_base_programs/baseCNN.py. The fault, as the file's docstring says: the neurons'
symmetry is left unbroken by constant weights: ``kernel_initializer=tf.initializers.constant(0.01)`` on
both convolutions, the dense layer and the output layer (biases zero, TensorFlow's default). The network:
two ReLU convolutions (32 5x5, 64 3x3, max-pooling) and ``Dense(1024)`` + ReLU (512 in the clean program)
before ``Dense(10)``, an L2 penalty of 1e-5 on every kernel, softmax cross-entropy on the logits, plain
gradient descent at lr 0.1, MNIST scaled to [0, 1] by the benchmark's loader. Here, as in the other
baseCNN ports: the convolutions become one ``Dense(256)`` + ReLU (constant 0.01 too); MNIST becomes
scikit-learn's 8x8 digits scaled to [0, 1]; the penalty becomes SGD weight decay 2e-5 on the kernels
only; batch 64 (DeepChecker's loaders batch the data themselves; the size is not in the program), 20 epochs
(380 steps). Mechanism: units of a layer that start equal receive equal gradients and stay equal, so each
hidden layer computes one feature however wide it is: the 10 classes are read off a single number.
SYMPTOM: learning is hindered: the accuracy stays far below the clean program's.
FIX: the clean program's initializers: He-normal kernels for the hidden layers, TensorFlow's default
Glorot-uniform for the output layer (the width stays 1024).
Run plainly (seeds 0, 1, 2): validation accuracy 0.230 / 0.238 / 0.207 (the training loss 2.42-2.43 in
the first epoch, 1.77-1.79 in the last; measured after the seed-0 run, the 256 first-layer units are
still identical, as are the 1024 second-layer units); fixed version 0.967 / 0.962 / 0.968. Each run about
a second.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import constant_init, dense, digits

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_init/baseCNN_constant.py (CNN -> MLP; "
          "MNIST -> sklearn digits in [0, 1])")
SYMPTOM = ("constant initial weights leave the units symmetric: the accuracy stays far below the clean "
           "program's")
FIX = "the clean program's He-normal kernels (Glorot-uniform for the output layer)"
SPLIT = "heldout"
ROUND = 7
EXPECTED = frozenset({"underfitting"})
ALLOWED = frozenset({"slow_convergence", "vanishing_gradients", "dead_relu"})


def _program(seed: int, constant: bool) -> Program:
    x_tr, y_tr, x_va, y_va = digits(seed, 1 / 16)
    rp.manual_seed(seed)
    hidden = constant_init(0.01) if constant else "kaiming_normal"
    output = constant_init(0.01) if constant else "xavier_uniform"
    model = nn.Sequential(dense(64, 256, init=hidden), nn.ReLU(),
                          dense(256, 1024, init=hidden), nn.ReLU(), dense(1024, 10, init=output))
    kernels = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    # the penalty 1e-5 * sum(w^2) on the kernels adds 2e-5 * w to their gradients
    optimizer = rp.optim.SGD([{"params": kernels, "weight_decay": 2e-5},
                              {"params": biases, "weight_decay": 0.0}], lr=0.1)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=20, batch_size=64,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, constant=True)


def fixed(seed: int) -> Program:
    return _program(seed, constant=False)
