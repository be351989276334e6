"""TheDeepChecker synthetic fault double_normalization: input features normalized twice over.

SOURCE: TheDeepChecker, buggy_synthetic_programs/double_normalization/regrNN_dbl_norm.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean regression program clean_base_programs/regrNN.py (see ``_regrnn``: 64-64 ReLU MLP, MSE, Adam,
Auto MPG replaced by scikit-learn's diabetes set). The fault: the loader divides each feature by its range
twice ('the magnitude of data would be critically low'), so the raw diabetes columns land in [0, 1 /
range], between about 0.01 and 1 depending on the column.
SYMPTOM: learning is slow: the small inputs give small first-layer gradients; the validation error ends
above the clean program's
FIX: normalize once (here: standardize, as the clean program)

REPRODUCED mildly: training error 0.67-0.70 against 0.36-0.37 (standardized units, seeds 0-2),
validation error 0.62-0.84 against 0.55-0.65.
"""

from __future__ import annotations

from . import Program
from ._regrnn import program

SOURCE = ("TheDeepChecker buggy_synthetic_programs/double_normalization/regrNN_dbl_norm.py (Auto MPG -> "
          "sklearn diabetes)")
SYMPTOM = ("learning is slow: the small inputs give small first-layer gradients; the validation error ends "
           "above the clean program's")
FIX = "normalize once (here: standardize, as the clean program)"
SPLIT = "heldout"
EXPECTED = ["unscaled_inputs"]
ALLOWED = ["slow_convergence", "underfitting", "vanishing_gradients"]


def buggy(seed: int) -> Program:
    return program(seed, double_normalized=True)


def fixed(seed: int) -> Program:
    return program(seed)
