"""TheDeepChecker synthetic fault wrong_loss_function (regrNN_wrong_loss): a squared error summed over the
batch, on unscaled targets.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_loss_function/regrNN_wrong_loss.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean regression program clean_base_programs/regrNN.py (see ``_regrnn``: 64-64 ReLU MLP, MSE, Adam,
Auto MPG replaced by scikit-learn's diabetes set). The fault: the loss is reduce_sum of the squared errors
over the batch instead of their mean, and the targets are left unscaled and multiplied by 10 ('sum
reduction ... on originally-scaling of target outputs induces high-scaling gradients'; here the diabetes
targets, 25-346, of the same scale as MPG x 10). The fixed version is the clean program, judged in the
targets' units through a fixed output rescaling (as over_scaled_outputs).
SYMPTOM: the loss starts in the hundreds of thousands and the updates are huge; the validation error ends
far above the clean program's
FIX: the mean squared error on standardized targets (the clean program)
"""

from __future__ import annotations

from retroprop import nn

from . import Program
from ._regrnn import program

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_loss_function/regrNN_wrong_loss.py (Auto MPG -> "
          "sklearn diabetes)")
SYMPTOM = ("the loss starts in the hundreds of thousands and the updates are huge; the validation error "
           "ends far above the clean program's")
FIX = "the mean squared error on standardized targets (the clean program)"
SPLIT = "dev"
EXPECTED = ["unscaled_targets"]
ALLOWED = ["exploding_gradients", "unstable_loss", "dead_relu", "slow_convergence"]


def buggy(seed: int) -> Program:
    return program(seed, raw_targets=True, loss=nn.MSELoss(reduction="sum"))


def fixed(seed: int) -> Program:
    return program(seed, unscale_output=True)
