"""TheDeepChecker synthetic fault missing_batchnorm/deepCNN_miss_batchnorm: a VGG-like network with every
batch normalization removed, trained by the clean program's slow momentum SGD.

SOURCE: TheDeepChecker, buggy_synthetic_programs/missing_batchnorm/deepCNN_miss_batchnorm.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean program clean_base_programs/deepCNN.py. The fault, as the file's docstring says: "we remove the
batchnorm layers which are necessary to stabilize the learning". The buggy network: six 3x3 'same'
ReLU convolutions with biases (32, 32, 64, 64, 64, 64 filters; the last pair has 64 where the clean
program has 128), ``he_uniform`` kernels and zero biases, max-pooling 2x2 and dropout 0.2 / 0.3 / 0.4 after
each pair; ``Flatten``, ``Dense(128)`` + ReLU (``he_uniform``), dropout 0.5, ``Dense(10)`` (Glorot-uniform,
zero bias); no batch normalization anywhere; softmax cross-entropy on the logits;
``MomentumOptimizer(0.001, momentum=0.9)``. The clean program: the same pairs without biases, 128 filters
in the last pair, ``he_normal`` kernels (TensorFlow's truncated normal of std sqrt(2 / fan_in) / 0.8796), a
batch normalization (TensorFlow's momentum 0.99, eps 1e-3: ``BatchNorm2d(momentum=0.01, eps=1e-3)`` here)
after every ReLU of the convolutions and of the dense layer, the same optimizer. CIFAR-10 needs a download:
here scikit-learn's 8x8 digits in [0, 1], one channel (N, 1, 8, 8), which the 'same' convolutions and three
poolings take down to 1x1 (so ``Flatten`` gives 64 or 128 features); 600 held out for validation. As in
the other TheDeepChecker ports: batch 64 (its loaders batch the data themselves; the size is not in the
program), 20 epochs (380 steps).
SYMPTOM: without the batch normalizations the deep network learns far more slowly under the small learning
rate: the loss stays near its start and the accuracy far below the clean program's.
FIX: the clean program (batch normalization after every ReLU; he_normal kernels without biases).
Run plainly (seeds 0, 1, 2): validation accuracy 0.680 / 0.633 / 0.530 (training loss, under the
dropouts, 2.76-2.83 in the first epoch and still 2.06 / 2.24 / 2.24 in the twentieth; seed 0's trained model
scores 0.72 on its own training data); fixed version 0.923 / 0.955 / 0.945 (training loss 3.5-3.6 to
0.41-0.45). Each run about 15 seconds on one free CPU thread.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import normal_init, split

SOURCE = ("TheDeepChecker buggy_synthetic_programs/missing_batchnorm/deepCNN_miss_batchnorm.py "
          "(CIFAR-10 -> sklearn digits in [0, 1], 8x8, one channel)")
SYMPTOM = ("without its batch normalizations the deep network barely learns under momentum SGD at lr 0.001: "
           "the accuracy stays far below the clean program's")
FIX = "the clean program: a batch normalization after every ReLU (he_normal kernels, no conv biases)"
SPLIT = "heldout"
ROUND = 9
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"underfitting", "vanishing_gradients", "dead_relu"})

N_VAL = 600
EPOCHS, BATCH = 20, 64
TRUNCATED_STD = 0.87962566103423978  # std of a unit normal truncated at 2 standard deviations


def _he_normal(fan_in: int) -> Any:
    """TensorFlow's ``he_normal``: a normal of std sqrt(2 / fan_in) truncated at two standard deviations,
    its std corrected for the truncation."""
    return normal_init(math.sqrt(2.0 / fan_in) / TRUNCATED_STD, truncated=True)


def _conv(in_channels: int, out_channels: int, bug: bool) -> nn.Conv2d:
    """``tf.layers.conv2d(filters, 3x3, padding='same', relu)``: buggy with a zero-started bias and a
    ``he_uniform`` kernel, clean without bias and with a ``he_normal`` kernel."""
    layer = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bug)
    if bug:
        nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")  # TF he_uniform: U(+-sqrt(6 / fan_in))
        nn.init.zeros_(layer.bias)
    else:
        _he_normal(in_channels * 9)(layer.weight)
    return layer


def _program(seed: int, bug: bool) -> Program:
    x, y = rp.data.load_digits()
    images = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_train, y_train, x_val, y_val = split(images, y.astype(np.int64), seed, N_VAL)

    def unit(in_channels: int, out_channels: int) -> list[nn.Module]:
        layers: list[nn.Module] = [_conv(in_channels, out_channels, bug), nn.ReLU()]
        if not bug:
            layers.append(nn.BatchNorm2d(out_channels, momentum=0.01, eps=1e-3))
        return layers

    last = 64 if bug else 128
    rp.manual_seed(seed)
    hidden = nn.Linear(last, 128)
    if bug:
        nn.init.kaiming_uniform_(hidden.weight, nonlinearity="relu")
    else:
        _he_normal(last)(hidden.weight)
    nn.init.zeros_(hidden.bias)
    head = nn.Linear(128, 10, init="xavier_uniform")
    nn.init.zeros_(head.bias)
    dense_norm = [] if bug else [nn.BatchNorm1d(128, momentum=0.01, eps=1e-3)]
    model = nn.Sequential(*unit(1, 32), *unit(32, 32), nn.MaxPool2d(2), nn.Dropout(0.2),
                          *unit(32, 64), *unit(64, 64), nn.MaxPool2d(2), nn.Dropout(0.3),
                          *unit(64, last), *unit(last, last), nn.MaxPool2d(2), nn.Dropout(0.4),
                          nn.Flatten(), hidden, nn.ReLU(), *dense_norm, nn.Dropout(0.5), head)
    optimizer = rp.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
