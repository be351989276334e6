"""TheDeepChecker synthetic fault wrong_activation (regrNN_inapp_act): a sigmoid output for targets scaled to
[-1, 1].

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_activation/regrNN_inapp_act.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean regression program clean_base_programs/regrNN.py (see ``_regrnn``: 64-64 ReLU MLP, MSE, Adam,
Auto MPG replaced by scikit-learn's diabetes set). The fault: the targets are min-max scaled to [-1, 1] and
the output layer gets a sigmoid, whose range is (0, 1): no target below 0 can be reached.
SYMPTOM: the predictions for every target below zero stick near 0; the validation error stays well above
the clean program's
FIX: no activation on the regression output
"""

from __future__ import annotations

from retroprop import nn

from . import Program
from ._regrnn import program

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_activation/regrNN_inapp_act.py (Auto MPG -> "
          "sklearn diabetes)")
SYMPTOM = ("the predictions for every target below zero stick near 0; the validation error stays well above"
           " the clean program's")
FIX = "no activation on the regression output"
SPLIT = "heldout"
EXPECTED = ["loss_output_mismatch"]
ALLOWED = ["saturated_activations", "slow_convergence", "underfitting"]


def buggy(seed: int) -> Program:
    return program(seed, target_range=(-1.0, 1.0), output=nn.Sigmoid())


def fixed(seed: int) -> Program:
    return program(seed, target_range=(-1.0, 1.0))
