"""AutoTrainer's L-code gradient-vanish case 15: ten sigmoid layers of five units on the circles, Keras's
default init.

SOURCE: AutoTrainer (github.com/shiningrain/AUTOTRAINER, commit 8a7d864 and earlier; the ``DL_tools`` folder
was later removed from the repository), ``DL_tools/code/L-code/gradient_vanish/case-15-gradient_vanish/
case_15.py``, among the problem programs its authors collected for each training problem (the folder names
the problem: gradient vanish). The program: ``make_circles(n_samples=1000, noise=0.1, random_state=1)``,
min-max scaled to [-1, 1], the first 800 points for training and the last 200 for validation; ``n_layer =
10`` times ``Dense(5, activation='sigmoid')`` (Keras's default Glorot-uniform kernels, zero biases), then
``Dense(1, activation='sigmoid')``; binary cross-entropy; ``Adam()`` (Keras's defaults: lr 0.001, epsilon
1e-7); batch 32 (Keras's default); 200 epochs. Nothing is replaced or cut: the data are drawn as there (the
seed changes the initialization and the batches only). The sigmoid output under Keras's binary
cross-entropy is the logits form here (``bce_with_logits``), the same function. (The file also defines an
unused residual variant of the stack.)
SYMPTOM: the folder's name: the gradient vanishes; the network stays at chance (the ported run's loss sits
at ln 2 = 0.693 and the accuracy at the majority share; see below).
FIX: the line the program leaves commented out in its layer loop, ``x = BatchNormalization()(x)`` before
each ``Dense`` (Keras's momentum 0.99, epsilon 1e-3: ``BatchNorm1d(momentum=0.01, eps=1e-3)`` here); the
sigmoids, init, optimizer and data unchanged.
Mechanism: a sigmoid's derivative is at most 1/4 and a Glorot-uniform 5 x 5 kernel has weight variance 1/5,
so each layer passes on well under a tenth of the gradient it receives: ten layers leave the first ones
with ~1e-10 of the output layer's gradient, and the sigmoids' outputs, squeezed around 0.5, carry almost
nothing of the input to the top. Normalizing each layer's inputs keeps them spread across the sigmoid's
slope and the signal alive in both directions.
Run plainly (seeds 0, 1, 2): validation accuracy 0.485 / 0.485 / 0.485, the majority share (training loss
0.70-0.71 in the first epoch, 0.6932 = ln 2 in the last); fixed version 0.830 / 0.805 / 0.850 (training
loss 0.70-0.77 to 0.45; the noise of 0.1 caps the circles near 0.85). Each run 3 (buggy) to 7 (fixed)
seconds.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("AutoTrainer (github.com/shiningrain/AUTOTRAINER at 8a7d864, DL_tools/code/L-code/gradient_vanish/"
          "case-15-gradient_vanish/case_15.py); data generated as there (make_circles, random_state=1)")
SYMPTOM = "ten sigmoid layers of five units: the gradient vanishes and the network stays at chance"
FIX = "BatchNormalization before each Dense layer, the line the program leaves commented out"
SPLIT = "heldout"
ROUND = 17
EXPECTED = frozenset({"vanishing_gradients"})
ALLOWED = frozenset({"saturated_activations", "slow_convergence", "underfitting"})

N_LAYERS, WIDTH, N_TRAIN = 10, 5, 800
EPOCHS, BATCH = 200, 32


def _circles() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import make_circles
    from sklearn.preprocessing import MinMaxScaler

    x, y = make_circles(n_samples=1000, noise=0.1, random_state=1)
    x = MinMaxScaler(feature_range=(-1, 1)).fit_transform(x).astype(np.float32)
    y = y.astype(np.float32).reshape(-1, 1)
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def _program(seed: int, batch_norm: bool) -> Program:
    x_train, y_train, x_val, y_val = _circles()
    rp.manual_seed(seed)
    layers: list[nn.Module] = []
    width_in = 2
    for _ in range(N_LAYERS):
        if batch_norm:
            layers.append(nn.BatchNorm1d(width_in, momentum=0.01, eps=1e-3))
        layers += [dense(width_in, WIDTH), nn.Sigmoid()]
        width_in = WIDTH
    model = nn.Sequential(*layers, dense(WIDTH, 1))
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="bce_with_logits", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, batch_norm=False)


def fixed(seed: int) -> Program:
    return _program(seed, batch_norm=True)
