"""DeepFD case 21 (StackOverflow 50079585): three classes of images through one sigmoid unit under binary
cross-entropy.

Ported from DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx, case 21: ground
truth "epoch, learning rate, activation, loss, layer properties") with the code as collected in
DeepLocalize's benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/50079585/Buggy
Code/50079585.py): car-damage photos in three classes (minor, moderate, severe; 979 to train, 171 to
validate) read by ``flow_from_directory(class_mode='binary')``, which labels them 0, 1 and 2; pixels
divided by 255; three Conv2D + ReLU + max-pooling blocks, ``Flatten``, ``Dense(64)`` + ReLU,
``Dropout(0.5)``, ``Dense(1)`` + sigmoid; Keras's ``binary_crossentropy`` (on the sigmoid's probability,
clipped to [1e-7, 1 - 1e-7]); RMSprop at Keras's defaults (lr 0.001, rho 0.9, eps 1e-7); batch 16; 10
epochs. The photos are replaced by scikit-learn's digits of classes 0, 1 and 2 (537 images, 8x8, divided
by 16 to [0, 1]; 134 held out) and the CNN by the MLP after its ``Flatten`` (the augmentation is left
out). Keras's accuracy here is the binary one, ``round(p) == label``: a label of 2 is never matched.
SYMPTOM: the accuracy stays low however long it trains (the question's text was not available here;
DeepFD's ground truth lists epochs, learning rate, activation, loss and layer properties): class 2 pulls
the sigmoid up as class 1 does, one unit cannot tell three classes apart, and the loss goes negative (a
label of 2 rewards p -> 1 without bound until Keras's clipping), falling while the accuracy stands still.
FIX: DeepFD's patch: ``Dense(3)`` + softmax with categorical cross-entropy, RMSprop at lr 0.005, 20 epochs.
Keras's softmax under categorical cross-entropy is the logits form here (``cross_entropy``).
Run plainly (seed 0): validation accuracy 0.664 (at most 2/3 can be right: classes 0 and 1; the training
loss goes from 0.009 to -5.04); fixed version 0.993 (seeds 1, 2: 0.627 / 1.000, 0.634 / 1.000). Each run
under a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import BinaryCrossentropy, dense
from ._qa_common import split

SOURCE = ("DeepFD benchmark case 21 (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx); "
          "StackOverflow question 50079585; code from DeepLocalize's benchmark "
          "(Benchmark/StackOverflow/50079585/Buggy Code/50079585.py); CNN -> MLP, car photos -> sklearn "
          "digits 0-2 in [0, 1]")
SYMPTOM = ("low accuracy that does not improve and a negative loss: labels 0, 1, 2 fed to one sigmoid unit "
           "under binary cross-entropy")
FIX = "three softmax outputs with categorical cross-entropy, RMSprop lr 0.005, 20 epochs (DeepFD's patch)"
SPLIT = "heldout"
ROUND = 3
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"underfitting", "slow_convergence", "unstable_loss", "saturated_activations"})

N_CLASSES = 3
N_VAL = 134


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Keras's binary accuracy on a probability output: the rounded output equals the label."""
    return float((np.round(np.asarray(y_pred).reshape(-1)) == np.asarray(y_true).reshape(-1)).mean())


def _data(seed: int) -> tuple[np.ndarray, ...]:
    x, y = rp.data.load_digits()
    keep = y < N_CLASSES
    return split((x[keep] / 16).astype(np.float32), y[keep].astype(np.int64), seed, N_VAL)


def buggy(seed: int) -> Program:
    x_tr, y_tr, x_va, y_va = _data(seed)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(64, 64), nn.ReLU(), nn.Dropout(0.5), dense(64, 1), nn.Sigmoid())
    optimizer = rp.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    labels_tr, labels_va = (y.astype(np.float32).reshape(-1, 1) for y in (y_tr, y_va))
    return Program(model, optimizer, x_tr, labels_tr, x_va, labels_va, loss=BinaryCrossentropy(), epochs=10,
                   batch_size=16, fit_options={"seed": seed, "metrics": [accuracy]})


def fixed(seed: int) -> Program:
    x_tr, y_tr, x_va, y_va = _data(seed)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(64, 64), nn.ReLU(), nn.Dropout(0.5), dense(64, N_CLASSES))
    optimizer = rp.optim.RMSprop(model.parameters(), lr=5e-3, alpha=0.9, eps=1e-7)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=20, batch_size=16,
                   fit_options={"seed": seed})
