"""TheDeepChecker synthetic fault flipped_sign: the regression network's gradients negated before Adam's step.

SOURCE: TheDeepChecker, buggy_synthetic_programs/flipped_sign/regrNN_flip_sign.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean regression program clean_base_programs/regrNN.py (see ``_regrnn``: 64-64 ReLU MLP, MSE, Adam at lr
0.001, Auto MPG replaced by scikit-learn's diabetes set, as in the other regrNN ports). The fault, as the
benchmark's file says, mimics a gradient written by hand with the wrong sign: ``tf.gradients`` of the loss
plus its L2 penalty, each negated, handed to ``AdamOptimizer(0.001).apply_gradients``, so every step climbs
the loss instead of descending it. Here: ``Adam(..., maximize=True)`` (which negates the gradient, the
penalty's term included, before Adam's moments).
SYMPTOM: the training and validation error grow from the first step and never come down: the outputs are
pushed away from the targets, ever faster as the weights grow.
FIX: the gradients as computed (the clean program)
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 1.3e5 / 1.1e5 / 5.9e4 (the training loss, in
standardized units, grows every epoch: 3-6 in the first, 6e4-1e5 in the fifteenth); fixed version
0.595 / 0.584 / 0.506. Each run under a second.
"""

from __future__ import annotations

import retroprop as rp

from . import Program
from ._regrnn import program

SOURCE = ("TheDeepChecker buggy_synthetic_programs/flipped_sign/regrNN_flip_sign.py (Auto MPG -> sklearn "
          "diabetes)")
SYMPTOM = "the error grows from the first step and never comes down: every step climbs the loss"
FIX = "apply the gradients as computed, not negated (the clean program)"
SPLIT = "heldout"
ROUND = 5
EXPECTED = frozenset({"unstable_loss"})
ALLOWED = frozenset({"exploding_gradients", "non_finite", "dead_relu", "overfitting"})


def buggy(seed: int) -> Program:
    p = program(seed)
    # the clean program's optimizer (lr 0.001, the L2 penalty 1e-5 as weight decay 2e-5), ascending
    p.optimizer = rp.optim.Adam(p.model.parameters(), lr=0.001, weight_decay=2e-5, maximize=True)
    return p


def fixed(seed: int) -> Program:
    return program(seed)
