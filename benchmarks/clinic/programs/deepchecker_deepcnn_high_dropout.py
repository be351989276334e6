"""TheDeepChecker synthetic fault over_regulariaztion/deepCNN_over_reg: dropout 0.5 after every convolution
pair's first layer and at every pooling of a VGG-like network.

SOURCE: TheDeepChecker, buggy_synthetic_programs/over_regulariaztion/deepCNN_over_reg.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean program clean_base_programs/deepCNN.py. The fault, as the file's docstring says: "as the deepCNN uses
advanced regularization, we set up a high dropout rate in a way that hinders the learning". The clean
network (VGG-like): six 3x3 'same' convolutions without bias (32, 32, 64, 64, 128, 128 filters), each ReLU
then batch normalization, max-pooling 2x2 and dropout 0.2 / 0.3 / 0.4 after each pair; ``Flatten``,
``Dense(128)`` + ReLU, batch normalization, dropout 0.5, ``Dense(10)``; kernels ``he_normal``
(TensorFlow's truncated normal of std sqrt(2 / fan_in) / 0.8796), the output layer TensorFlow's default
Glorot-uniform with a zero bias; softmax cross-entropy on the logits; ``MomentumOptimizer(0.001,
momentum=0.9)``; CIFAR-10 scaled by the benchmark's loader. The buggy program adds ``dropout(rate=0.5)``
after the first convolution of each pair (after its batch normalization) and raises the three pooling
dropouts to 0.5: seven dropout layers of rate 0.5 in all. The batch normalization is TensorFlow's (momentum
0.99, eps 1e-3): ``BatchNorm2d(momentum=0.01, eps=1e-3)`` here. CIFAR-10 needs a download: here
scikit-learn's 8x8 digits in [0, 1], one channel (N, 1, 8, 8), which the 'same' convolutions and three
poolings take down to 1x1 (so ``Flatten`` gives 128 features); 600 held out for validation. As in the
other TheDeepChecker ports: batch 64 (its loaders batch the data themselves; the size is not in the
program), 20 epochs (380 steps).
SYMPTOM: the dropout is so high that it hinders the learning: the loss falls slowly and the accuracy stays
well below the clean program's.
FIX: the clean program's dropout: none after the convolutions, 0.2 / 0.3 / 0.4 at the poolings (0.5 before
the output layer in both).
Run plainly (seeds 0, 1, 2): validation accuracy 0.085 / 0.112 / 0.107: the network learns nothing in
the 380 steps (training loss 3.65 in the first epoch, 2.64 / 2.71 / 2.47 in the last, above ln 10 = 2.30;
seed 0's training accuracy, under its dropout, 0.124 in the last epoch, and 0.106 when the trained model is
evaluated on its own training data); fixed version 0.943 / 0.938 / 0.937 (training loss 3.4-3.6 to
0.37-0.42). Each run about 15 seconds on one free CPU thread.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import normal_init, split

SOURCE = ("TheDeepChecker buggy_synthetic_programs/over_regulariaztion/deepCNN_over_reg.py "
          "(CIFAR-10 -> sklearn digits in [0, 1], 8x8, one channel)")
SYMPTOM = ("a dropout rate so high that it hinders the learning: the accuracy stays well below the clean "
           "program's")
FIX = "the clean program's dropout (none after the convolutions; 0.2 / 0.3 / 0.4 at the poolings)"
SPLIT = "heldout"
ROUND = 9
EXPECTED = frozenset({"dropout_too_high"})
ALLOWED = frozenset({"underfitting", "slow_convergence", "unstable_loss"})

N_VAL = 600
EPOCHS, BATCH = 20, 64
TRUNCATED_STD = 0.87962566103423978  # std of a unit normal truncated at 2 standard deviations


def _he_normal(fan_in: int) -> Any:
    """TensorFlow's ``he_normal``: a normal of std sqrt(2 / fan_in) truncated at two standard deviations,
    its std corrected for the truncation."""
    return normal_init(math.sqrt(2.0 / fan_in) / TRUNCATED_STD, truncated=True)


def _conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """``tf.layers.conv2d(filters, 3x3, padding='same', use_bias=False, he_normal)``."""
    layer = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    _he_normal(in_channels * 9)(layer.weight)
    return layer


def _program(seed: int, bug: bool) -> Program:
    x, y = rp.data.load_digits()
    images = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_train, y_train, x_val, y_val = split(images, y.astype(np.int64), seed, N_VAL)

    def pair(in_channels: int, out_channels: int) -> list[nn.Module]:
        first = [_conv(in_channels, out_channels), nn.ReLU(),
                 nn.BatchNorm2d(out_channels, momentum=0.01, eps=1e-3)]
        if bug:
            first.append(nn.Dropout(0.5))  # the added dropout after the pair's first convolution
        second = [_conv(out_channels, out_channels), nn.ReLU(),
                  nn.BatchNorm2d(out_channels, momentum=0.01, eps=1e-3)]
        return first + second

    rates = (0.5, 0.5, 0.5) if bug else (0.2, 0.3, 0.4)
    rp.manual_seed(seed)
    head = nn.Linear(128, 10, init="xavier_uniform")
    nn.init.zeros_(head.bias)
    hidden = nn.Linear(128, 128, init=_he_normal(128))
    nn.init.zeros_(hidden.bias)
    model = nn.Sequential(*pair(1, 32), nn.MaxPool2d(2), nn.Dropout(rates[0]),
                          *pair(32, 64), nn.MaxPool2d(2), nn.Dropout(rates[1]),
                          *pair(64, 128), nn.MaxPool2d(2), nn.Dropout(rates[2]),
                          nn.Flatten(), hidden, nn.ReLU(), nn.BatchNorm1d(128, momentum=0.01, eps=1e-3),
                          nn.Dropout(0.5), head)
    optimizer = rp.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
