"""TheDeepChecker synthetic fault over_regularization: an L2 penalty of 0.1 on the regression network.

SOURCE: TheDeepChecker, buggy_synthetic_programs/over_regulariaztion/regrNN_over_reg.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean regression program clean_base_programs/regrNN.py (see ``_regrnn``: 64-64 ReLU MLP, MSE, Adam,
Auto MPG replaced by scikit-learn's diabetes set). The fault: the L2 penalty raised from 1e-5 to 1e-1 ('a
high lambda for l2-norm in a way that hinders the learning').
SYMPTOM: training and validation error both stay high: the penalty holds the weights near zero
FIX: the clean penalty of 1e-5

NOT REPRODUCED on validation: the penalty raises the training error (0.45-0.48 against 0.36-0.37,
standardized units, seeds 0-2) but on this small, noisy set it regularizes: validation error 0.49-0.61
against the clean program's 0.55-0.65.
"""

from __future__ import annotations

from . import Program
from ._regrnn import program

SOURCE = ("TheDeepChecker buggy_synthetic_programs/over_regulariaztion/regrNN_over_reg.py (Auto MPG -> "
          "sklearn diabetes)")
SYMPTOM = "training and validation error both stay high: the penalty holds the weights near zero"
FIX = "the clean penalty of 1e-5"
SPLIT = "heldout"
EXPECTED = ["underfitting"]
ALLOWED = ["slow_convergence", "vanishing_gradients", "dead_relu"]


def buggy(seed: int) -> Program:
    return program(seed, l2=1e-1)


def fixed(seed: int) -> Program:
    return program(seed)
