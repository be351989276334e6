"""Brownlee's weight-regularization grid search: l2(0.1) on 500 ReLU units fitted to 30 moons points.

SOURCE: Jason Brownlee, "How to Reduce Overfitting in Deep Learning With Weight Regularization"
(machinelearningmastery.com/how-to-reduce-overfitting-in-deep-learning-with-weight-regularization/, a
chapter of the book "Better Deep Learning"; mirrored on GitHub, e.g. in the book's Chinese translation
with the same printed results), section "Grid Search Regularization Hyperparameter". The program:
``make_moons(n_samples=100, noise=0.2, random_state=1)``, the first 30 points for training and the other
70 for testing; ``Dense(500, activation='relu', kernel_regularizer=l2(param))``, ``Dense(1,
activation='sigmoid')`` (Glorot-uniform, zero biases); binary cross-entropy; Adam at Keras's defaults (lr
0.001, epsilon 1e-7); Keras's default batch 32 (one full batch of 30 per epoch); 4,000 epochs; ``param``
in 1e-1 ... 1e-6. The port takes the grid's largest value, 0.1. Nothing is cut. Every seed trains on the
tutorial's draw of the data; the seed draws the weights and the batch order. Keras's penalty
``0.1 * sum(w^2)`` on the hidden kernel is its gradient here, ``0.2 * w``, as Adam's (coupled) weight
decay on that layer's weights only. The sigmoid output under binary cross-entropy is the logits form here
(``bce_with_logits``), the same function. (The same chapter's overfit model, without a penalty, is ported
as ``machinelearningmastery_weightregularization_overfit_30_moons``; this one is its opposite failure.)
SYMPTOM: "Param: 0.100000, Train: 0.967, Test: 0.829" against 0.943 on the test data for 0.01 and 0.001:
"using the largest value of 0.1 results in a large drop in both train and test accuracy": the penalty
holds the hidden weights so small that the model cannot even fit its 30 training points.
FIX: the tutorial's conclusion, "0.01 or 0.001 may suffice": ``l2(0.001)``, the value its regularized
model uses (Test 0.943 in the grid), same data, model, optimizer, batch and epochs.
Run plainly (seeds 0, 1, 2): validation accuracy 0.829 / 0.829 / 0.829 and training accuracy 0.967 (the
tutorial's figures; the training cross-entropy, the penalty aside, levels off at 0.15 / 0.16 / 0.15 and
the validation loss ends at 0.39 / 0.39 / 0.38); fixed version 0.943 / 0.943 / 0.943, training accuracy
1.000 (training cross-entropy 0.005, validation loss 0.27). Each run about 3 seconds.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("machinelearningmastery.com/how-to-reduce-overfitting-in-deep-learning-with-weight-regularization "
          "(the tutorial's grid search, l2(0.1); data generated as there, sklearn make_moons)")
SYMPTOM = "Train 0.967, Test 0.829 with l2(0.1) on the hidden layer (0.943 with 0.01 or 0.001)"
FIX = "the tutorial's l2(0.001) on the hidden layer (Test 0.943 there)"
SPLIT = "heldout"
ROUND = 14
EXPECTED = frozenset({"weight_decay_too_high"})
ALLOWED = frozenset({"underfitting", "dead_relu", "slow_convergence"})

N_TRAIN = 30
EPOCHS = 4000


def _program(seed: int, l2: float) -> Program:
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=100, noise=0.2, random_state=1)
    x = x.astype(np.float32)
    y = y.astype(np.float32).reshape(-1, 1)
    rp.manual_seed(seed)
    hidden, output = dense(2, 500), dense(500, 1)
    model = nn.Sequential(hidden, nn.ReLU(), output)  # the output sigmoid is inside the loss
    # Keras's l2(l2): penalty l2 * sum(w**2) on the hidden kernel, gradient 2 * l2 * w
    groups = [{"params": [hidden.weight], "weight_decay": 2 * l2},
              {"params": [hidden.bias, *output.parameters()]}]
    optimizer = rp.optim.Adam(groups, lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:],
                   loss="bce_with_logits", epochs=EPOCHS, batch_size=32, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, l2=0.1)


def fixed(seed: int) -> Program:
    return _program(seed, l2=0.001)
