"""AutoTrainer DL_tools case 24 (training does not converge): plain SGD at lr 1e-5 on a deep ReLU network.

SOURCE: AutoTrainer (github.com/shiningrain/AUTOTRAINER),
``DL_tools/code/TrainingNotConverge/case_24_test_from_case16.py``, the benchmark of problem programs its
authors built for each training problem (the folder names the problem: training does not converge), with
its log ``DL_tools/log/case16/case16.csv``. The program: ``simplednn`` circles (``load_data()``: 700
training and 300 validation points in [-1, 1]); seven ``Dense(64, activation='relu',
kernel_initializer='he_uniform')`` (zero biases), then ``Dense(1, activation='sigmoid',
kernel_initializer='he_uniform')``; binary cross-entropy; ``SGD(lr=0.00001)`` (no momentum); batch 128;
100 epochs (600 steps). Nothing is cut. The sigmoid output under Keras's binary cross-entropy is the logits
form here (``bce_with_logits``), the same function.
SYMPTOM: the validation accuracy stays at 0.47-0.49 for the whole run while the loss creeps down from 0.90
toward 0.69 (AutoTrainer's log); the script hands the run to AutoTrainer's repair as a not-converging
issue. Mechanism: steps of 1e-5 times the gradient move the weights by a negligible fraction of their size
in 600 steps.
FIX: AutoTrainer's learning-rate repair for a run that does not converge (``op_lr``, ``lr_3`` of
``not_converge_strategy``: for SGD it tries lr 0.01 first): the same SGD at lr 0.01. (The strategy lists
``optimizer_3``, a random other optimizer, before it; the learning rate is the deterministic repair.)
Run plainly (seed 0): validation accuracy 0.503 (training loss 1.215 -> 1.094 in 100 epochs); fixed
version 0.733 (seeds 1, 2: 0.490 / 0.657, 0.460 / 0.780). Each run one to two seconds.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._simplednn import circle

SOURCE = ("AutoTrainer problem benchmark (github.com/shiningrain/AUTOTRAINER, "
          "DL_tools/code/TrainingNotConverge/case_24_test_from_case16.py; "
          "log DL_tools/log/case16/case16.csv); "
          "data: AutoTrainer's simplednn circles, drawn with scikit-learn as they do")
SYMPTOM = ("the validation accuracy stays near 0.48 for 100 epochs: SGD at lr 1e-5 barely moves the "
           "weights")
FIX = "SGD at lr 0.01 instead of 1e-5 (AutoTrainer's learning-rate repair for a run that does not converge)"
SPLIT = "heldout"
ROUND = 5
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"underfitting"})

HIDDEN = 7
WIDTH = 64


def _program(seed: int, lr: float) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = circle(seed)
    layers: list[nn.Module] = [dense(2, WIDTH, "he_uniform"), nn.ReLU()]
    for _ in range(HIDDEN - 1):
        layers += [dense(WIDTH, WIDTH, "he_uniform"), nn.ReLU()]
    layers.append(dense(WIDTH, 1, "he_uniform"))  # the output sigmoid is inside the loss
    model = nn.Sequential(*layers)
    y_tr = y_tr.reshape(-1, 1).astype(np.float32)
    y_va = y_va.reshape(-1, 1).astype(np.float32)
    return Program(model, rp.optim.SGD(model.parameters(), lr=lr), x_tr, y_tr, x_va, y_va,
                   loss="bce_with_logits", epochs=100, batch_size=128, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, lr=1e-5)


def fixed(seed: int) -> Program:
    return _program(seed, lr=1e-2)
