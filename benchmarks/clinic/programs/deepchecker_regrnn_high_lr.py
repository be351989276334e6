"""TheDeepChecker synthetic fault high_lr: the regression network trained with Adam at lr 0.1.

SOURCE: TheDeepChecker, buggy_synthetic_programs/high_lr/regrNN_high_lr.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean regression program clean_base_programs/regrNN.py (see ``_regrnn``: 64-64 ReLU MLP, MSE, Adam,
Auto MPG replaced by scikit-learn's diabetes set). The fault: Adam's learning rate raised from 0.001 to
0.1, as the benchmark's file says 'in a way that hinders the learning and the accuracy is dropped off'.
SYMPTOM: the loss jumps around and the validation error ends far above the clean program's
FIX: Adam at its default lr 0.001

NOT REPRODUCED on this data: at lr 0.1 the first epochs' loss is 10-25x the clean program's, but by
epoch 15 the validation error (0.51-0.67, seeds 0-2) matches the clean program's (0.55-0.65).
"""

from __future__ import annotations

from . import Program
from ._regrnn import program

SOURCE = "TheDeepChecker buggy_synthetic_programs/high_lr/regrNN_high_lr.py (Auto MPG -> sklearn diabetes)"
SYMPTOM = "the loss jumps around and the validation error ends far above the clean program's"
FIX = "Adam at its default lr 0.001"
SPLIT = "dev"
EXPECTED = ["unstable_loss"]
ALLOWED = ["dead_relu", "exploding_gradients", "overfitting"]


def buggy(seed: int) -> Program:
    return program(seed, lr=0.1)


def fixed(seed: int) -> Program:
    return program(seed)
