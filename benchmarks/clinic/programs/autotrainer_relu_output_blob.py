"""AutoTrainer's improper-activation demo: a ReLU output layer under categorical cross-entropy.

Ported from AutoTrainer (github.com/shiningrain/AUTOTRAINER),
``AutoTrainer/demo_case/Improper_Activation_case/demo_activation.py``: 2-50-50-50-50-3, hidden ReLU with
He-uniform weights, the output ``Dense(3, activation='relu')`` (the softmax is commented out), Keras's
categorical cross-entropy on those outputs (divided by their sum, clipped), Adam lr 1e-4, batch 256,
300 epochs, on ``simplednn`` blobs. 300 epochs (900 steps), as theirs.
Run plainly (seed 0): the loss turns NaN at step 435, validation accuracy 0.747; fixed version 0.827.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import CategoricalCrossentropy, dense
from ._simplednn import blob

SOURCE = ("AutoTrainer demo case Improper_Activation_case (github.com/shiningrain/AUTOTRAINER, "
          "AutoTrainer/demo_case/Improper_Activation_case/demo_activation.py); data: AutoTrainer's simplednn "
          "blobs, drawn with scikit-learn as they do")
SYMPTOM = ("the output layer is a ReLU under categorical cross-entropy: outputs that are not a distribution, "
           "all-zero rows give a NaN loss, and the accuracy stays low")
FIX = "a softmax output layer (the commented-out Softmax) under categorical cross-entropy"
SPLIT = "dev"
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"dead_relu", "non_finite", "slow_convergence", "underfitting"})

EPOCHS = 300


def _trunk() -> list[nn.Module]:
    layers: list[nn.Module] = [dense(2, 50, "he_uniform"), nn.ReLU()]
    for _ in range(3):
        layers += [dense(50, 50, "he_uniform"), nn.ReLU()]
    return layers


def buggy(seed: int) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = blob(seed)
    model = nn.Sequential(*_trunk(), dense(50, 3), nn.ReLU())
    return Program(model, rp.optim.Adam(model.parameters(), lr=1e-4), x_tr, y_tr, x_va, y_va,
                   loss=CategoricalCrossentropy(), epochs=EPOCHS, batch_size=256, fit_options={"seed": seed})


def fixed(seed: int) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = blob(seed)
    model = nn.Sequential(*_trunk(), dense(50, 3))  # softmax inside cross_entropy
    return Program(model, rp.optim.Adam(model.parameters(), lr=1e-4), x_tr, y_tr, x_va, y_va,
                   loss="cross_entropy", epochs=EPOCHS, batch_size=256, fit_options={"seed": seed})
