"""DeepLocalize's benchmark, StackOverflow 39525358: online training (batch size 1) on unscaled inputs.

Ported from DeepLocalize's benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/39525358,
Buggy Code and Correct Code) with its data file ``sorted output.csv``: 20 rows (the first line is skipped as
a header, as their ``loadtxt(skiprows=1)``) of three integer features 65-70 and a 0/1 label (1 exactly
when the first feature is 68); a 67/33 train/validation split (13 / 7 rows). ``Dense(12)`` + ReLU,
``Dense(3)`` + ReLU, ``Dense(1)`` + sigmoid, all Keras 1 ``init='uniform'`` (U(+-0.05)); binary
cross-entropy; Adam (Keras defaults lr 1e-3, eps 1e-7); batch size 1; 150 epochs. The buggy file leaves
``StandardScaler`` commented out; the fixed version here differs only by it (their Correct Code also
changes the batch size to 10: kept at 1 here, so that the two versions differ by the one fix).
Run plainly (seed 0): validation accuracy 0.571 (7 rows); fixed version 1.000.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("DeepLocalize benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/39525358: "
          "Buggy Code, Correct Code, 'sorted output.csv'); StackOverflow question 39525358; data: theirs")
SYMPTOM = "the accuracy stays at the share of the majority class: every row is predicted as class 0"
FIX = "standardize the features (sklearn StandardScaler), as the commented-out lines of the buggy file"
SPLIT = "dev"
ROUND = 2
EXPECTED = frozenset({"unscaled_inputs"})
ALLOWED = frozenset({"dead_relu", "exploding_gradients", "saturated_activations", "slow_convergence",
                     "underfitting", "unstable_loss", "vanishing_gradients"})

# 'sorted output.csv' after its first line: three features and the label per row
_ROWS = ((65, 66, 67, 0), (68, 69, 70, 1), (65, 66, 67, 0), (68, 69, 70, 1), (65, 66, 67, 0),
         (65, 66, 67, 0), (65, 66, 67, 0), (68, 69, 70, 1), (65, 66, 67, 0), (68, 69, 70, 1),
         (65, 66, 67, 0), (65, 66, 67, 0), (65, 66, 70, 0), (68, 69, 67, 1), (65, 66, 70, 0),
         (68, 69, 70, 1), (68, 69, 70, 1), (65, 66, 67, 0), (68, 69, 70, 1), (65, 66, 67, 0))
EPOCHS = 150


def _data(seed: int, scaled: bool) -> tuple[np.ndarray, ...]:
    table = np.asarray(_ROWS, dtype=np.float32)
    x, y = table[:, :3], table[:, 3:]
    if scaled:  # StandardScaler on all rows before the split, as the fixed file
        x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32)
    x_tr, x_va, y_tr, y_va = rp.data.train_test_split(x, y, test_size=0.33, seed=seed)
    return x_tr, y_tr, x_va, y_va


def _program(seed: int, scaled: bool) -> Program:
    rp.manual_seed(seed)
    model = nn.Sequential(dense(3, 12, "uniform"), nn.ReLU(), dense(12, 3, "uniform"), nn.ReLU(),
                          dense(3, 1, "uniform"))  # the sigmoid is inside bce_with_logits
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, *_data(seed, scaled), loss="bce_with_logits", epochs=EPOCHS,
                   batch_size=1, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, scaled=False)


def fixed(seed: int) -> Program:
    return _program(seed, scaled=True)
