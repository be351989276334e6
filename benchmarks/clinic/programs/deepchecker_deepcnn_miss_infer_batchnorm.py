"""TheDeepChecker synthetic fault missing_batchnorm/deepCNN_miss_infer_batchnorm: batch normalization whose
moving statistics are never updated, so inference normalizes with the initial mean 0 and variance 1.

SOURCE: TheDeepChecker, buggy_synthetic_programs/missing_batchnorm/deepCNN_miss_infer_batchnorm.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean program clean_base_programs/deepCNN.py. The fault, as the file's docstring says, deactivates "the
batchnorm layers updating of global means and vars which removes the batchnorm effect at the inference
stage": the clean program wraps its training op in ``tf.control_dependencies(UPDATE_OPS)``, the buggy one
comments that out, so ``tf.layers.batch_normalization``'s moving mean and variance stay at their initial 0
and 1 while training normalizes with each batch's statistics. The network (VGG-like): six 3x3 'same'
convolutions without bias (32, 32, 64, 64, 128, 128 filters), each ReLU then batch normalization, max-pooling
2x2 and dropout 0.2 / 0.3 / 0.4 after each pair; ``Flatten``, ``Dense(128)`` + ReLU, batch normalization,
dropout 0.5, ``Dense(10)``; kernels ``he_normal`` (TensorFlow's truncated normal of std sqrt(2 / fan_in) /
0.8796), the output layer TensorFlow's default Glorot-uniform with a zero bias; softmax cross-entropy on
the logits; ``MomentumOptimizer(0.001, momentum=0.9)``; CIFAR-10 scaled by the benchmark's loader. The
batch normalization is TensorFlow's (momentum 0.99, eps 1e-3): ``BatchNorm2d(momentum=0.01, eps=1e-3)``
here, and ``momentum=0.0`` for the moving statistics that are never updated. CIFAR-10 needs a download:
here scikit-learn's 8x8 digits in [0, 1], one channel (N, 1, 8, 8), which the 'same' convolutions and three
poolings take down to 1x1 (so ``Flatten`` gives 128 features); 600 held out for validation. As in the other
TheDeepChecker ports: batch 64 (its loaders batch the data themselves; the size is not in the program), 20
epochs (380 steps).
SYMPTOM: the model learns on the training batches but predicts poorly at inference (validation), where
the batch normalization uses statistics it never collected.
FIX: the clean program: run the moving-statistics updates with each training step (``UPDATE_OPS``).
The mechanism (inference-time statistics never collected) is none of the doctor's problems: EXPECTED names
what a user sees, a validation accuracy far below the training accuracy.
Run plainly (seeds 0, 1, 2): validation accuracy 0.108 / 0.187 / 0.202; fixed version 0.943 / 0.938 /
0.937. The two versions train identically (the same training loss, 3.4-3.6 in the first epoch, 0.37-0.42
in the last): only inference differs. Each run about 15 seconds on one CPU thread.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import normal_init, split

SOURCE = ("TheDeepChecker buggy_synthetic_programs/missing_batchnorm/deepCNN_miss_infer_batchnorm.py "
          "(CIFAR-10 -> sklearn digits in [0, 1], 8x8, one channel)")
SYMPTOM = ("the moving mean and variance of every batch normalization are never updated: the model fits its "
           "training batches but predicts poorly at inference")
FIX = "the clean program: run the batch normalization's moving-statistics updates (UPDATE_OPS) with each step"
SPLIT = "heldout"
ROUND = 8
EXPECTED = frozenset({"overfitting"})
ALLOWED = frozenset({"validation_mismatch", "underfitting", "unstable_loss", "slow_convergence"})

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
    momentum = 0.0 if bug else 0.01  # 0.0: the moving statistics keep their initial 0 and 1

    def block(in_channels: int, out_channels: int) -> list[nn.Module]:
        return [_conv(in_channels, out_channels), nn.ReLU(),
                nn.BatchNorm2d(out_channels, momentum=momentum, eps=1e-3)]

    rp.manual_seed(seed)
    head = nn.Linear(128, 10, init="xavier_uniform")
    nn.init.zeros_(head.bias)
    hidden = nn.Linear(128, 128, init=_he_normal(128))
    nn.init.zeros_(hidden.bias)
    model = nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2), nn.Dropout(0.2),
                          *block(32, 64), *block(64, 64), nn.MaxPool2d(2), nn.Dropout(0.3),
                          *block(64, 128), *block(128, 128), nn.MaxPool2d(2), nn.Dropout(0.4),
                          nn.Flatten(), hidden, nn.ReLU(), nn.BatchNorm1d(128, momentum=momentum, eps=1e-3),
                          nn.Dropout(0.5), head)
    optimizer = rp.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
