"""AutoTrainer L-code gradient-vanish case 16: twenty sigmoid layers of 128 units on MNIST, trained by Adam.

SOURCE: AutoTrainer (github.com/shiningrain/AUTOTRAINER, commit 8a7d864 and earlier; the ``DL_tools`` folder
was later removed from the repository), ``DL_tools/code/L-code/gradient_vanish/case-16-gradient_vanish/
case_16.py``, among the problem programs its authors collected for each training problem (the folder names
the problem: gradient vanish). The program: MNIST flattened to 784 inputs and divided by 255; one-hot
labels; ``n_layers = 20`` times ``Dense(128)`` + ``Activation('sigmoid')`` (the line reads
``activation='sigmoid'#'tanh'#'relu'``), then ``Dense(10, activation='softmax')`` (Keras defaults:
Glorot-uniform kernels, zero biases); categorical cross-entropy; ``Adam()`` at Keras's defaults (lr 0.001,
eps 1e-7); batch 32; 50 epochs; validated on the test set. MNIST needs a download: here scikit-learn's
bundled 8x8 digits blown up to 28x28 (784 inputs) on [0, 1] (``digits_784(seed, 1/16)``), 600 of them held
out for validation. The softmax output under Keras's categorical cross-entropy is ``cross_entropy`` on the
logits here, the same function. Cut: 15 epochs (1,197 training images, 38 steps an epoch).
SYMPTOM: the folder's problem: the gradient vanishes through the twenty sigmoid layers (each sigmoid's
derivative is at most 1/4), so the early layers barely learn and the loss stays near ln 10.
FIX: AutoTrainer's first repair for a vanishing gradient (``repair_strategy('balance')``: ``selu_1``,
``op_selu``): SELU activations with LeCun-uniform kernels in every hidden layer (its ``op_selu`` also draws
the biases LeCun-uniform; here they start at zero, as in this clinic's other AutoTrainer SELU repairs). The
output stays a softmax; optimizer, batch and epochs unchanged.
Run plainly (seeds 0, 1, 2): validation accuracy 0.115 / 0.088 / 0.098 (the training loss 2.34-2.35 in
the first epoch, 2.31-2.32 in the last: ln 10 = 2.30, chance); fixed version 0.892 / 0.928 / 0.915
(training loss 0.25-0.38 in the last epoch). Each run two to three seconds.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._qa_common import digits_784

SOURCE = ("AutoTrainer problem benchmark (github.com/shiningrain/AUTOTRAINER at 8a7d864, "
          "DL_tools/code/L-code/gradient_vanish/case-16-gradient_vanish/case_16.py); data: scikit-learn's "
          "8x8 digits enlarged to 28x28 on [0, 1] instead of MNIST")
SYMPTOM = "the gradient vanishes through twenty sigmoid layers; the loss stays near ln 10"
FIX = "SELU activations with LeCun-uniform kernels in the hidden layers (AutoTrainer's repair selu_1)"
SPLIT = "heldout"
ROUND = 7
EXPECTED = frozenset({"vanishing_gradients"})
ALLOWED = frozenset({"saturated_activations", "underfitting", "slow_convergence"})

N_LAYERS, WIDTH = 20, 128
EPOCHS, BATCH = 15, 32


def _program(seed: int, selu: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1.0 / 16.0)
    rp.manual_seed(seed)
    layers: list[nn.Module] = []
    width_in = 784
    for _ in range(N_LAYERS):
        if selu:
            layers += [dense(width_in, WIDTH, "lecun_uniform"), nn.SELU()]
        else:
            layers += [dense(width_in, WIDTH), nn.Sigmoid()]
        width_in = WIDTH
    model = nn.Sequential(*layers, dense(WIDTH, 10))  # softmax in the loss
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, selu=False)


def fixed(seed: int) -> Program:
    return _program(seed, selu=True)
