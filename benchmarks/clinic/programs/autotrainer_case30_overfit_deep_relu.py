"""AutoTrainer DL_tools case 30 (overfitting): seven ReLU layers of 64 units, 1000 epochs on 700 points.

SOURCE: AutoTrainer (github.com/shiningrain/AUTOTRAINER), ``DL_tools/code/Overfit/case30.py``, the benchmark
of problem programs its authors built for each training problem (the folder names the problem:
overfitting). The program: ``simplednn`` circles (``load_data()``: 700 training and 300 validation points in
[-1, 1]); seven ``Dense(64, activation='relu', kernel_initializer='he_uniform')`` (zero biases), then
``Dense(1, activation='sigmoid', kernel_initializer='he_uniform')``; binary cross-entropy; Adam at Keras's
defaults (lr 0.001, eps 1e-7); batch 512; 1000 epochs (2,000 steps). Nothing is cut. The file as stored
tries one of the remedies its comments list (early stopping, regularizers, dropout, Gaussian noise): a
``GaussianNoise(0.1)`` layer on the input, logged as ``case30_GN``; the buggy version here is the model
without it, the overfitting case the remedies are tried on. The sigmoid output under Keras's binary
cross-entropy is the logits form here (``bce_with_logits``), the same function.
SYMPTOM: the file's comment: "a simple model for the two-circles problem, whose accuracy is hard to raise
above about 0.8". Mechanism: 25,000 parameters fit to 700 noisy points for 2,000 steps memorize the noise:
the training loss keeps falling (0.32-0.35 at epoch 100, 0.20-0.27 at the end, seeds 0-2) while the
validation loss climbs from 0.36-0.41 at epoch 100 to 0.60-0.69, and the validation accuracy falls from
0.81-0.86 to 0.76-0.83.
FIX: AutoTrainer's first repair for overfitting (``repair_strategy('balance')``: ``regular_1``,
``modify_regularizer``): an L2 penalty of 0.01 times the sum of squared kernel weights in every layer but
the last (Keras's ``l2(0.01)``; here Adam's ``weight_decay`` 0.02 on those kernels, the same gradient).
Run plainly (seed 0): validation accuracy 0.760 (validation loss 0.596, training loss 0.268); fixed
version 0.850 (validation loss 0.357). Seeds 1, 2: 0.797 / 0.803 (not reproduced in accuracy; validation
loss 0.669 against 0.397) and 0.827 / 0.870. Each run about 9 s on an idle core (15-18 s on a
busy machine): the 1000 epochs are kept, as fewer weaken the overfitting (at epoch 800 the buggy runs are
2-7 points behind the fixed ones on seeds 0 and 2).
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._simplednn import circle

SOURCE = ("AutoTrainer problem benchmark (github.com/shiningrain/AUTOTRAINER, "
          "DL_tools/code/Overfit/case30.py, "
          "without the GaussianNoise remedy it was trying); data: AutoTrainer's simplednn circles, drawn "
          "with scikit-learn as they do")
SYMPTOM = ("the validation accuracy stays near 0.8 and falls while the training loss keeps falling: a "
           "7x64 ReLU network trained 1000 epochs on 700 noisy points")
FIX = ("an L2 penalty l2(0.01) on every kernel but the output layer's (AutoTrainer's first overfitting "
       "repair, regular_1)")
SPLIT = "heldout"
ROUND = 5
EXPECTED = frozenset({"overfitting"})
ALLOWED: frozenset[str] = frozenset()

HIDDEN = 7
WIDTH = 64
L2 = 0.01  # Keras's l2(0.01): the loss gains L2 * sum(w ** 2), whose gradient is 2 * L2 * w


def _program(seed: int, l2: float) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = circle(seed)
    hidden = [dense(2, WIDTH, "he_uniform")] + [dense(WIDTH, WIDTH, "he_uniform") for _ in range(HIDDEN - 1)]
    layers: list[nn.Module] = []
    for layer in hidden:
        layers += [layer, nn.ReLU()]
    layers.append(dense(WIDTH, 1, "he_uniform"))  # the output sigmoid is inside the loss
    model = nn.Sequential(*layers)
    y_tr = y_tr.reshape(-1, 1).astype(np.float32)
    y_va = y_va.reshape(-1, 1).astype(np.float32)
    if l2:
        kernels = [layer.weight for layer in hidden]
        others = [p for p in model.parameters() if all(p is not k for k in kernels)]
        groups = [{"params": kernels, "weight_decay": 2.0 * l2}, {"params": others}]
        optimizer = rp.optim.Adam(groups, lr=1e-3, eps=1e-7)
    else:
        optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="bce_with_logits", epochs=1000,
                   batch_size=512, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, l2=0.0)


def fixed(seed: int) -> Program:
    return _program(seed, l2=L2)
