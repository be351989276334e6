"""Brownlee's weight-regularization tutorial: 500 ReLU units fitted to 30 moons points for 4,000 epochs.

SOURCE: Jason Brownlee, "How to Reduce Overfitting in Deep Learning With Weight Regularization"
(machinelearningmastery.com/how-to-reduce-overfitting-in-deep-learning-with-weight-regularization/, a
chapter of the book "Better Deep Learning"; the same programs are mirrored on GitHub, e.g. the book's code,
its Chinese translation, and notebooks that rerun it with the same printed results). The tutorial's
overfit MLP: ``make_moons(n_samples=100, noise=0.2, random_state=1)``, the first 30 points for training and
the other 70 for testing; ``Dense(500, activation='relu')``, ``Dense(1, activation='sigmoid')``
(Glorot-uniform, zero biases); binary cross-entropy; Adam at Keras's defaults (lr 0.001, epsilon 1e-7);
Keras's default batch 32 (one full batch of 30 per epoch); 4,000 epochs. Nothing is cut. Every seed trains
on the tutorial's draw of the data; the seed draws the weights and the batch order. The sigmoid output
under binary cross-entropy is the logits form here (``bce_with_logits``), the same function.
SYMPTOM: "Train: 1.000, Test: 0.914": the model has far more capacity than 30 points need and is trained
long after it fits them, so it memorizes the training points and its test loss climbs (the tutorial's
learning curves show the test accuracy rising, then falling).
FIX: the tutorial's remedy: ``kernel_regularizer=l2(0.001)`` on the hidden layer, Keras's penalty
0.001 * sum(w^2) added to the loss (here its gradient, 0.002 * w, as Adam's L2 weight decay on that
layer's weights only): "Train: 1.000, Test: 0.943" there.
Run plainly (seeds 0, 1, 2): validation accuracy 0.914 / 0.914 / 0.914 (the tutorial's figure; it peaked
at 0.943 near epoch 850; training accuracy 1.000, training loss below 0.001; validation loss lowest, 0.23,
near epoch 800, then 0.483 / 0.480 / 0.483 at the end); fixed version 0.943 / 0.943 / 0.943 (training loss
0.005; validation loss lowest, 0.22, near epoch 1,000, then 0.266 / 0.267 / 0.262 at the end: the
regularized model still drifts a little after its best epoch, far less). Each run about 3 seconds.
Note: with the data drawn anew for each seed (``random_state = 1 + seed``) the outcome varies with the
draw: seed 1 0.757 against 0.871 fixed, but seed 2 0.943 against 0.957 (1.4 points); the port keeps the
tutorial's draw.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("machinelearningmastery.com/how-to-reduce-overfitting-in-deep-learning-with-weight-regularization "
          "(the tutorial's overfit MLP; data generated as there, sklearn make_moons)")
SYMPTOM = "Train 1.000, Test 0.914: 500 hidden units memorize 30 training points over 4,000 epochs"
FIX = "the tutorial's l2(0.001) kernel regularizer on the hidden layer (Test 0.943 there)"
SPLIT = "heldout"
ROUND = 13
EXPECTED = frozenset({"overfitting"})
ALLOWED: frozenset[str] = frozenset()

N_TRAIN = 30
EPOCHS = 4000
L2 = 0.001  # Keras l2(0.001): penalty 0.001 * sum(w**2), gradient 0.002 * w


def _program(seed: int, regularize: bool) -> Program:
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=100, noise=0.2, random_state=1)
    x = x.astype(np.float32)
    y = y.astype(np.float32).reshape(-1, 1)
    rp.manual_seed(seed)
    hidden, output = dense(2, 500), dense(500, 1)
    model = nn.Sequential(hidden, nn.ReLU(), output)  # the output sigmoid is inside the loss
    if regularize:
        groups = [{"params": [hidden.weight], "weight_decay": 2 * L2},
                  {"params": [hidden.bias, *output.parameters()]}]
        optimizer = rp.optim.Adam(groups, lr=1e-3, eps=1e-7)
    else:
        optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:],
                   loss="bce_with_logits", epochs=EPOCHS, batch_size=32, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, regularize=False)


def fixed(seed: int) -> Program:
    return _program(seed, regularize=True)
