"""StackOverflow "Neural network for square (x^2) approximation": one linear unit fit to x^2 on 21 points.

SOURCE: the StackOverflow question "Neural network for square (x^2) approximation" (its number, recalled as
55170460, could not be confirmed here) and its accepted answer, read at the mirrors thetopsites.net
(projects/neural-network/approximation) and newbe.dev. The question's program:
``features = -10, -9, ..., 10`` (21 points), ``labels = features ** 2``;
``tf.keras.Sequential([Dense(units=1, input_shape=[1])])`` (Glorot-uniform kernel, zero bias),
``compile(loss='mean_squared_error', optimizer=Adam(0.0001))``, ``fit(features, labels, epochs=50000)`` at
Keras's default batch of 32 (one full-batch step per epoch); it then predicts 4, 11 and 20. The validation
data here, for both versions, are the points the question and the answer predict: 4, -4, 11, 20, 8, -5.
Keras's Adam: epsilon 1e-7. Cut: 3,000 epochs instead of 50,000 (the buggy version); the fixed one trains on
8,000 of the answer's 10,000 random points (its validation_split 0.2 left out) for 1,000 epochs instead of
15,000.
SYMPTOM: the predictions are wrong (whatever the number of units, layers or activation the asker tried).
Mechanism: a single linear unit can only draw a line, and the best line through x^2 on -10..10 is the
constant 36.7: the model cannot fit its own training data, and 21 points say nothing about x = 11 or 20.
FIX: the accepted answer's: a network with some capacity and many examples: ``Dense(8, relu)``,
``Dense(8, relu)`` (both with ``kernel_regularizer=l2(0.001)``), ``Dense(1)``; ``Adam()`` (lr 0.001), MSE,
batch 256, on 10,000 random x in [-50, 50] with their squares. The L2 penalty 0.001 * sum(w^2) in the loss is
Adam's coupled weight decay 0.002 on the kernels (not the biases).
Within the cut run Adam's steps of 1e-4 also leave the unit far from even that line (the bias moves by
0.3): the training loss goes from 2,421 / 2,413 / 2,438 to 2,393 / 2,391 / 2,402, against the 1,068 of the
best line and 0 of a fit.
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 1.58 / 1.61 / 1.71 (predictions within 11 of 0
for targets 16-400); fixed version 0.0006 / 0.0031 / 0.0024 (e.g. 13.6, 120.4, 396.3 for 16, 121, 400).
Each buggy run 1-2 seconds, each fixed one 8-18 seconds (32 steps an epoch for 1,000 epochs).
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("StackOverflow question 'Neural network for square (x^2) approximation' (mirrored at "
          "thetopsites.net and newbe.dev; the question's 21 points, the answer's network and 8,000 of its "
          "10,000 random points in [-50, 50]; validated on the points both predict)")
SYMPTOM = "the model's predictions of x^2 are wrong: a single linear unit trained on 21 points"
FIX = ("a 1-8-8-1 ReLU network with L2(0.001) kernels, Adam(), batch 256, on many random points in [-50, 50] "
       "(the accepted answer)")
SPLIT = "heldout"
ROUND = 11
EXPECTED = frozenset({"underfitting"})
ALLOWED = frozenset({"slow_convergence", "unscaled_targets", "unscaled_inputs"})

X_VAL = np.array([[4.0], [-4.0], [11.0], [20.0], [8.0], [-5.0]], dtype=np.float32)
N_FIXED = 8000


def buggy(seed: int) -> Program:
    x = np.arange(-10, 11, dtype=np.float32).reshape(-1, 1)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(1, 1))
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-4, eps=1e-7)
    return Program(model, optimizer, x, x ** 2, X_VAL, X_VAL ** 2, loss="mse", epochs=3000, batch_size=32,
                   metric=None, fit_options={"seed": seed})


def fixed(seed: int) -> Program:
    rng = np.random.default_rng(seed)
    x = (rng.random((N_FIXED, 1)) * 100 - 50).astype(np.float32)
    rp.manual_seed(seed)
    layers = [dense(1, 8), dense(8, 8), dense(8, 1)]
    model = nn.Sequential(layers[0], nn.ReLU(), layers[1], nn.ReLU(), layers[2])
    kernels = [layer.weight for layer in layers[:2]]
    others = [layers[0].bias, layers[1].bias, layers[2].weight, layers[2].bias]
    optimizer = rp.optim.Adam([{"params": kernels, "weight_decay": 2 * 0.001},
                               {"params": others, "weight_decay": 0.0}], lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x, x ** 2, X_VAL, X_VAL ** 2, loss="mse", epochs=1000, batch_size=256,
                   metric=None, fit_options={"seed": seed})
