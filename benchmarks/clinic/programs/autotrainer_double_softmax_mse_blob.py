"""AutoTrainer's loss-issue demo: two softmax layers and mean squared error on one-hot classes.

Ported from AutoTrainer (github.com/shiningrain/AUTOTRAINER),
``AutoTrainer/demo_case/Loss_Issue_Case/demo.py``:
2-50-50-50-50-3, hidden ReLU with He-uniform weights, ``Dense(3, activation='softmax')`` followed by a
second ``Softmax()`` layer, mean squared error against one-hot rows, Adam lr 1e-4, batch 256, 300 epochs,
on ``simplednn`` blobs. 300 epochs (900 steps), as theirs. Accuracy as Keras's categorical accuracy.
NOT REPRODUCED in this port: run plainly (seed 0) both versions end at 0.827 validation
accuracy (Adam's normalized steps make up for the flattened gradients over 900 steps).
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense, onehot_accuracy
from ._simplednn import blob

SOURCE = ("AutoTrainer demo case Loss_Issue_Case (github.com/shiningrain/AUTOTRAINER, "
          "AutoTrainer/demo_case/Loss_Issue_Case/demo.py); data: AutoTrainer's simplednn blobs, drawn with "
          "scikit-learn as they do")
SYMPTOM = ("a softmax applied twice and a mean-squared-error loss on class labels: tiny gradients at the "
           "output, slow and poor learning")
FIX = "one softmax output under categorical cross-entropy"
SPLIT = "heldout"
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"slow_convergence", "underfitting", "vanishing_gradients", "saturated_activations"})

EPOCHS = 300


def _trunk() -> list[nn.Module]:
    layers: list[nn.Module] = [dense(2, 50, "he_uniform"), nn.ReLU()]
    for _ in range(3):
        layers += [dense(50, 50, "he_uniform"), nn.ReLU()]
    return layers


def buggy(seed: int) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = blob(seed)
    model = nn.Sequential(*_trunk(), dense(50, 3), nn.Softmax(dim=-1), nn.Softmax(dim=-1))
    eye = np.eye(3, dtype=np.float32)
    return Program(model, rp.optim.Adam(model.parameters(), lr=1e-4), x_tr, eye[y_tr], x_va, eye[y_va],
                   loss="mse", epochs=EPOCHS, batch_size=256,
                   fit_options={"seed": seed, "metrics": [onehot_accuracy]})


def fixed(seed: int) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = blob(seed)
    model = nn.Sequential(*_trunk(), dense(50, 3))  # softmax inside cross_entropy
    return Program(model, rp.optim.Adam(model.parameters(), lr=1e-4), x_tr, y_tr, x_va, y_va,
                   loss="cross_entropy", epochs=EPOCHS, batch_size=256, fit_options={"seed": seed})
