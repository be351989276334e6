"""TheDeepChecker synthetic fault unbalanced_data/deepCNN_unb_data: a loader that starves six classes.

SOURCE: TheDeepChecker, buggy_synthetic_programs/unbalanced_data/deepCNN_unb_data.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs/unbalanced_data),
derived from its clean program clean_base_programs/deepCNN.py. The fault, as the file's docstring puts it:
a custom training loader whose ``unbalance`` function keeps decreasing shares of some classes: with
``total = len(train) / 10`` and ``p = 0.01`` it keeps the first ``int(total * p)`` training examples of
class 0, the first ``int(total * p * k)`` of class k = 1..5 and all of classes 6-9 (on CIFAR-10: 50, 50,
100, 150, 200 and 250 images of the classes 0-5 against 5,000 of each of 6-9); the test loader is the
ordinary one, so the model is validated on balanced data. The network as the faulty file builds it: six
3x3 'same' ReLU convolutions without biases (32, 32, 64, 64, 64, 64 filters; He-uniform kernels), a batch
normalization after every ReLU (TensorFlow's momentum 0.99, eps 1e-3: ``BatchNorm2d(momentum=0.01,
eps=1e-3)`` here), max-pooling 2x2 and dropout 0.2 / 0.3 / 0.4 after each pair; ``Flatten``,
``Dense(128)`` + ReLU (He-uniform, zero bias), batch normalization, dropout 0.5, ``Dense(10)``
(Glorot-uniform, zero bias); softmax cross-entropy on the logits; ``MomentumOptimizer(learning_rate=0.001,
momentum=0.9)``. CIFAR-10 needs a download: here, as in the other deepCNN ports, scikit-learn's 8x8 digits
in [0, 1], one channel (N, 1, 8, 8), which the 'same' convolutions and three poolings take down to 1x1;
600 held out for validation, the other 1,197 given to the same ``unbalance`` function: ``total`` is 119, so
the digits 0-5 keep 1, 1, 2, 3, 4 and 5 training images and 6-9 all of theirs (the original's ratios);
batch 64 (its loaders batch the data themselves; the size is not in the program), 20 epochs. Cut:
CIFAR-10's 32x32x3 images and the checker's own run length.
SYMPTOM: the model learns the classes it is shown and misclassifies the starved ones: its accuracy on the
balanced validation data stays far below its training accuracy and the clean program's (the benchmark's
file states the intent, not a run; what the ported code shows is below).
FIX: the clean program's loader: every training image of every class; the network, initialization,
optimizer and validation data unchanged.
Mechanism: six of the ten classes, 60 % of the validation rows, are all but absent from training (16
examples between them), so the model is validated on data unlike the data it trains on: it fits its
training set and answers 6-9 for most of the rest.
Run plainly (seeds 0, 1, 2): validation accuracy 0.368 / 0.305 / 0.267 (492 / 502 / 498 training examples;
training loss, under the dropouts, 3.4-3.7 in the first epoch and 0.46-0.49 in the twentieth); fixed version
0.932 / 0.947 / 0.942 (training loss 3.50-3.66 to 0.49-0.53). Each run 9-19 seconds on one CPU thread.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import split

SOURCE = ("TheDeepChecker buggy_synthetic_programs/unbalanced_data/deepCNN_unb_data.py (CIFAR-10 -> sklearn "
          "digits in [0, 1], 8x8, one channel, unbalanced by the benchmark's function)")
SYMPTOM = ("the training loader keeps a few examples of the classes 0-5 and all of 6-9: the model "
           "misclassifies the starved classes on balanced validation data")
FIX = "the clean program's loader: all training examples of every class"
SPLIT = "heldout"
ROUND = 16
EXPECTED = frozenset({"validation_mismatch"})
ALLOWED = frozenset({"overfitting"})

N_VAL = 600
EPOCHS, BATCH = 20, 64


def unbalance(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The faulty loader's ``unbalance``: the first ``int(total * 0.01 * max(k, 1))`` examples of class k for
    k = 0..5 and every example of classes 6-9, with ``total = N / 10``."""
    p, total = 0.01, int(features.shape[0] / 10)
    kept = [np.flatnonzero(labels == 0)[:int(total * p)]]
    for label in range(1, 10):
        rows = np.flatnonzero(labels == label)
        kept.append(rows[:int(total * (p * label))] if label <= 5 else rows)
    order = np.concatenate(kept)
    return features[order], labels[order]


def _block(in_channels: int, out_channels: int) -> list[nn.Module]:
    """``tf.layers.conv2d(filters, 3x3, 'same', relu, use_bias=False, he_uniform)``, then a batch norm."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")
    return [conv, nn.ReLU(), nn.BatchNorm2d(out_channels, momentum=0.01, eps=1e-3)]


def _program(seed: int, bug: bool) -> Program:
    x, y = rp.data.load_digits()
    images = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_train, y_train, x_val, y_val = split(images, y.astype(np.int64), seed, N_VAL)
    if bug:
        x_train, y_train = unbalance(x_train, y_train)
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
    optimizer = rp.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
