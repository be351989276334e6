"""TheDeepChecker synthetic bug wrong_loss_selection/baseCNN_inap_loss: mean squared error on softmax outputs.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_loss_selection/baseCNN_inap_loss.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs/wrong_loss_selection),
derived from its clean program clean_base_programs/baseCNN.py; the file's note calls MSE for a
classification a common beginner's fault. The network: two ReLU convolutions (32 5x5, 64 3x3,
He-normal, max-pooling) and ``Dense(512)`` + ReLU (He-normal) before a linear ``Dense(10)`` (TensorFlow's
default Glorot-uniform, zero biases) and ``tf.nn.softmax``; an L1/L2 penalty of 1e-5 on every kernel;
``GradientDescentOptimizer(0.1)``; MNIST scaled to [0, 1] with one-hot labels; the bug:
``tf.losses.mean_squared_error(labels, probabilities)`` (the mean over every class of every sample) where
the clean program takes ``softmax_cross_entropy(labels, logits)``. Here, as in the ports of baseCNN_miss_soft
and baseCNN_high_lr: the convolutions become one ``Dense(256)`` + ReLU (He-normal); MNIST becomes
scikit-learn's digits enlarged to 28x28 (784 inputs) in [0, 1] (600 held out); the L2 penalty becomes SGD
weight decay 2e-5; batch 64 (DeepChecker's loaders batch the data themselves), 20 epochs.
SYMPTOM: learning is slow and the accuracy stays below the clean program's: the squared error on a softmax
gives gradients that vanish as soon as a probability is near 0 or 1, right or wrong.
(The benchmark's file names the fault, not a symptom; this is what the ported code shows when run plainly.)
FIX: the clean program's softmax cross-entropy on the logits.
Run plainly (seed 0): validation accuracy 0.917 (0.27 after the first epoch, against 0.84); fixed version
0.970. Seeds 1, 2: 0.917, 0.913 against 0.968, 0.975. About 3 s a run.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import onehot_accuracy
from ._qa_common import dense, digits_784

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_loss_selection/baseCNN_inap_loss.py (CNN -> MLP; "
          "MNIST -> sklearn digits enlarged to 28x28, [0, 1])")
SYMPTOM = "mean squared error on the softmax probabilities of a classifier: slow learning, lower accuracy"
FIX = "softmax cross-entropy on the logits (tf.losses.softmax_cross_entropy), as the clean program"
SPLIT = "heldout"
ROUND = 3
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"slow_convergence", "underfitting", "vanishing_gradients", "saturated_activations"})


def _model() -> nn.Sequential:
    return nn.Sequential(dense(784, 256, init="kaiming_normal"), nn.ReLU(),
                         dense(256, 512, init="kaiming_normal"), nn.ReLU(), dense(512, 10))


def buggy(seed: int) -> Program:
    x_tr, y_tr, x_va, y_va = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    model = nn.Sequential(*_model(), nn.Softmax(dim=-1))
    eye = np.eye(10, dtype=np.float32)
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1, weight_decay=2e-5)
    return Program(model, optimizer, x_tr, eye[y_tr], x_va, eye[y_va], loss="mse", epochs=20, batch_size=64,
                   fit_options={"seed": seed, "metrics": [onehot_accuracy]})


def fixed(seed: int) -> Program:
    x_tr, y_tr, x_va, y_va = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    model = _model()
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1, weight_decay=2e-5)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=20, batch_size=64,
                   fit_options={"seed": seed})
