"""AutoTrainer's gradient-vanish demo: eight sigmoid layers of five units on the circles.

Ported from AutoTrainer (github.com/shiningrain/AUTOTRAINER), ``AutoTrainer/demo_case/Gradient_Vanish_Case``:
the model in its ``model.h5`` (2-5-5-5-5-5-5-5-5-1, every layer sigmoid, He-uniform weights, zero biases)
trained as its ``config.pkl`` says (read as text: Adam lr 1e-3, batch 128, 300 epochs, binary
cross-entropy) on ``simplednn`` circles. Cut: 100 epochs (AutoTrainer's log shows validation accuracy
at 0.50 through epoch 90, where it stopped the run). The sigmoid output under Keras's binary
cross-entropy is the logits form here (``bce_with_logits``), the same function.
Run plainly (seed 0): validation accuracy 0.503 (loss flat at 0.693); fixed version 0.860.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._simplednn import circle

SOURCE = ("AutoTrainer demo case Gradient_Vanish_Case (github.com/shiningrain/AUTOTRAINER, "
          "AutoTrainer/demo_case/Gradient_Vanish_Case: model.h5, config.pkl, tmp/log_dir/log.csv); data: "
          "AutoTrainer's simplednn circles, drawn with scikit-learn as they do")
SYMPTOM = ("training and validation accuracy stay at 0.50 and the loss at 0.693 for 90 epochs; AutoTrainer "
           "reports 'vanish' (gradient vanishing) at epoch 90")
FIX = ("SELU activations with LeCun-uniform initialization in every layer (AutoTrainer's repair: "
       "0.85 accuracy)")
SPLIT = "dev"
EXPECTED = frozenset({"vanishing_gradients"})
ALLOWED = frozenset({"saturated_activations", "slow_convergence", "underfitting"})

HIDDEN = 8
EPOCHS = 300


def _program(seed: int, act: type, init: str) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = circle(seed)
    layers: list[nn.Module] = [dense(2, 5, init), act()]
    for _ in range(HIDDEN - 1):
        layers += [dense(5, 5, init), act()]
    layers.append(dense(5, 1, init))  # the output sigmoid is inside the loss
    model = nn.Sequential(*layers)
    y_tr = y_tr.reshape(-1, 1).astype(np.float32)
    y_va = y_va.reshape(-1, 1).astype(np.float32)
    return Program(model, rp.optim.Adam(model.parameters(), lr=1e-3), x_tr, y_tr, x_va, y_va,
                   loss="bce_with_logits", epochs=EPOCHS, batch_size=128, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, nn.Sigmoid, "he_uniform")


def fixed(seed: int) -> Program:
    return _program(seed, nn.SELU, "lecun_uniform")
