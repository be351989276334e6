"""AutoTrainer L-code unstable case 20: three blobs learned one sample at a time by SGD with momentum 0.9.

SOURCE: AutoTrainer (github.com/shiningrain/AUTOTRAINER, commit 8a7d864 and earlier; the ``DL_tools``
folder was later removed from the repository), ``DL_tools/code/L-code/unstable/zxy-case-20-unstale/
case_20.py``, among the problem programs its authors collected for each training problem (the folder names
the problem: training unstable). It is the stochastic-gradient-descent example of Jason Brownlee's batch
size tutorial (machinelearningmastery.com, "How to Control the Stability of Training Neural Networks With
the Batch Size"). The program: ``make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2,
random_state=2)`` (unscaled coordinates, within about -15 to 15), the first 500 samples for training and
the other 500 for validation; ``Dense(50, activation='relu', kernel_initializer='he_uniform')``, ``Dense(3,
activation='softmax')`` (Glorot-uniform, zero biases); categorical cross-entropy on one-hot labels;
``SGD(lr=0.01, momentum=0.9)``; ``batch_size=1``; 200 epochs. Cut: 20 epochs (10,000 steps of one
sample). Seed ``s`` draws the blobs with ``random_state = 2 + s`` (seed 0 is the program's draw). Keras's
softmax under categorical cross-entropy is the logits form here (``cross_entropy``), the same function.
SYMPTOM: training is unstable (the problem AutoTrainer's folder names; the tutorial shows this program's
accuracy curves swinging from epoch to epoch): with one sample per step under momentum the loss and the
validation accuracy jump instead of settling, and the run ends wherever the last samples threw the weights.
FIX: the tutorial's mini-batch version of the same program: ``batch_size=32`` (same model, optimizer,
learning rate, momentum and epochs). AutoTrainer's folder holds no fixed program; the fix is the one the
tutorial the program comes from gives.
Run plainly (seeds 0, 1, 2): validation accuracy 0.520 / 0.768 / 0.644 (the epoch's validation accuracy
swinging between 0.43 and 0.72, 0.75 and 0.95, 0.62 and 0.68 over the 20 epochs; training accuracy
0.56 / 0.89 / 0.67 at the end); fixed version 0.834 / 0.946 / 0.850 (training accuracy 0.83 / 0.93 /
0.85). Each run under two seconds.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("AutoTrainer problem benchmark (github.com/shiningrain/AUTOTRAINER at 8a7d864, "
          "DL_tools/code/L-code/unstable/zxy-case-20-unstale/case_20.py); data generated as in the program "
          "(sklearn make_blobs)")
SYMPTOM = ("training is unstable: one sample per step under SGD with momentum 0.9 makes the loss and the "
           "validation accuracy jump from epoch to epoch")
FIX = "mini-batches of 32 (the tutorial's mini-batch version of the program)"
SPLIT = "heldout"
ROUND = 10
EXPECTED = frozenset({"batch_too_small"})
ALLOWED = frozenset({"unstable_loss", "unscaled_inputs", "exploding_gradients", "dead_relu"})

N_TRAIN = 500
EPOCHS = 20


def _program(seed: int, batch_size: int) -> Program:
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2 + seed)
    x = x.astype(np.float32)
    y = y.astype(np.int64)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(2, 50, "he_uniform"), nn.ReLU(), dense(50, 3))  # softmax in the loss
    optimizer = rp.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return Program(model, optimizer, x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:], loss="cross_entropy",
                   epochs=EPOCHS, batch_size=batch_size, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, batch_size=1)


def fixed(seed: int) -> Program:
    return _program(seed, batch_size=32)
