"""UMLAUT user-study program B: a CIFAR-10 CNN with no activation anywhere, trained by Adam at a learning
rate of -1000.

SOURCE: UMLAUT (Schoop, Huang and Hartmann, CHI 2021; github.com/BerkeleyHCI/umlaut), ``user_eval/eval_b.py``,
one of the two buggy programs of its user evaluation; the repository's ``umlaut_example.py`` carries the
same bugs with the fixes as comments. The program: CIFAR-10 divided by 255; ``Conv2D(64, 3)``,
``Conv2D(64, 3)``, ``MaxPool2D(2)``, ``Dropout(0.2)``, ``Conv2D(128, 3)``, ``Conv2D(128, 3)``,
``MaxPool2D(2)``, ``Dropout(0.2)``, ``Flatten``, ``Dense(128)``, ``Dense(128)``, ``Dropout(0.2)``,
``Dense(10)``, every layer ``activation='linear'`` (Keras's defaults: Glorot-uniform kernels, zero biases,
'valid' convolutions); ``SparseCategoricalCrossentropy(from_logits=True)``;
``Adam(learning_rate=-1e3)``; batch 128; 10 epochs; validated on ``train_images[:100]``, the first 100
training images. A negative rate turns Adam's step around: it climbs the loss, 1000 times Adam's usual
step size. ``fit`` refuses a negative rate, so the port writes the same update as
``Adam(lr=1e3, maximize=True)`` (Keras's eps 1e-7). CIFAR-10 needs a download: here scikit-learn's bundled
8x8 digits enlarged 2x to 16x16 (one channel), divided by 255 after being put on CIFAR's 0-255 scale (so in
[0, 1]), the smallest image this stack of four 3x3 'valid' convolutions and two poolings can take (16 -> 14
-> 12 -> 6 -> 4 -> 2 -> 1, so ``Flatten`` gives 128 features). The buggy program trains on all 1,797 images
and validates on the first 100 of them, as the original; the fixed one holds out 20 % (360) with
``validation_split=0.2``. Nothing else is cut: 10 epochs of batch 128.
SYMPTOM: the loss explodes and the accuracy stays at chance (UMLAUT's study asked its users to find why).
FIX: ``umlaut_example.py``'s comments: ``activation='relu'`` on the convolutions and the hidden dense
layers, a positive learning rate (Adam's default 0.001), and ``validation_split=0.2`` instead of validating
on training images; architecture, loss, batch and epochs unchanged.
Run plainly (seeds 0, 1, 2): validation accuracy 0.090 / 0.110 / 0.080 on its 100 training images (the
training loss is 4e29 to 1e32 from the first epoch on, finite); fixed version 0.981 / 0.975 / 0.969 (the
same program as UMLAUT program A's fixed version). Each run about 15-20 seconds on one CPU thread (the
convolutions of 64-128 channels cost about 0.15 s per step of 128 images).
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from .umlaut_evala_raw_pixels_dropout08_probability_loss import _conv, images

SOURCE = ("UMLAUT user evaluation program B (github.com/BerkeleyHCI/umlaut, user_eval/eval_b.py; fixes in "
          "umlaut_example.py's comments); data: scikit-learn's 8x8 digits enlarged to 16x16, / 255, "
          "instead of CIFAR-10")
SYMPTOM = ("the loss explodes and the accuracy stays at chance: every layer is linear and Adam's learning "
           "rate is -1000 (a climb up the loss)")
FIX = ("activation='relu' on the hidden layers, Adam's default learning rate 0.001, and validation_split=0.2 "
       "(umlaut_example.py's comments)")
SPLIT = "heldout"
ROUND = 8
EXPECTED = frozenset({"gradient_ascent", "missing_nonlinearity"})
ALLOWED = frozenset({"non_finite", "exploding_gradients", "unstable_loss", "underfitting"})

N_VAL = 360  # validation_split=0.2 of the 1,797 images
EPOCHS, BATCH = 10, 128


def _program(seed: int, bug: bool) -> Program:
    if bug:
        x_train, y_train, _, _ = images(seed, 0)  # every image, in the seed's order
        x_val, y_val = x_train[:100], y_train[:100]  # validation_data=(train_images[:100], ...)
    else:
        x_train, y_train, x_val, y_val = images(seed, N_VAL)
    x_train, x_val = x_train / 255.0, x_val / 255.0

    def act() -> list[nn.Module]:
        return [] if bug else [nn.ReLU()]

    rp.manual_seed(seed)
    model = nn.Sequential(_conv(1, 64), *act(), _conv(64, 64), *act(), nn.MaxPool2d(2), nn.Dropout(0.2),
                          _conv(64, 128), *act(), _conv(128, 128), *act(), nn.MaxPool2d(2), nn.Dropout(0.2),
                          nn.Flatten(), dense(128, 128), *act(), dense(128, 128), *act(), nn.Dropout(0.2),
                          dense(128, 10))
    if bug:  # Adam(learning_rate=-1e3): the same update as a rate of 1e3 that maximizes the loss
        optimizer = rp.optim.Adam(model.parameters(), lr=1e3, eps=1e-7, maximize=True)
    else:
        optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x_train.astype(np.float32), y_train, x_val.astype(np.float32), y_val,
                   loss="cross_entropy", epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
