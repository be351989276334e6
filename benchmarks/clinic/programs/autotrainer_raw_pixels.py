"""AutoTrainer's data-issue demo: a ReLU network fed raw 0-255 pixels (the preprocessing skipped).

Ported from AutoTrainer (github.com/shiningrain/AUTOTRAINER),
``AutoTrainer/demo_case/Data_Issue_case/demo_data.py``:
CIFAR-10 images given to the network as loaded (``preprocess`` commented out), He-uniform ReLU layers
(two 3x3 convolutions with pooling and dropout 0.25, then Dense 256, Dense 128, dropout 0.25), a softmax
output under categorical cross-entropy, Adam lr 1e-3, batch 32, 15 epochs. CIFAR-10 needs a download:
here scikit-learn's bundled 8x8 digits, put on the same 0-255 pixel scale (x * 255 / 16); retroprop has no
convolutions, so the two convolution blocks are one He-uniform Dense(64, 256) ReLU layer with its
dropout. Cut: 15 epochs as theirs, on 1,347 training images.
Reproduced only weakly: run plainly (seed 0) validation accuracy 0.960 (first epoch's loss 93)
against the fixed version's 0.982; Adam's per-parameter step sizes absorb most of the raw scale.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("AutoTrainer demo case Data_Issue_case (github.com/shiningrain/AUTOTRAINER, "
          "AutoTrainer/demo_case/Data_Issue_case/demo_data.py); data: scikit-learn's digits on the 0-255 "
          "scale instead of CIFAR-10; dense layers instead of the convolution blocks")
SYMPTOM = "the inputs are raw pixel values (0-255) because the data set's preprocessing was commented out"
FIX = "preprocess the inputs (AutoTrainer's cifar10.preprocess standardizes them per channel)"
SPLIT = "dev"
EXPECTED = frozenset({"unscaled_inputs"})
ALLOWED = frozenset({"exploding_gradients", "unstable_loss", "dead_relu", "non_finite", "overfitting"})

EPOCHS = 15


def _data(seed: int) -> tuple[np.ndarray, ...]:
    x, y = rp.data.load_digits()
    x_tr, x_va, y_tr, y_va = rp.data.train_test_split(x, y, test_size=0.25, seed=seed, stratify=y)
    scale = np.float32(255.0 / 16.0)
    return x_tr * scale, y_tr, x_va * scale, y_va


def _program(seed: int, preprocess: bool) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = _data(seed)
    if preprocess:
        x_tr, x_va = rp.data.standardize(x_tr, x_va)
    model = nn.Sequential(
        dense(64, 256, "he_uniform"), nn.ReLU(), nn.Dropout(0.25),
        dense(256, 128, "he_uniform"), nn.ReLU(), nn.Dropout(0.25),
        dense(128, 10))  # softmax inside cross_entropy
    return Program(model, rp.optim.Adam(model.parameters(), lr=1e-3), x_tr, y_tr, x_va, y_va,
                   loss="cross_entropy", epochs=EPOCHS, batch_size=32, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, preprocess=False)


def fixed(seed: int) -> Program:
    return _program(seed, preprocess=True)
