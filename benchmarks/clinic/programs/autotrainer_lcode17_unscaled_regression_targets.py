"""AutoTrainer L-code unstable case 17: an MLP regression trained by SGD on make_regression's raw targets.

SOURCE: AutoTrainer (github.com/shiningrain/AUTOTRAINER),
``DL_tools/code/L-code/unstable/case-17-unstable/case_17.py`` (first line: "mlp with unscaled data for the
regression problem"), among the problem programs its authors collected for each training problem (the
folder names the problem: training unstable). It is the unscaled-data example of Jason Brownlee's data
scaling tutorial (machinelearningmastery.com, "How to use Data Scaling Improve Deep Learning Model Stability
and Performance"), with Keras's default ``SGD()``. The program: ``make_regression(n_samples=1000,
n_features=20, noise=0.1, random_state=1)`` (inputs standard normal, targets of std ~ 100-200, unscaled),
the first 500 samples for training and the other 500 for validation; ``Dense(25, activation='relu',
kernel_initializer='he_uniform')``, ``Dense(1, activation='linear')`` (Glorot-uniform, zero biases); mean
squared error; ``SGD()`` (lr 0.01, no momentum); batch 32; 500 epochs. Cut: 30 epochs. Seed ``s`` draws
the data with ``random_state = 1 + s`` (seed 0 is the program's draw).
SYMPTOM: training is unstable: the loss blows up and the model predicts NaN (the tutorial: "the model is
unable to learn the problem, resulting in predictions of NaN values").
FIX: the tutorial's fix: standardize the targets (``StandardScaler`` fitted on the training targets); the
model, optimizer and inputs unchanged. Scores are MSE / var(y_val), the same in either unit.
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 1.4e42 / inf / 2.0e69 (the
training loss is inf in the first epoch, where ``fit`` stops on the non-finite loss; targets of std 143-171);
fixed version 0.107 / 0.136 / 0.121 (training loss 1.7-2.1 -> 0.09-0.10 in 30 epochs). Each run under two
seconds.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("AutoTrainer problem benchmark (github.com/shiningrain/AUTOTRAINER, "
          "DL_tools/code/L-code/unstable/case-17-unstable/case_17.py); data generated as in the program "
          "(sklearn make_regression)")
SYMPTOM = "the loss blows up and the predictions turn NaN: SGD on targets of scale ~100"
FIX = "standardize the regression targets (StandardScaler fitted on the training targets)"
SPLIT = "heldout"
ROUND = 6
EXPECTED = frozenset({"unscaled_targets"})
ALLOWED = frozenset({"exploding_gradients", "non_finite", "unstable_loss", "dead_relu"})

N_TRAIN = 500


def _program(seed: int, scale_targets: bool) -> Program:
    from sklearn.datasets import make_regression

    x, y = make_regression(n_samples=1000, n_features=20, noise=0.1, random_state=1 + seed)
    x = x.astype(np.float32)
    y = y.reshape(-1, 1)
    y_tr, y_va = y[:N_TRAIN], y[N_TRAIN:]
    if scale_targets:
        mean, std = y_tr.mean(), y_tr.std()
        y_tr, y_va = (y_tr - mean) / std, (y_va - mean) / std
    rp.manual_seed(seed)
    model = nn.Sequential(dense(20, 25, "he_uniform"), nn.ReLU(), dense(25, 1))
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.01), x[:N_TRAIN], y_tr.astype(np.float32),
                   x[N_TRAIN:], y_va.astype(np.float32), loss="mse", epochs=30, batch_size=32, metric=None,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, scale_targets=False)


def fixed(seed: int) -> Program:
    return _program(seed, scale_targets=True)
