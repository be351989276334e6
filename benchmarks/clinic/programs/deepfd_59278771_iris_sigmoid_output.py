"""DeepFD case 16 (StackOverflow 59278771): iris with sigmoid outputs under categorical cross-entropy.

Ported from DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx, case 16) with the
code as collected in DeepLocalize's benchmark (Benchmark/StackOverflow/59278771): the iris measurements as
they are (cm), 4-4-3 with ``Dense(4)`` + ReLU and ``Dense(3)`` + sigmoid, both ``kernel_initializer='normal'``
(N(0, 0.05^2)), Keras's categorical cross-entropy (outputs divided by their sum), Adam with its defaults,
batch 5, 200 epochs. The question trains on all 150 flowers: here a stratified quarter is held out for
validation (112 / 38). Cut: 100 epochs.
Run plainly (seed 0): validation accuracy 0.711; fixed version 0.974.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import CategoricalCrossentropy, dense

SOURCE = ("DeepFD benchmark case 16 (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx); "
          "StackOverflow question 59278771; code from DeepLocalize's benchmark "
          "(Benchmark/StackOverflow/59278771); data: "
          "scikit-learn's bundled iris")
SYMPTOM = "the accuracy stays low / stuck, as a sigmoid output is used with categorical cross-entropy"
FIX = ("standardize the inputs, a softmax output, SELU in the hidden layer and SGD (Keras's default "
       "lr 0.01) instead of Adam (DeepFD's patch)")
SPLIT = "heldout"
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"unscaled_inputs", "slow_convergence", "underfitting", "dead_relu",
                     "saturated_activations"})

EPOCHS = 100


def _data(seed: int) -> tuple[np.ndarray, ...]:
    x, y = rp.data.load_iris()
    x_tr, x_va, y_tr, y_va = rp.data.train_test_split(x, y, test_size=0.25, seed=seed, stratify=y)
    return x_tr, y_tr, x_va, y_va


def buggy(seed: int) -> Program:
    rp.manual_seed(seed)
    model = nn.Sequential(dense(4, 4, "normal"), nn.ReLU(), dense(4, 3, "normal"), nn.Sigmoid())
    return Program(model, rp.optim.Adam(model.parameters(), lr=1e-3), *_data(seed),
                   loss=CategoricalCrossentropy(), epochs=EPOCHS, batch_size=5, fit_options={"seed": seed})


def fixed(seed: int) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = _data(seed)
    x_tr, x_va = rp.data.standardize(x_tr, x_va)
    model = nn.Sequential(dense(4, 4, "normal"), nn.SELU(), dense(4, 3, "normal"))  # softmax in the loss
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.01), x_tr, y_tr, x_va, y_va,
                   loss="cross_entropy", epochs=EPOCHS, batch_size=5, fit_options={"seed": seed})
