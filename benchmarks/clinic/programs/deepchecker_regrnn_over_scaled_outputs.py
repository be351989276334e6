"""TheDeepChecker synthetic fault over_scaled_outputs: the regression network trained on unscaled targets.

SOURCE: TheDeepChecker, buggy_synthetic_programs/over_scaled_outputs/regrNN_over_scaled_outputs.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean regression program clean_base_programs/regrNN.py (see ``_regrnn``: 64-64 ReLU MLP, MSE, Adam,
Auto MPG replaced by scikit-learn's diabetes set). The fault: the loader's target scaling switched off and
the targets multiplied by 10 (MPG x 10, about 90-470; here the diabetes targets, 25-346, of the same
scale), with the L2 penalty 1e-6. The fixed version trains on standardized targets and maps its output back
to the targets' units with a fixed affine layer, so both are judged by the validation MSE in the same
units.
SYMPTOM: the loss starts in the tens of thousands and the network needs far more steps than the clean
program to fit the targets' offset and scale
FIX: standardize the targets and invert the scaling at prediction time
"""

from __future__ import annotations

from . import Program
from ._regrnn import program

SOURCE = ("TheDeepChecker buggy_synthetic_programs/over_scaled_outputs/regrNN_over_scaled_outputs.py (Auto"
          " MPG -> sklearn diabetes)")
SYMPTOM = ("the loss starts in the tens of thousands and the network needs far more steps than the clean "
           "program to fit the targets' offset and scale")
FIX = "standardize the targets and invert the scaling at prediction time"
SPLIT = "heldout"
EXPECTED = ["unscaled_targets"]
ALLOWED = ["slow_convergence", "underfitting", "exploding_gradients"]


def buggy(seed: int) -> Program:
    return program(seed, raw_targets=True, l2=1e-6)


def fixed(seed: int) -> Program:
    return program(seed, unscale_output=True)
