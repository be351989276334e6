"""DeepFD case 6 (StackOverflow 38648195): multi-label targets through a softmax, trained on MSE.

Ported from DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx, case 6) with the
code as collected in DeepLocalize's benchmark (Benchmark/StackOverflow/38648195): scikit-learn's
``make_multilabel_classification(n_samples=60000, n_features=20, n_classes=3)`` (count features, as they
are), 20-20-20-3 with ReLU and dropout 0.5, a softmax output, mean squared error, SGD with Keras's
default lr 0.01, batch 20, 20 epochs, a fifth held out. Cut: 3,000 samples (2,400 / 600). Accuracy: the
share of the three labels right, for both versions.
Run plainly (seed 0): per-label accuracy 0.513; fixed version 0.741.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import binary_accuracy, dense

SOURCE = ("DeepFD benchmark case 6 (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx); "
          "StackOverflow question 38648195; code from DeepLocalize's benchmark "
          "(Benchmark/StackOverflow/38648195); data: "
          "scikit-learn's make_multilabel_classification, as theirs")
SYMPTOM = ("the multi-label classifier's accuracy stays low (DeepLocalize: error in the forward pass "
           "of layer 7)")
FIX = "sigmoid outputs and binary cross-entropy (DeepFD's patch)"
SPLIT = "heldout"
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"slow_convergence", "underfitting", "dead_relu"})

N, EPOCHS = 3000, 20


def _data(seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import make_multilabel_classification

    x, y = make_multilabel_classification(n_samples=N, n_features=20, n_classes=3, random_state=seed)
    x, y = x.astype(np.float32), y.astype(np.float32)
    cut = N - N // 5
    return x[:cut], y[:cut], x[cut:], y[cut:]


def _trunk() -> list[nn.Module]:
    return [dense(20, 20), nn.ReLU(), nn.Dropout(0.5), dense(20, 20), nn.ReLU(), nn.Dropout(0.5),
            dense(20, 3)]


def buggy(seed: int) -> Program:
    rp.manual_seed(seed)
    model = nn.Sequential(*_trunk(), nn.Softmax(dim=-1))
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.01), *_data(seed), loss="mse", epochs=EPOCHS,
                   batch_size=20, fit_options={"seed": seed, "metrics": [binary_accuracy]})


def fixed(seed: int) -> Program:
    rp.manual_seed(seed)
    model = nn.Sequential(*_trunk())  # the sigmoid is inside bce_with_logits
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.01), *_data(seed), loss="bce_with_logits",
                   epochs=EPOCHS, batch_size=20, fit_options={"seed": seed})
