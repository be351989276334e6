"""TheDeepChecker synthetic fault flipped_sign/deepCNN_flip_sign: a VGG-like network stepping up its loss.

SOURCE: TheDeepChecker, buggy_synthetic_programs/flipped_sign/deepCNN_flip_sign.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs/flipped_sign), derived
from its clean program clean_base_programs/deepCNN.py. The fault, as the file's docstring puts it: a
gradient computed by hand risks the wrong direction, which turns the training into a maximization; the
program takes ``tf.gradients`` of the loss, negates each one and hands them to
``MomentumOptimizer(learning_rate=0.001, momentum=0.9).apply_gradients`` where the clean program calls
``minimize``. The network as the faulty file builds it: six 3x3 'same' ReLU convolutions without biases
(32, 32, 64, 64, 64, 64 filters; He-uniform kernels), a batch normalization after every ReLU (TensorFlow's
momentum 0.99, eps 1e-3: ``BatchNorm2d(momentum=0.01, eps=1e-3)`` here), max-pooling 2x2 and dropout
0.2 / 0.3 / 0.4 after each pair; ``Flatten``, ``Dense(128)`` + ReLU (He-uniform, zero bias), batch
normalization, dropout 0.5, ``Dense(10)`` (Glorot-uniform, zero bias); softmax cross-entropy on the logits
(``tf.losses.softmax_cross_entropy``). The negated gradients are ``SGD(lr=0.001, momentum=0.9,
maximize=True)`` here: TensorFlow's momentum accumulates the negated gradient, which is the same update.
CIFAR-10 needs a download: here, as in the other deepCNN ports, scikit-learn's 8x8 digits in [0, 1], one
channel (N, 1, 8, 8), which the 'same' convolutions and three poolings take down to 1x1 (``Flatten`` gives
64 features); 600 held out for validation; batch 64 (its loaders batch the data themselves; the size is not
in the program), 20 epochs (380 steps). Cut: CIFAR-10's 32x32x3 images and the checker's own run length.
SYMPTOM: every step climbs the loss: the cross-entropy rises instead of falling and the accuracy falls to
chance or below (the benchmark's file states the intent, not a run; what the ported code shows is below).
FIX: apply the gradients as computed (the clean program's ``minimize``); the network, initialization,
optimizer settings and data unchanged.
Mechanism: momentum SGD on the negated gradient is gradient ascent: the logits layer and everything below
it move to make the true class less likely, so the logit of the true class is pushed down and the others
up, the loss grows without bound (the batch normalizations keep the hidden activations in scale, the
logits layer's weights grow) and the predictions move away from the labels.
Run plainly (seeds 0, 1, 2): validation accuracy 0.035 / 0.003 / 0.008, below chance (training loss 3.8-3.9
in the first epoch, 831 / 929 / 1086 in the twentieth, still rising); fixed version 0.932 / 0.947 / 0.942
(training loss 3.50-3.66 to 0.49-0.53). Each run 12-20 seconds on one CPU thread.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import split

SOURCE = ("TheDeepChecker buggy_synthetic_programs/flipped_sign/deepCNN_flip_sign.py (CIFAR-10 -> sklearn "
          "digits in [0, 1], 8x8, one channel)")
SYMPTOM = "the gradients are negated before the momentum step: the training maximizes the loss"
FIX = "apply the gradients as computed (the clean program's minimize)"
SPLIT = "heldout"
ROUND = 16
EXPECTED = frozenset({"gradient_ascent"})
ALLOWED = frozenset({"exploding_gradients", "unstable_loss", "non_finite", "dead_relu"})

N_VAL = 600
EPOCHS, BATCH = 20, 64


def _block(in_channels: int, out_channels: int) -> list[nn.Module]:
    """``tf.layers.conv2d(filters, 3x3, 'same', relu, use_bias=False, he_uniform)``, then a batch norm."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")
    return [conv, nn.ReLU(), nn.BatchNorm2d(out_channels, momentum=0.01, eps=1e-3)]


def _program(seed: int, flipped: bool) -> Program:
    x, y = rp.data.load_digits()
    images = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_train, y_train, x_val, y_val = split(images, y.astype(np.int64), seed, N_VAL)
    rp.manual_seed(seed)
    features = [*_block(1, 32), *_block(32, 32), nn.MaxPool2d(2), nn.Dropout(0.2),
                *_block(32, 64), *_block(64, 64), nn.MaxPool2d(2), nn.Dropout(0.3),
                *_block(64, 64), *_block(64, 64), nn.MaxPool2d(2), nn.Dropout(0.4)]
    hidden = nn.Linear(64, 128)
    nn.init.kaiming_uniform_(hidden.weight, nonlinearity="relu")
    nn.init.zeros_(hidden.bias)
    logits = nn.Linear(128, 10)
    nn.init.xavier_uniform_(logits.weight)
    nn.init.zeros_(logits.bias)
    model = nn.Sequential(*features, nn.Flatten(), hidden, nn.ReLU(),
                          nn.BatchNorm1d(128, momentum=0.01, eps=1e-3), nn.Dropout(0.5), logits)
    optimizer = rp.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, maximize=flipped)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, flipped=True)


def fixed(seed: int) -> Program:
    return _program(seed, flipped=False)
