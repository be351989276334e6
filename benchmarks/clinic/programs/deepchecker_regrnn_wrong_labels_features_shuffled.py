"""TheDeepChecker synthetic fault wrong_labels/regrNN_wrong_lbl: the regression loader shuffles features only.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_labels/regrNN_wrong_lbl.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean regression program clean_base_programs/regrNN.py (see ``_regrnn``: 64-64 ReLU MLP with He-normal
kernels, an L2 penalty of 1e-5, mean squared error, Adam at lr 0.001, Auto MPG replaced by scikit-learn's
diabetes set, as in the other regrNN ports). The fault, as the file's docstring says: "a common faulty
situation is to get only the features shuffled": its ``CustomDataLoader`` overrides the loader's
``shuffle`` to permute ``self.features`` and leave ``self.targets`` in place. The loader shuffles at the
end of every pass, so the first epoch trains on matching pairs and every later one on features paired
with another car's (here: patient's) target. Here the same permutation is applied to the training inputs
in place at the end of each epoch (a callback); ``fit``'s own shuffling, which draws each batch's rows with
their targets, stands for the clean loader's. The benchmark's test loader is the same faulty class; here
the validation pairs stay intact, so the score measures what the model learned. Batch 32 and 15
epochs as the other regrNN ports (the batch size is not in the program; DeepChecker's loaders batch the
data themselves).
SYMPTOM: the targets no longer belong to the inputs after the first pass: the training error never gets
below the targets' variance (about 1 in standardized units) and the model ends up predicting about their
mean; the validation error wanders between 0.8 and 1.5 of the variance.
FIX: the clean program's loader, which shuffles features and targets together.
The mechanism (corrupted pairs) is none of the doctor's problems: EXPECTED names what a user sees, a
training loss that stops falling at a blind guess's level although the network could fit the data.
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 1.065 / 1.005 / 1.085 (no better than
predicting the mean; the training loss, in standardized units, 1.07 / 1.03 / 1.06 in the last epoch);
fixed version 0.581 / 0.593 / 0.496 (training loss 0.37 / 0.36 / 0.36). Each run well under a second.
"""

from __future__ import annotations

import numpy as np

from . import Program
from ._qa_common import ShuffleFeaturesOnly
from ._regrnn import program

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_labels/regrNN_wrong_lbl.py (Auto MPG -> sklearn "
          "diabetes)")
SYMPTOM = ("the loader shuffles the features without their targets after each pass: the targets no longer "
           "match the inputs and the error stays at the targets' variance")
FIX = "the clean program's loader: features and targets shuffled together"
SPLIT = "heldout"
ROUND = 14
EXPECTED = frozenset({"underfitting"})
ALLOWED = frozenset({"unstable_loss", "slow_convergence", "overfitting"})


def _program(seed: int, bug: bool) -> Program:
    p = program(seed)
    p.x_train = np.ascontiguousarray(p.x_train, dtype=np.float32)
    p.fit_options = {"seed": seed}
    if bug:
        p.fit_options["callbacks"] = [ShuffleFeaturesOnly(p.x_train, seed)]
    return p


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
