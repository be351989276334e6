"""Cross Validated 409000: house prices in dollars (mean about $250,000) as raw regression targets.

SOURCE: https://stats.stackexchange.com/questions/409000 ("Should we normalize target data as well as input
data?"). The housing data of "Hands-On Machine Learning with Scikit-Learn and TensorFlow" (California
districts; prices in dollars, mean about 250,000), a small network with "very few" ReLU units and a linear
output, Adam; without the asker's hand-made output bias, "after 2,000 epochs, the network was still
working the outputs slowly up from zero towards the mean 250,000 value, and the training errors were
still stupidly high". The question gives no code: the network here is ``Dense(4)`` + ReLU, ``Dense(1)``
(Keras's Glorot-uniform init), MSE, Adam at Keras's default lr 0.001, batch 32, 100 epochs (cut from
2,000). The California data needs a download: here scikit-learn's bundled diabetes table (442 x 10,
standardized features) with its targets (25-346) times 1,500, so that they are prices of the same scale
(mean about 228,000, std about 116,000); 110 samples held out for validation.
SYMPTOM: the predictions creep up from zero and the error stays near the targets' mean square.
FIX: the answers': standardize the targets (zero mean, unit variance on the training targets; the
predictions are scaled back for use), nothing else changes.
Run plainly (seed 0): validation MSE / var(y_val) = 4.919; fixed version 0.538.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._qa_common import diabetes, standardize_targets

SOURCE = ("https://stats.stackexchange.com/questions/409000 (California housing -> sklearn diabetes, "
          "standardized features, targets x 1,500 as dollar prices)")
SYMPTOM = "after 2,000 epochs the outputs are still creeping up from zero toward the mean price"
FIX = "standardize the targets (and scale the predictions back)"
SPLIT = "heldout"
ROUND = 2
EXPECTED = frozenset({"unscaled_targets"})
ALLOWED = frozenset({"slow_convergence", "underfitting", "dead_relu"})

PRICE_SCALE = 1500.0


def _program(seed: int, standardized: bool) -> Program:
    x_tr, y_tr, x_va, y_va = diabetes(seed, raw_features=False)
    y_tr, y_va = (y_tr * PRICE_SCALE).astype(np.float32), (y_va * PRICE_SCALE).astype(np.float32)
    if standardized:
        y_tr, y_va = standardize_targets(y_tr, y_va)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(10, 4), nn.ReLU(), dense(4, 1))
    return Program(model, rp.optim.Adam(model.parameters(), lr=1e-3), x_tr, y_tr, x_va, y_va, loss="mse",
                   epochs=100, batch_size=32, metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, standardized=False)


def fixed(seed: int) -> Program:
    return _program(seed, standardized=True)
