"""DeepFD case 8 (StackOverflow 55328966): raw MNIST pixels, sigmoid outputs under categorical cross-entropy.

Ported from DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx, case 8) with the
code as collected in DeepLocalize's benchmark (Benchmark/StackOverflow/55328966): 5,000 MNIST images as
raw 0-255 values, ``Dense(784)`` (no activation), ``Dense(50)`` + ReLU, ``Dense(10)`` + sigmoid, Keras's
categorical cross-entropy (outputs divided by their sum), plain gradient descent lr 1e-4, batch 32,
10 epochs. MNIST needs a download: here scikit-learn's bundled 8x8 digits on the same 0-255 scale
(x * 255 / 16), so the first layer is Dense(64). The linear first layer is in the fixed version too.
Run plainly (seed 0): validation accuracy 0.231; fixed version 0.940.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import CategoricalCrossentropy, dense

SOURCE = ("DeepFD benchmark case 8 (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx); "
          "StackOverflow question 55328966; code from DeepLocalize's benchmark "
          "(Benchmark/StackOverflow/55328966); data: "
          "scikit-learn's digits on the 0-255 scale instead of MNIST")
SYMPTOM = "the accuracy stays low (the network does not learn)"
FIX = ("scale the pixels (x / 255), a softmax output instead of the sigmoid, and Adam at the same learning "
       "rate instead of plain gradient descent (DeepFD's patch)")
SPLIT = "dev"
EXPECTED = frozenset({"unscaled_inputs", "loss_output_mismatch"})
ALLOWED = frozenset({"missing_nonlinearity", "exploding_gradients", "non_finite", "unstable_loss",
                     "dead_relu", "saturated_activations"})

EPOCHS = 35
LR = 1e-4


def _data(seed: int) -> tuple[np.ndarray, ...]:
    x, y = rp.data.load_digits()
    x_tr, x_va, y_tr, y_va = rp.data.train_test_split(x, y, test_size=0.25, seed=seed, stratify=y)
    scale = np.float32(255.0 / 16.0)
    return x_tr * scale, y_tr, x_va * scale, y_va


def buggy(seed: int) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = _data(seed)
    model = nn.Sequential(dense(64, 64), dense(64, 50), nn.ReLU(), dense(50, 10), nn.Sigmoid())
    return Program(model, rp.optim.SGD(model.parameters(), lr=LR), x_tr, y_tr, x_va, y_va,
                   loss=CategoricalCrossentropy(), epochs=EPOCHS, batch_size=32, fit_options={"seed": seed})


def fixed(seed: int) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = _data(seed)
    x_tr, x_va = x_tr / np.float32(255.0), x_va / np.float32(255.0)
    model = nn.Sequential(dense(64, 64), dense(64, 50), nn.ReLU(), dense(50, 10))  # softmax in the loss
    return Program(model, rp.optim.Adam(model.parameters(), lr=LR), x_tr, y_tr, x_va, y_va,
                   loss="cross_entropy", epochs=EPOCHS, batch_size=32, fit_options={"seed": seed})
