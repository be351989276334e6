"""DeepFD case 1 (StackOverflow 48385830): a two-layer MNIST net with no activations, trained on MSE.

Ported from DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark/Benchmark-with-patches.xlsx,
case 1) with the code as collected in DeepLocalize's benchmark (Benchmark/StackOverflow/48385830):
784-30-10 ``Dense`` layers with no activation at all, weights and biases drawn from N(0, 1), SGD lr 3.0,
mean squared error against one-hot labels, batch 10, 30 epochs, pixels scaled to [0, 1]. MNIST needs a
download: here scikit-learn's bundled 8x8 digits scaled to [0, 1] (x / 16), so 64-30-10. Cut: 10 epochs.
Run plainly (seed 0): the loss is NaN at step 4, accuracy 0.102; fixed version 0.960.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense, onehot_accuracy

SOURCE = ("DeepFD benchmark case 1 (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx); "
          "StackOverflow question 48385830; code from DeepLocalize's benchmark "
          "(Benchmark/StackOverflow/48385830); data: "
          "scikit-learn's digits (x / 16) instead of MNIST")
SYMPTOM = "the loss becomes inf in the first epoch (DeepLocalize: stops at epoch 1, batch 2, accuracy 0.13)"
FIX = ("a sigmoid after the hidden layer, a softmax output and categorical cross-entropy (DeepFD's patch; "
       "SGD lr 3.0 and the N(0, 1) initialization kept)")
SPLIT = "dev"
EXPECTED = frozenset({"missing_nonlinearity", "loss_output_mismatch"})
ALLOWED = frozenset({"exploding_gradients", "non_finite", "unstable_loss"})

EPOCHS = 10


def _data(seed: int) -> tuple[np.ndarray, ...]:
    x, y = rp.data.load_digits()
    x_tr, x_va, y_tr, y_va = rp.data.train_test_split(x / np.float32(16.0), y, test_size=0.25, seed=seed,
                                                      stratify=y)
    return x_tr, y_tr, x_va, y_va


def buggy(seed: int) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = _data(seed)
    model = nn.Sequential(dense(64, 30, 1.0, bias_std=1.0), dense(30, 10, 1.0, bias_std=1.0))
    eye = np.eye(10, dtype=np.float32)
    return Program(model, rp.optim.SGD(model.parameters(), lr=3.0), x_tr, eye[y_tr], x_va, eye[y_va],
                   loss="mse", epochs=EPOCHS, batch_size=10,
                   fit_options={"seed": seed, "metrics": [onehot_accuracy]})


def fixed(seed: int) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = _data(seed)
    model = nn.Sequential(dense(64, 30, 1.0, bias_std=1.0), nn.Sigmoid(), dense(30, 10, 1.0, bias_std=1.0))
    return Program(model, rp.optim.SGD(model.parameters(), lr=3.0), x_tr, y_tr, x_va, y_va,
                   loss="cross_entropy", epochs=EPOCHS, batch_size=10, fit_options={"seed": seed})
