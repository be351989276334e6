"""AutoTrainer DL_tools case 14 (dying ReLU): eight ReLU layers of five units from RandomUniform(+-0.05).

SOURCE: AutoTrainer (github.com/shiningrain/AUTOTRAINER), ``DL_tools/code/DyingReLU/case14.py``, the
benchmark of problem programs its authors built for each training problem (the folder names the problem:
dying ReLU), with its log ``DL_tools/log/case14_circle/case14_circle.csv``. The program: ``simplednn``
circles (``load_data('circle')``: 700 training and 300 validation points in [-1, 1]); eight
``Dense(5, activation='relu', kernel_initializer='RandomUniform', bias_initializer='Zeros')`` (Keras 2's
``RandomUniform()`` is U(-0.05, 0.05)), then ``Dense(1, activation='sigmoid')`` (Keras defaults:
Glorot-uniform, zero bias); binary cross-entropy; Adam at Keras's defaults (lr 0.001, eps 1e-7); batch
128; 50 epochs (300 steps). Nothing is cut. The sigmoid output under Keras's binary cross-entropy is the
logits form here (``bce_with_logits``), the same function.
SYMPTOM: the loss stays at ln 2 = 0.693 and the validation accuracy near 0.5 (AutoTrainer's log: 0.49
at epoch 1, 0.43-0.56 over its first 100 epochs); the script hands the run to AutoTrainer's repair as a
dying-ReLU issue. Mechanism: weights of at most 0.05 over five inputs shrink the signal 20-30 times per
layer (mean activation 1e-2 after the first layer, about 1e-12 after the eighth), so every layer's
gradient is tiny, and a ReLU unit whose few live inputs all carry negative weights never fires: measured
on the training set at the end of a plain run, 27, 24 and 24 of the 40 hidden units output 0 for every
sample (seeds 0, 1, 2), whole layers among them.
FIX: AutoTrainer's first repair for a dying ReLU (``repair_strategy('balance')``: ``selu_1``): SELU
activations with LeCun-uniform kernels in every layer (its ``op_selu`` also draws the biases LeCun-uniform;
here they start at zero, as in this clinic's other AutoTrainer SELU repair). The output stays a sigmoid.
Run plainly (seed 0): validation accuracy 0.497, training loss 0.693 from the first epoch to the last;
fixed version 0.640 (seeds 1, 2: 0.490 / 0.707, 0.450 / 0.787). Each run under a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._simplednn import circle

SOURCE = ("AutoTrainer problem benchmark (github.com/shiningrain/AUTOTRAINER, "
          "DL_tools/code/DyingReLU/case14.py; log DL_tools/log/case14_circle/case14_circle.csv); "
          "data: AutoTrainer's simplednn circles, drawn with scikit-learn as they do")
SYMPTOM = ("the loss stays at 0.693 and the accuracy near 0.5: eight ReLU layers of five units from "
           "U(-0.05, 0.05) pass almost no signal and most of their units never fire")
FIX = ("SELU activations with LeCun-uniform kernels in every hidden layer (AutoTrainer's first dying-ReLU "
       "repair, selu_1)")
SPLIT = "heldout"
ROUND = 5
EXPECTED = frozenset({"dead_relu"})
ALLOWED = frozenset({"vanishing_gradients", "slow_convergence", "underfitting"})

HIDDEN = 8
WIDTH = 5


def _program(seed: int, act: type, init: str, out_init: str) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = circle(seed)
    layers: list[nn.Module] = [dense(2, WIDTH, init), act()]
    for _ in range(HIDDEN - 1):
        layers += [dense(WIDTH, WIDTH, init), act()]
    layers.append(dense(WIDTH, 1, out_init))  # the output sigmoid is inside the loss
    model = nn.Sequential(*layers)
    y_tr = y_tr.reshape(-1, 1).astype(np.float32)
    y_va = y_va.reshape(-1, 1).astype(np.float32)
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="bce_with_logits", epochs=50,
                   batch_size=128, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, nn.ReLU, "random_uniform", "glorot_uniform")


def fixed(seed: int) -> Program:
    return _program(seed, nn.SELU, "lecun_uniform", "lecun_uniform")
