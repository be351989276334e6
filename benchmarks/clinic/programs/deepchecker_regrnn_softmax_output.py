"""TheDeepChecker synthetic fault wrong_activation (regrNN_wrong_act): a softmax over the single output unit
of a regression network.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_activation/regrNN_wrong_act.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean regression program clean_base_programs/regrNN.py (see ``_regrnn``: 64-64 ReLU MLP, MSE, Adam,
Auto MPG replaced by scikit-learn's diabetes set). The fault: the output layer's activation set to
tf.nn.softmax over its one unit ('softmax with just 1-dim output ... will output only one value').
SYMPTOM: the network outputs 1.0 for every input; the loss never moves
FIX: no activation on the regression output
"""

from __future__ import annotations

from retroprop import nn

from . import Program
from ._regrnn import program

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_activation/regrNN_wrong_act.py (Auto MPG -> "
          "sklearn diabetes)")
SYMPTOM = "the network outputs 1.0 for every input; the loss never moves"
FIX = "no activation on the regression output"
SPLIT = "dev"
EXPECTED = ["loss_output_mismatch"]
ALLOWED = ["vanishing_gradients", "slow_convergence", "underfitting"]


def buggy(seed: int) -> Program:
    return program(seed, output=nn.Softmax())


def fixed(seed: int) -> Program:
    return program(seed)
