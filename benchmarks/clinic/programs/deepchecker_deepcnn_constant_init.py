"""TheDeepChecker synthetic fault wrong_init/deepCNN_constant: a VGG-like network with every kernel at 0.01.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_init/deepCNN_constant.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs/wrong_init), derived
from its clean program clean_base_programs/deepCNN.py. The fault, as the file's docstring puts it: constant
weights leave the neurons' symmetry unbroken: ``init_cons = 0.01`` and ``tf.initializers.constant(0.01)``
for the six convolutions, the hidden dense layer and the logits layer, where the clean program has He-normal
kernels (and TensorFlow's default Glorot-uniform on the logits). The network as the faulty file builds it:
six 3x3 'same' ReLU convolutions without biases (32, 32, 64, 64, 64, 64 filters; the clean program has 128
in the last pair), a batch normalization after every ReLU (TensorFlow's momentum 0.99, eps 1e-3:
``BatchNorm2d(momentum=0.01, eps=1e-3)`` here), max-pooling 2x2 and dropout 0.2 / 0.3 / 0.4 after each
pair; ``Flatten``, ``Dense(128)`` + ReLU (zero bias), batch normalization, dropout 0.5, ``Dense(10)`` (zero
bias); softmax cross-entropy on the logits (``tf.losses.softmax_cross_entropy``);
``MomentumOptimizer(learning_rate=0.001, momentum=0.9)``, as the clean program. CIFAR-10 needs a download:
here, as in the other deepCNN ports, scikit-learn's 8x8 digits in [0, 1], one channel (N, 1, 8, 8), which
the 'same' convolutions and three poolings take down to 1x1 (``Flatten`` gives 64 features); 600 held out
for validation; batch 64 (its loaders batch the data themselves; the size is not in the program), 20 epochs
(380 steps). Cut: CIFAR-10's 32x32x3 images and the checker's own run length.
SYMPTOM: the constant initialization does not break the units' symmetry: every filter of a layer computes
the same map, so each layer has one feature's capacity and the network learns far less than the clean one
(the benchmark's file states the intent, not a run; what the ported code shows is below).
FIX: the clean program's initialization: He-normal kernels for the convolutions and the hidden dense layer,
Glorot-uniform for the logits layer; the network (64 filters in the last pair), optimizer and data unchanged.
Mechanism: with one constant in every kernel, all output channels of a convolution are the same map, the
batch normalizations (all gammas 1, betas 0) keep them equal, and each unit of the next layer sums equal
inputs with equal weights; the gradients of identical units are identical, so momentum SGD moves them
together. Only the dropout masks, drawn per unit, make the copies differ, a little at each step; the logits
layer gets one column per class from the targets but reads what is, in effect, a single hidden feature.
Run plainly (seeds 0, 1, 2): validation accuracy 0.102 / 0.087 / 0.098, chance (training loss, under the
dropouts, 2.25-2.26 in the first epoch and 2.12-2.14 in the twentieth); fixed version 0.908 / 0.908 / 0.938
(training loss 3.51-3.61 to 0.50-0.59). Each run 12-20 seconds on one CPU thread.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import split

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_init/deepCNN_constant.py (CIFAR-10 -> sklearn "
          "digits in [0, 1], 8x8, one channel)")
SYMPTOM = ("every kernel initialized to the constant 0.01: the units of each layer stay copies of one "
           "another and the network learns far less than the clean program")
FIX = "the clean program's He-normal kernels (Glorot-uniform on the logits layer)"
SPLIT = "heldout"
ROUND = 16
EXPECTED = frozenset({"symmetric_units"})
ALLOWED = frozenset({"underfitting", "slow_convergence"})

N_VAL = 600
EPOCHS, BATCH = 20, 64
INIT_CONSTANT = 0.01


def _init(layer: nn.Module, bug: bool) -> None:
    if bug:
        nn.init.constant_(layer.weight, INIT_CONSTANT)  # tf.initializers.constant(0.01)
    else:
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")  # tf.initializers.he_normal()


def _block(in_channels: int, out_channels: int, bug: bool) -> list[nn.Module]:
    """``tf.layers.conv2d(filters, 3x3, 'same', relu, use_bias=False)`` followed by a batch normalization."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    _init(conv, bug)
    return [conv, nn.ReLU(), nn.BatchNorm2d(out_channels, momentum=0.01, eps=1e-3)]


def _program(seed: int, bug: bool) -> Program:
    x, y = rp.data.load_digits()
    images = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_train, y_train, x_val, y_val = split(images, y.astype(np.int64), seed, N_VAL)
    rp.manual_seed(seed)
    features = [*_block(1, 32, bug), *_block(32, 32, bug), nn.MaxPool2d(2), nn.Dropout(0.2),
                *_block(32, 64, bug), *_block(64, 64, bug), nn.MaxPool2d(2), nn.Dropout(0.3),
                *_block(64, 64, bug), *_block(64, 64, bug), nn.MaxPool2d(2), nn.Dropout(0.4)]
    hidden = nn.Linear(64, 128)
    _init(hidden, bug)
    nn.init.zeros_(hidden.bias)
    logits = nn.Linear(128, 10)
    if bug:
        nn.init.constant_(logits.weight, INIT_CONSTANT)
    else:
        nn.init.xavier_uniform_(logits.weight)  # tf.layers.dense's default kernel initializer
    nn.init.zeros_(logits.bias)
    model = nn.Sequential(*features, nn.Flatten(), hidden, nn.ReLU(),
                          nn.BatchNorm1d(128, momentum=0.01, eps=1e-3), nn.Dropout(0.5), logits)
    optimizer = rp.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
