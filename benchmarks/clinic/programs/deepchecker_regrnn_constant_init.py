"""TheDeepChecker synthetic fault wrong_init (regrNN_constant): every hidden weight initialized to the same
constant.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_init/regrNN_constant.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean regression program clean_base_programs/regrNN.py (see ``_regrnn``: 64-64 ReLU MLP, MSE, Adam,
Auto MPG replaced by scikit-learn's diabetes set). The fault: both hidden layers' kernels start at the
constant 0.01 ('unbreak the neurons symmetry through constant weights'), with the L2 penalty 1e-6: every
unit of a layer computes the same function and receives the same update, for ever.
SYMPTOM: the network fits no better than one hidden unit per layer: training and validation error stay high
FIX: He-normal random initialization (the clean program)

REPRODUCED mildly: training error 0.62-0.64 against 0.36-0.37 (standardized units, seeds 0-2),
validation error 0.64-0.73 against 0.55-0.65.
"""

from __future__ import annotations

from . import Program
from ._qa_common import constant_init
from ._regrnn import program

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_init/regrNN_constant.py (Auto MPG -> sklearn "
          "diabetes)")
SYMPTOM = "the network fits no better than one hidden unit per layer: training and validation error stay high"
FIX = "He-normal random initialization (the clean program)"
SPLIT = "dev"
EXPECTED = ["underfitting"]
ALLOWED = ["slow_convergence", "vanishing_gradients", "dead_relu"]


def buggy(seed: int) -> Program:
    return program(seed, hidden_init=constant_init(0.01), l2=1e-6)


def fixed(seed: int) -> Program:
    return program(seed)
