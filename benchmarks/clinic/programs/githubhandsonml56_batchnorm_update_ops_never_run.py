"""handson-ml issue 56: the chapter 11 DNNClassifier's batch-norm moving averages are never updated.

SOURCE: https://github.com/ageron/handson-ml/issues/56 ("Exercise solutions for Chapter 11 - Batch
Normalization fix"), on ``11_deep_learning.ipynb`` as it stood before commit a877054 ("Fixes #56, bug in
DNNClassifier for batch normalization"), exercise 8.4. ``DNNClassifier.fit`` builds the graph inside ``with
self._graph.as_default():`` but fetches ``extra_update_ops = tf.get_collection(UPDATE_OPS)`` after that
block, from the default graph, where the collection is empty: the ``if extra_update_ops:`` step never runs,
so every ``tf.layers.batch_normalization`` keeps its moving mean at 0 and its moving variance at 1, and the
validation and test passes (``training`` False) normalize with them. The program: MNIST digits 0-4 (pixels
in [0, 1]); ``DNNClassifier(activation=leaky_relu(alpha=0.1), batch_size=500, learning_rate=0.01,
n_neurons=90, random_state=42, batch_norm_momentum=0.95)``: 5 hidden layers of ``tf.layers.dense(90)`` (He
initialization, ``variance_scaling_initializer()``: a truncated normal of std sqrt(1.3 * 2 / fan_in); zero
biases), each followed by ``batch_normalization(momentum=0.95)`` (epsilon 1e-3, learned scale and offset)
and the leaky ReLU; a He-initialized logits layer; the mean sparse softmax cross-entropy;
``AdamOptimizer(0.01)``; batches of 500 drawn from a fresh permutation every epoch; ``fit(n_epochs=1000,
X_valid, y_valid)`` with early stopping on the validation loss (stop once it has not improved for more than
20 epochs, then restore the best epoch's variables); scored on the held-out digits. MNIST needs a download:
here scikit-learn's 8x8 digits 0-4 in [0, 1] (64 inputs), about 290 of them held out (the validation set
early stopping watches, and the score), the other ~610 for training: an epoch is two steps (500 and the
rest) where MNIST's was 55. The running statistics that are never updated are ``BatchNorm1d`` with
``momentum=0`` (PyTorch's convention: the fraction of the batch's statistics taken in per step; TF's
momentum 0.95 is PyTorch's 0.05). Cut: at most 300 epochs instead of 1,000 (early stopping ends the buggy
runs by epoch 30-90; the fixed version's validation loss still creeps down at epoch 300 on two seeds).
SYMPTOM: the solution's conclusion: "batch normalization did not improve accuracy, quite the contrary"
(test accuracy 95.5 % against 99.3 % without it; validation loss 0.98 at best, then 2-30).
FIX: commit a877054 (the issue's suggestion): fetch ``UPDATE_OPS`` inside the graph's block, so the moving
averages are updated after every training step (the fixed notebook: validation loss 0.02-0.05, accuracy
above 99 %); the network, optimizer and data unchanged.
The mechanism: training normalizes every layer with its batch's statistics, so the learned weights, scales
and offsets assume normalized pre-activations; at evaluation the layers "normalize" with mean 0 and
variance 1, i.e. pass the raw pre-activations through, whose means and spreads are far from that after
training, and the mismatch compounds over five layers: the validation loss is large and erratic while the
training loss falls.
Run plainly (seeds 0, 1, 2): validation accuracy 0.693 / 0.891 / 0.877 (the restored best epoch; training
loss 2.2 / 2.0 / 1.9 -> 0.0005 / 0.0001 / 0.0004, while the validation loss is at best 1.04 / 0.68 / 0.54
and early stopping ends the runs at epoch 30 / 89 / 33); fixed version 1.000 / 1.000 / 1.000 (validation
loss down to 0.001). Each run under 3 seconds.
"""

from __future__ import annotations

import math

import retroprop as rp
from retroprop import nn
from retroprop.callbacks import EarlyStopping

from . import Program
from ._qa_common import digits, normal_init

SOURCE = ("https://github.com/ageron/handson-ml/issues/56 (11_deep_learning.ipynb, exercise 8.4, before "
          "commit a877054; fix: commit a877054); MNIST digits 0-4 -> sklearn digits 0-4 (8x8), [0, 1]")
SYMPTOM = ("with batch normalization the classifier does worse (95.5 % against 99.3 %): the batch-norm "
           "moving averages are never updated, validation loss large and erratic")
FIX = "commit a877054: fetch UPDATE_OPS inside the graph's block so the moving averages are updated"
SPLIT = "heldout"
ROUND = 20
EXPECTED = frozenset({"batchnorm_statistics"})
ALLOWED = frozenset({"validation_mismatch", "unstable_loss"})

N_HIDDEN, N_NEURONS, LR, BATCH, EPOCHS, PATIENCE = 5, 90, 0.01, 500, 300, 20


def _he_dense(n_in: int, n_out: int) -> nn.Linear:
    """``tf.layers.dense`` with ``variance_scaling_initializer()``: truncated normal, std sqrt(2.6 / n_in)."""
    layer = nn.Linear(n_in, n_out, init=normal_init(math.sqrt(1.3 * 2.0 / n_in), truncated=True))
    nn.init.zeros_(layer.bias)
    return layer


def _program(seed: int, bn_momentum: float) -> Program:
    x_train, y_train, x_val, y_val = digits(seed, 1 / 16, n_val=600)
    train, val = y_train < 5, y_val < 5  # the digits 0-4
    x_train, y_train, x_val, y_val = x_train[train], y_train[train], x_val[val], y_val[val]
    rp.manual_seed(seed)
    layers: list[nn.Module] = []
    n_in = x_train.shape[1]
    for _ in range(N_HIDDEN):
        layers += [_he_dense(n_in, N_NEURONS), nn.BatchNorm1d(N_NEURONS, eps=1e-3, momentum=bn_momentum),
                   nn.LeakyReLU(0.1)]
        n_in = N_NEURONS
    layers.append(_he_dense(n_in, 5))
    model = nn.Sequential(*layers)
    optimizer = rp.optim.Adam(model.parameters(), lr=LR)
    stopper = EarlyStopping(monitor="val_loss", patience=PATIENCE, restore_best_weights=True)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed, "callbacks": [stopper]})


def buggy(seed: int) -> Program:
    return _program(seed, bn_momentum=0.0)  # the update ops never run: moving mean 0, variance 1


def fixed(seed: int) -> Program:
    return _program(seed, bn_momentum=1.0 - 0.95)
