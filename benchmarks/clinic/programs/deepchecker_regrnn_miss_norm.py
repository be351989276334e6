"""TheDeepChecker synthetic fault missing_normalization: the regression network fed unscaled features.

SOURCE: TheDeepChecker, buggy_synthetic_programs/missing_normalization/regrNN_miss_norm.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean regression program clean_base_programs/regrNN.py (see ``_regrnn``: 64-64 ReLU MLP, MSE, Adam,
Auto MPG replaced by scikit-learn's diabetes set). The fault: the loader's input normalization switched
off, so raw features (here age in years, blood pressure, serum values up to ~300) enter the network.
SYMPTOM: training is slow and erratic and the validation error ends well above the clean program's
FIX: standardize the features (zero mean, unit variance per column)
"""

from __future__ import annotations

from . import Program
from ._regrnn import program

SOURCE = ("TheDeepChecker buggy_synthetic_programs/missing_normalization/regrNN_miss_norm.py (Auto MPG -> "
          "sklearn diabetes)")
SYMPTOM = "training is slow and erratic and the validation error ends well above the clean program's"
FIX = "standardize the features (zero mean, unit variance per column)"
SPLIT = "dev"
EXPECTED = ["unscaled_inputs"]
ALLOWED = ["exploding_gradients", "unstable_loss", "dead_relu", "slow_convergence", "overfitting"]


def buggy(seed: int) -> Program:
    return program(seed, raw_features=True)


def fixed(seed: int) -> Program:
    return program(seed)
