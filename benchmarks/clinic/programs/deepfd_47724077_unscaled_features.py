"""DeepFD case 14 (StackOverflow 47724077): raw, unscaled tabular features into a small ReLU network.

Ported from DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx, case 14: ground
truth "optimizer, learning rate, missing preprocessing, epoch") with the code as collected in DeepLocalize's
benchmark (Benchmark/StackOverflow/47724077): the UCI Adult census table with its 14 columns as raw numbers
(label-encoded categories next to age, fnlwgt in the hundreds of thousands, capital gain up to 99,999),
``Dense(21)`` + ReLU, ``Dense(2)`` + softmax, categorical cross-entropy, Adam (lr 0.001), batch 100, 50
epochs. Adult needs a download: here scikit-learn's bundled breast-cancer table (569 x 30, two classes),
whose raw columns also span wildly different scales (0.001 to 4,254), 25 % held out (stratified) for
validation (the original evaluates on its training data). Keras's softmax output under categorical
cross-entropy is the logits form here (``cross_entropy``), the same function.
SYMPTOM: the accuracy stays low and erratic (the benchmark's question: the network barely beats the majority
class).
FIX: DeepFD's patch: ``StandardScaler`` on the features (fitted on the training part here) and Adam at lr
0.01.
Run plainly (seed 0): validation accuracy 0.874; fixed version 0.965.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("DeepFD benchmark case 14 (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx); "
          "StackOverflow question 47724077; code from "
          "DeepLocalize's benchmark (Benchmark/StackOverflow/47724077); data: "
          "scikit-learn's breast-cancer table, unscaled, instead of UCI Adult")
SYMPTOM = "low, erratic accuracy: the raw feature scales swamp the small network"
FIX = "standardize the features (StandardScaler) and Adam at lr 0.01 (DeepFD's patch)"
SPLIT = "heldout"
ROUND = 2
EXPECTED = frozenset({"unscaled_inputs"})
ALLOWED = frozenset({"exploding_gradients", "unstable_loss", "dead_relu", "slow_convergence", "underfitting"})


def _data(seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    x_tr, x_va, y_tr, y_va = rp.data.train_test_split(x.astype(np.float32), y.astype(np.int64),
                                                      test_size=0.25, seed=seed, stratify=y)
    return x_tr, y_tr, x_va, y_va


def _program(seed: int, scaled: bool) -> Program:
    x_tr, y_tr, x_va, y_va = _data(seed)
    if scaled:
        mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
        x_tr, x_va = (x_tr - mean) / std, (x_va - mean) / std
    rp.manual_seed(seed)
    model = nn.Sequential(dense(30, 21), nn.ReLU(), dense(21, 2))
    optimizer = rp.optim.Adam(model.parameters(), lr=0.01 if scaled else 1e-3)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=50, batch_size=100,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, scaled=False)


def fixed(seed: int) -> Program:
    return _program(seed, scaled=True)
