"""adversarial-robustness-toolbox issue #7: ``to_categorical`` on (N, 1) labels makes every target row all 1.

SOURCE: https://github.com/Trusted-AI/adversarial-robustness-toolbox/issues/7 ("bug in 'to_categorical'
implementation"), on the toolbox's CIFAR-10 example as it stood then (the parent of commit 266fc8bf8:
``examples/cifar_adversarial_training.py``, with ``art/utils.py``'s ``load_cifar10``, ``preprocess`` and
``to_categorical``), fixed by commit 266fc8bf8 ("Correct `to_categorical` for unsqueezed labels (closes
#7)"). The program: ``load_cifar10`` reshapes the labels to (N, 1), then ``preprocess`` divides the
pixels by 255 and calls ``to_categorical``, whose ``categorical[np.arange(N), labels] = 1`` broadcasts the
(N,) row index against the (N, 1) labels: every row gets a 1 in the column of every label present, so
every training and test target is the same all-ones row. The first 5,000 training and 500 test images;
the Keras cifar10_cnn network: ``Conv2D(32, 3x3, 'same')``, ReLU, ``Conv2D(32, 3x3)``, ReLU,
``MaxPooling2D(2)``, ``Dropout(0.25)``, ``Conv2D(64, 3x3, 'same')``, ReLU, ``Conv2D(64, 3x3)``, ReLU,
``MaxPooling2D(2)``, ``Dropout(0.25)``, ``Flatten``, ``Dense(512)``, ReLU, ``Dropout(0.5)``, ``Dense(10)``,
softmax (Keras's Glorot-uniform kernels, zero biases); ``categorical_crossentropy`` (on the softmax's
probabilities, clipped at 1e-7), Adam with Keras's defaults (lr 0.001, epsilon 1e-7); ``classifier.fit``
with batch 128 for 10 epochs; accuracy = argmax of the prediction against argmax of the target row.
CIFAR-10 needs a download: here scikit-learn's 8x8 digits enlarged to 16x16 (one channel, channels
first) in [0, 1], 500 of them the test images and the other 1,297 the training images; the labels go
through the same reshape and ``to_categorical``. Cut: 6 epochs instead of 10, and the DeepFool attack and
the adversarial retraining that follow the first fit (what is ported is the fit the bug spoils, scored on
the clean test images).
SYMPTOM: "The Y values matrices were set to all ones, which prevented model training and evaluation"
(the classifier's loss does not drop).
FIX: commit 266fc8bf8: ``categorical[np.arange(labels.shape[0]), np.squeeze(labels)] = 1`` (one-hot rows);
the data, network and training unchanged.
The mechanism: against an all-ones row the loss is -sum_j log p_j, whose minimum, 10 ln 10 = 23.03, is the
uniform output whatever the image: the targets say nothing about the input. The accuracy is scored, as the
program scores it, against the argmax of the target row (class 0 for every all-ones row).
Run plainly (seeds 0, 1, 2): validation accuracy 0.000 / 0.000 / 0.000 (training loss 23.03 in the first
epoch, 23.026 = 10 ln 10 after: it does not drop; validation loss 23.026); fixed version 0.938 / 0.916 /
0.964 (training loss 2.28 -> 0.39-0.47). Each run about 10 seconds on a loaded machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.tensor import Tensor

from . import Program
from ._keras import EPSILON, onehot_accuracy

SOURCE = ("https://github.com/Trusted-AI/adversarial-robustness-toolbox/issues/7 "
          "(examples/cifar_adversarial_training.py and art/utils.py before commit 266fc8bf8; fix: commit "
          "266fc8bf8); CIFAR-10 -> sklearn digits enlarged to 16x16, [0, 1], one channel")
SYMPTOM = "every one-hot target row is all ones: the loss does not drop and the model learns nothing"
FIX = "commit 266fc8bf8: index with np.squeeze(labels), so each target row is one-hot"
SPLIT = "heldout"
ROUND = 15
EXPECTED = frozenset({"constant_targets"})
ALLOWED = frozenset({"loss_output_mismatch", "underfitting", "slow_convergence"})

N_TEST, EPOCHS, BATCH = 500, 6, 128


class OneHotCategoricalCrossentropy(nn.BCEWithLogitsLoss):
    """Keras's ``categorical_crossentropy`` on the softmax's probabilities against float target rows:
    ``-sum(y * log(clip(p / sum(p), 1e-7, 1 - 1e-7)))`` averaged over the batch. A ``BCEWithLogitsLoss``
    subclass so that ``fit`` keeps the float target rows as they are."""

    doctor_loss_kind = "cross_entropy_probs"

    def forward(self, input: Tensor, target: Any) -> Tensor:
        p = (input / input.sum(axis=-1, keepdims=True)).clip(EPSILON, 1.0 - EPSILON)
        y = np.asarray(target, dtype=p.dtype)
        return -(p.log() * y).sum(axis=-1).mean()

    def extra_repr(self) -> str:
        return "categorical, on probabilities, as Keras"


def to_categorical(labels: np.ndarray, nb_classes: int, squeeze: bool) -> np.ndarray:
    """``art.utils.to_categorical``: before the fix the labels index as they come ((N, 1) here)."""
    categorical = np.zeros((labels.shape[0], nb_classes), dtype=np.float32)
    categorical[np.arange(labels.shape[0]), np.squeeze(labels) if squeeze else labels] = 1
    return categorical


def _conv(in_channels: int, out_channels: int, padding: int) -> nn.Conv2d:
    """A Keras ``Conv2D(out, (3, 3))``: Glorot-uniform kernel, zero bias."""
    layer = nn.Conv2d(in_channels, out_channels, 3, padding=padding)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _dense(in_features: int, out_features: int) -> nn.Linear:
    layer = nn.Linear(in_features, out_features)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _program(seed: int, squeeze: bool) -> Program:
    x, y = rp.data.load_digits()
    images = np.kron(x.reshape(-1, 1, 8, 8), np.ones((1, 1, 2, 2), dtype=np.float32)) * 16  # 0-256 "pixels"
    images = images.clip(0, 255) / 255.0  # preprocess: x / 255
    labels = y.reshape(-1, 1)  # load_cifar10: np.reshape(y, (len(y), 1))
    order = np.random.default_rng(seed).permutation(len(x))
    test, train = order[:N_TEST], order[N_TEST:]
    y_train = to_categorical(labels[train], 10, squeeze)
    y_test = to_categorical(labels[test], 10, squeeze)
    rp.manual_seed(seed)
    model = nn.Sequential(
        _conv(1, 32, 1), nn.ReLU(), _conv(32, 32, 0), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        _conv(32, 64, 1), nn.ReLU(), _conv(64, 64, 0), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), _dense(64 * 2 * 2, 512), nn.ReLU(), nn.Dropout(0.5), _dense(512, 10),
        nn.Softmax(dim=-1))
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    x_train, x_test = images[train].astype(np.float32), images[test].astype(np.float32)
    return Program(model, optimizer, x_train, y_train, x_test, y_test, loss=OneHotCategoricalCrossentropy(),
                   epochs=EPOCHS, batch_size=BATCH,
                   fit_options={"seed": seed, "metrics": [onehot_accuracy]})


def buggy(seed: int) -> Program:
    return _program(seed, squeeze=False)


def fixed(seed: int) -> Program:
    return _program(seed, squeeze=True)
