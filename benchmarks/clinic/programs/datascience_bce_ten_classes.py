"""Data Science SE: MNIST's ten classes fed to one sigmoid unit under binary cross-entropy, on raw pixels.

SOURCE:
https://datascience.stackexchange.com/questions/38604/too-low-accuracy-on-mnist-dataset-using-a-neural-network
("Too low accuracy on MNIST dataset using a neural network"). Raw MNIST pixels (0-255, reshaped to 784),
``Dense(64, relu)``, ``Dense(1, sigmoid)``, Adam (lr 0.001), ``binary_crossentropy`` against the digit
labels 0-9, batch 32, 10 epochs, ``validation_split=0.33``. MNIST (needs a download) is replaced by
scikit-learn's digits enlarged to 28x28 (784 inputs) at the raw 0-255 scale. Keras's sigmoid output with
binary cross-entropy is retroprop's logit output with BCEWithLogitsLoss; its accuracy is Keras's binary
accuracy (the rounded sigmoid equals the label), reproduced by the module's ``accuracy`` metric. Keras
clips the sigmoid to [1e-7, 1 - 1e-7], which
freezes its loss near -55; retroprop's loss on the logit has no floor, so the same fault shows as a loss
falling without bound while accuracy stays at chance.
SYMPTOM: a negative loss (-55) that stops changing after the first epoch; accuracy about 11 %.
FIX: the answers: ten output units with softmax and (sparse) categorical cross-entropy, and the pixels
divided by 255.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, digits_784

SOURCE = "https://datascience.stackexchange.com/questions/38604 (MNIST -> sklearn digits at 0-255, 28x28)"
SYMPTOM = "negative, frozen loss; accuracy about 11 %"
FIX = "ten softmax outputs with categorical cross-entropy; pixels divided by 255"
SPLIT = "heldout"
EXPECTED = ["loss_output_mismatch"]
ALLOWED = ["unscaled_inputs", "exploding_gradients", "dead_relu", "unstable_loss", "slow_convergence",
           "underfitting"]


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Keras's binary accuracy: the rounded sigmoid of the output equals the label."""
    rounded = (np.asarray(y_pred).reshape(-1) > 0).astype(np.float32)
    return float((rounded == np.asarray(y_true).reshape(-1)).mean())


def _program(seed: int, buggy: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 16.0 if buggy else 1.0 / 16)
    rp.manual_seed(seed)
    if buggy:
        model = nn.Sequential(dense(784, 64), nn.ReLU(), dense(64, 1))
        y_train, y_val = (y.astype(np.float32).reshape(-1, 1) for y in (y_train, y_val))
        loss, options = nn.BCEWithLogitsLoss(), {"metrics": [accuracy]}
    else:
        model = nn.Sequential(dense(784, 64), nn.ReLU(), dense(64, 10))
        loss, options = nn.CrossEntropyLoss(), {}
    return Program(model, rp.optim.Adam(model.parameters(), lr=0.001), x_train, y_train, x_val, y_val,
                   loss=loss, epochs=10, batch_size=32, fit_options=options)


def buggy(seed: int) -> Program:
    return _program(seed, buggy=True)


def fixed(seed: int) -> Program:
    return _program(seed, buggy=False)
