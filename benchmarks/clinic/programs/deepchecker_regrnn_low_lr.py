"""TheDeepChecker synthetic fault low_lr: the regression network trained with Adam at lr 1e-5.

SOURCE: TheDeepChecker, buggy_synthetic_programs/low_lr/regrNN_low_lr.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean regression program clean_base_programs/regrNN.py (see ``_regrnn``: 64-64 ReLU MLP, MSE, Adam,
Auto MPG replaced by scikit-learn's diabetes set). The fault: Adam's learning rate lowered from 0.001 to
1e-5 ('in a way that hinders the learning').
SYMPTOM: the loss barely moves: the validation error stays near the variance of the targets
FIX: Adam at its default lr 0.001
"""

from __future__ import annotations

from . import Program
from ._regrnn import program

SOURCE = "TheDeepChecker buggy_synthetic_programs/low_lr/regrNN_low_lr.py (Auto MPG -> sklearn diabetes)"
SYMPTOM = "the loss barely moves: the validation error stays near the variance of the targets"
FIX = "Adam at its default lr 0.001"
SPLIT = "heldout"
EXPECTED = ["slow_convergence"]
ALLOWED = ["underfitting"]


def buggy(seed: int) -> Program:
    return program(seed, lr=1e-5)


def fixed(seed: int) -> Program:
    return program(seed)
