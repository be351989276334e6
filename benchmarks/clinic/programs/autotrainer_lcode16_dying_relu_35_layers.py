"""AutoTrainer L-code dying-ReLU case 16: thirty-five ReLU layers of 128 units on MNIST, trained by Adam.

SOURCE: AutoTrainer (github.com/shiningrain/AUTOTRAINER, commit 8a7d864 and earlier; the ``DL_tools`` folder
was later removed from the repository), ``DL_tools/code/L-code/dying_relu/case-16-dying_relu/case_16.py``,
among the problem programs its authors collected for each training problem (the folder names the problem:
dying ReLU). The program: MNIST flattened to 784 inputs and divided by 255; one-hot labels;
``n_layers = 35`` times ``Dense(128)`` + ``Activation('relu')`` (``activation='relu'#'selu'``), then
``Dense(10, activation='softmax')`` (Keras defaults: Glorot-uniform kernels, zero biases); categorical
cross-entropy; ``Adam()`` at Keras's defaults (lr 0.001, eps 1e-7); batch 32; 50 epochs; validated on the
test set. MNIST needs a download: here scikit-learn's bundled 8x8 digits blown up to 28x28 (784 inputs) on
[0, 1] (``digits_784(seed, 1/16)``), 600 of them held out for validation, as in this clinic's port of the
sibling gradient-vanish case 16. The softmax output under Keras's categorical cross-entropy is
``cross_entropy`` on the logits here, the same function. Cut: 15 epochs (1,197 training images, 38 steps
an epoch).
SYMPTOM: the folder's problem: the ReLU units of the deep plain stack die, and the network does not learn
(the loss stays near ln 10).
FIX: AutoTrainer's batch-normalization repair for a dying ReLU (``bn_1`` in its dying-ReLU strategies;
``op_bn``/``BN_network`` insert a ``BatchNormalization()`` after every Dense layer but the last, which in this
program puts it between each hidden ``Dense(128)`` and its ``Activation('relu')``; the program's
``create_Layer`` also carries a commented-out ``BatchNormalization`` line): Keras's ``BatchNormalization()``
(momentum 0.99, eps 1e-3) after each of the 35 hidden ``Dense(128)``; activations, kernels, optimizer, batch
and epochs unchanged.
Mechanism: a Glorot-uniform kernel over 128 ReLU inputs keeps half the signal's second moment per layer, so
after 35 layers the input's trace is about 2^-35 of its size, smaller than the biases Adam moves by about
1e-3 a step: the units' outputs stop depending on the image, many are pushed below zero for every input and
stay dead, and no gradient reaches the first layers.
Run plainly (seeds 0, 1, 2): validation accuracy 0.230 / 0.087 / 0.083 (training loss 2.30 in the first
epoch, 1.71 / 2.30 / 2.30 in the fifteenth: seeds 1 and 2 never leave ln 10); at the end of the run 35-126 of
the 128 units of each ReLU layer output 0 for every training image (seed 1: 3 in the first layer, 112 to 126
in the last five). Fixed version 0.458 / 0.530 / 0.453 (training loss 2.55 -> 1.54-1.72, still falling: the
35-layer stack is slow to train even when normalized, and the program's 50 epochs are cut to 15). Each run
about five seconds.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._qa_common import digits_784

SOURCE = ("AutoTrainer problem benchmark (github.com/shiningrain/AUTOTRAINER at 8a7d864, "
          "DL_tools/code/L-code/dying_relu/case-16-dying_relu/case_16.py); data: scikit-learn's 8x8 digits "
          "enlarged to 28x28 on [0, 1] instead of MNIST")
SYMPTOM = "the ReLU units of a 35-layer plain stack die; the loss stays near ln 10"
FIX = ("BatchNormalization after each hidden Dense, before its ReLU (AutoTrainer's repair bn_1, "
       "op_bn)")
SPLIT = "heldout"
ROUND = 18
EXPECTED = frozenset({"dead_relu"})
ALLOWED = frozenset({"vanishing_gradients", "underfitting", "slow_convergence"})

N_LAYERS, WIDTH = 35, 128
EPOCHS, BATCH = 15, 32


def _program(seed: int, batchnorm: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1.0 / 16.0)
    rp.manual_seed(seed)
    layers: list[nn.Module] = []
    width_in = 784
    for _ in range(N_LAYERS):
        layers.append(dense(width_in, WIDTH))
        if batchnorm:  # Keras BatchNormalization(): momentum 0.99, epsilon 1e-3
            layers.append(nn.BatchNorm1d(WIDTH, eps=1e-3, momentum=0.01))
        layers.append(nn.ReLU())
        width_in = WIDTH
    model = nn.Sequential(*layers, dense(WIDTH, 10))  # softmax in the loss
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, batchnorm=False)


def fixed(seed: int) -> Program:
    return _program(seed, batchnorm=True)
