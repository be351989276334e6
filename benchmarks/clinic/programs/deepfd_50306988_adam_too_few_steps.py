"""DeepFD case 4 (StackOverflow 50306988): two well-separated blobs, Adam at its default rate for 35 steps.

Ported from DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx, case 4: ground
truth "learning rate, epoch") with the code as collected in DeepLocalize's benchmark
(github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/50306988/Buggy Code/50306988.py). The data are
generated as there: 100 points per class, both coordinates of class one uniform in [0.2, 0.4] and of class
two in [0.5, 0.7] (200 rows, the classes alternating), so a line separates them. ``Dense(2)`` + sigmoid,
``Dense(2)`` + softmax (Keras defaults: Glorot-uniform weights, zero biases), categorical cross-entropy on
one-hot labels, Adam at Keras's defaults (lr 0.001, eps 1e-7), batch 32, 5 epochs: 35 steps in all. The
original validates on nothing; here a second draw of 200 points from the same two blobs. Keras's softmax
output under categorical cross-entropy is the logits form here (``cross_entropy``), the same function.
(DeepFD's copy already uses one sigmoid unit with binary cross-entropy, the same model for two classes.)
SYMPTOM: the accuracy stays near 0.5 and the loss near ln 2 on a problem a line separates (the question's
text was not available here; DeepFD's ground truth: learning rate and epochs). Mechanism: 35 Adam steps of
0.001 move each weight by at most about 0.035, far too little to move the starting decision boundary
between blobs that are 0.1 apart.
FIX: DeepFD's patch: Adam at lr 0.01 and 10 epochs instead of 5 (a training setting; the model is unchanged).
Run plainly (seed 0): validation accuracy 0.500 (training loss 0.692 -> 0.687); fixed version 0.910
(seeds 1, 2: 0.500 / 0.840, 0.500 / 0.860). Each run well under a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("DeepFD benchmark case 4 (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx); "
          "StackOverflow question 50306988; code from DeepLocalize's benchmark "
          "(Benchmark/StackOverflow/50306988/Buggy Code/50306988.py); data generated as in the original")
SYMPTOM = "the accuracy stays near 0.5 on two linearly separable blobs: the loss barely leaves ln 2"
FIX = "Adam at lr 0.01 and 10 epochs instead of lr 0.001 and 5 (DeepFD's patch)"
SPLIT = "heldout"
ROUND = 3
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"underfitting", "unscaled_inputs"})

DATASET_SIZE = 200


def _blobs(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The question's data: rows alternate between the two classes, two coordinates each."""
    class_1 = rng.uniform(0.2, 0.4, size=DATASET_SIZE)
    class_2 = rng.uniform(0.5, 0.7, size=DATASET_SIZE)
    rows, labels = [], []
    for i in range(0, DATASET_SIZE, 2):
        rows += [(class_1[i], class_1[i + 1]), (class_2[i], class_2[i + 1])]
        labels += [0, 1]
    return np.asarray(rows, dtype=np.float32), np.asarray(labels, dtype=np.int64)


def _program(seed: int, lr: float, epochs: int) -> Program:
    rng = np.random.default_rng(seed)
    x_train, y_train = _blobs(rng)
    x_val, y_val = _blobs(rng)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(2, 2), nn.Sigmoid(), dense(2, 2))
    optimizer = rp.optim.Adam(model.parameters(), lr=lr, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=epochs,
                   batch_size=32, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, lr=1e-3, epochs=5)


def fixed(seed: int) -> Program:
    return _program(seed, lr=1e-2, epochs=10)
