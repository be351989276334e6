"""TheDeepChecker synthetic fault unbalanced_data/baseCNN_unb_data: the loader starves six of ten classes.

SOURCE: TheDeepChecker, buggy_synthetic_programs/unbalanced_data/baseCNN_unb_data.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean program clean_base_programs/baseCNN.py. The fault, as the file's docstring says: a custom data
loader "with unbalance function that preserve decreasingly ratio of instances belonging to some classes
aiming at creating unbalanced training dataset": with ``total = len(train) / 10`` and ``p = 0.01`` it
keeps the first ``int(total * p)`` training examples of class 0 and the first ``int(total * p * k)`` of
class k for k = 1..5, and all of classes 6-9 (on MNIST: 60, 60, 120, 180, 240 and 300 images of the
digits 0-5 against about 6,000 of each of 6-9); the test loader is the benchmark's ordinary one, so the
model is judged on balanced data. The network: two ReLU convolutions (32 5x5, 64 3x3, max-pooling) and
``Dense(1024)`` + ReLU (512 in the clean program) before ``Dense(10)``, He-normal kernels, an L2 penalty
of 1e-5 on every kernel, softmax cross-entropy on the logits, plain gradient descent at lr 0.1, pixels
min-max scaled to [0, 1] by the loader. Here, as in the other baseCNN ports: the convolutions become one
``Dense(256)`` + ReLU; MNIST becomes scikit-learn's 8x8 digits scaled to [0, 1] (1,197 to train, 600 to
validate), to which the same unbalance function is applied: ``total`` is 119, so the digits 0-5 keep 1, 1,
2, 3, 4 and 5 training images and 6-9 all of theirs (the ratios of the original, whose smallest classes
already held 1 % of their share); the penalty becomes SGD weight decay 2e-5 on the kernels only; batch 64
(DeepChecker's loaders batch the data themselves; the size is not in the program), 20 epochs.
SYMPTOM: the model learns the classes it sees and misclassifies the starved ones: high training accuracy,
far lower accuracy on the balanced test data.
FIX: the clean program's loader: every training image of every class (the width stays 1024).
Mechanism: the model is trained on data unlike the data it is validated on: six of the ten classes, 60 %
of the validation rows, are all but absent from training (16 examples between them), so the model fits
its training data and answers 6-9 for most of the rest (EXPECTED: validation_mismatch; the gap between the
training and the validation accuracy may also be read as overfitting).
Run plainly (seeds 0, 1, 2): validation accuracy 0.533 / 0.503 / 0.520 (training accuracy 0.99; the
validation loss falls from 2.9 / 2.8 / 3.2 to 1.65 / 1.70 / 1.47 and never rises, while the training loss
ends at 0.05-0.06; 492 / 502 / 498 training examples); fixed version 0.967 / 0.962 / 0.968 (validation loss
0.10 / 0.11 / 0.10). Each run about a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, digits

SOURCE = ("TheDeepChecker buggy_synthetic_programs/unbalanced_data/baseCNN_unb_data.py (CNN -> MLP; "
          "MNIST -> sklearn digits in [0, 1], unbalanced by the benchmark's function)")
SYMPTOM = ("the training data keep a few examples of the digits 0-5 and all of 6-9: the model misclassifies "
           "the starved classes on balanced test data")
FIX = "the clean program's loader: all training examples of every class"
SPLIT = "heldout"
ROUND = 14
EXPECTED = frozenset({"validation_mismatch"})
ALLOWED = frozenset({"overfitting"})

EPOCHS, BATCH = 20, 64


def unbalance(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark's ``CustomDataLoader.unbalance``: the first ``int(total * 0.01)`` examples of class 0,
    the first ``int(total * 0.01 * k)`` of class k = 1..5 and all of classes 6-9, ``total = N // 10``."""
    p, total = 0.01, int(features.shape[0] / 10)
    keep = [np.flatnonzero(labels == 0)[:int(total * p)]]
    for label in range(1, 10):
        rows = np.flatnonzero(labels == label)
        keep.append(rows[:int(total * (p * label))] if label <= 5 else rows)
    order = np.concatenate(keep)
    return features[order], labels[order]


def _program(seed: int, bug: bool) -> Program:
    x_tr, y_tr, x_va, y_va = digits(seed, 1 / 16, n_val=600)
    if bug:
        x_tr, y_tr = unbalance(x_tr, y_tr)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(64, 256, init="kaiming_normal"), nn.ReLU(),
                          dense(256, 1024, init="kaiming_normal"), nn.ReLU(), dense(1024, 10))
    kernels = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    # the penalty 1e-5 * sum(w^2) on the kernels adds 2e-5 * w to their gradients
    optimizer = rp.optim.SGD([{"params": kernels, "weight_decay": 2e-5},
                              {"params": biases, "weight_decay": 0.0}], lr=0.1)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
