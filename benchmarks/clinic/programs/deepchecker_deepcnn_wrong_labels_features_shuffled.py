"""TheDeepChecker synthetic fault wrong_labels/deepCNN_wrong_lbl: the deep CNN's loader shuffles images only.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_labels/deepCNN_wrong_lbl.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs/wrong_labels),
derived from its clean program clean_base_programs/deepCNN.py. The fault, as the file's docstring says: "a
common faulty situation is to get only the features shuffled": its ``CustomDataLoader`` overrides the
loader's ``shuffle`` (called each time a pass over the training data ends) to permute ``self.features``
alone, so the first pass trains on the right pairs and every later one on images paired with other images'
labels (DeepChecker names the run ``deep_CNN_corrupted_labels``). The same fault in the baseCNN program is
ported as deepchecker_basecnn_wrong_labels_features_shuffled; this is the deep network's case, where
batch normalization and dropout sit between the images and the labels. The network as the faulty file
builds it: six 3x3 'same' ReLU convolutions without biases (32, 32, 64, 64, 64, 64 filters; the clean
program has 128 in the last pair), ``he_uniform`` kernels, a batch normalization after every ReLU
(TensorFlow's momentum 0.99, eps 1e-3: ``BatchNorm2d(momentum=0.01, eps=1e-3)`` here), max-pooling 2x2 and
dropout 0.2 / 0.3 / 0.4 after each pair; ``Flatten``, ``Dense(128)`` + ReLU (``he_uniform``, zero bias),
batch normalization, dropout 0.5, ``Dense(10)`` (Glorot-uniform, zero bias); softmax cross-entropy on the
logits; ``MomentumOptimizer(learning_rate=0.001, momentum=0.9)``. CIFAR-10 needs a download: here, as in
the other deepCNN ports, scikit-learn's 8x8 digits in [0, 1], one channel (N, 1, 8, 8), 600 held out;
batch 64 (its loaders batch the data themselves; the size is not in the program), 20 epochs (380 steps).
The loader's features-only shuffle is a callback that permutes the training images in place at the end of
every epoch (``fit`` shuffles the pairs as the clean loader does). The original's test loader is the same
custom class, but it is only misaligned after a full pass over it; the validation set here keeps its
labels (``fit`` scores it in one pass), as in the baseCNN port.
SYMPTOM: the labels are corrupted: after the first epoch the model is trained on labels unrelated to its
inputs, and the accuracy falls toward chance (the benchmark's file states the fault, not a run; what the
ported code shows is below).
FIX: the clean program's loader: features and labels shuffled together (the network unchanged).
Run plainly (seeds 0, 1, 2): validation accuracy 0.090 / 0.083 / 0.042 (training loss, under the dropouts,
3.53-3.56 in the first epoch and 2.72-2.73 in the twentieth, near ln 10 = 2.30 plus the dropouts' noise:
the labels carry nothing about the images; validation loss 2.32-2.38); fixed version 0.935 / 0.922 / 0.937
(training loss 3.5-3.6 to 0.51-0.60). Each run 20-27 seconds on one CPU thread, as the other deepCNN ports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import ShuffleFeaturesOnly, split

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_labels/deepCNN_wrong_lbl.py (CIFAR-10 -> sklearn "
          "digits in [0, 1], 8x8, one channel)")
SYMPTOM = ("the loader shuffles the images without their labels after each pass: the labels no longer "
           "match the inputs and the accuracy falls toward chance")
FIX = "the clean program's loader: images and labels shuffled together"
SPLIT = "heldout"
ROUND = 15
EXPECTED = frozenset({"underfitting"})
ALLOWED = frozenset({"unstable_loss", "slow_convergence"})

N_VAL = 600
EPOCHS, BATCH = 20, 64


def _conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """``tf.layers.conv2d(filters, 3x3, padding='same', relu, use_bias=False)`` with a ``he_uniform``
    kernel."""
    layer = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
    return layer


def _unit(in_channels: int, out_channels: int) -> list[nn.Module]:
    norm = nn.BatchNorm2d(out_channels, momentum=0.01, eps=1e-3)
    return [_conv(in_channels, out_channels), nn.ReLU(), norm]


def _program(seed: int, bug: bool) -> Program:
    x, y = rp.data.load_digits()
    images = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_train, y_train, x_val, y_val = split(images, y.astype(np.int64), seed, N_VAL)
    x_train = np.ascontiguousarray(x_train, dtype=np.float32)
    rp.manual_seed(seed)
    convs = [*_unit(1, 32), *_unit(32, 32), nn.MaxPool2d(2), nn.Dropout(0.2),
             *_unit(32, 64), *_unit(64, 64), nn.MaxPool2d(2), nn.Dropout(0.3),
             *_unit(64, 64), *_unit(64, 64), nn.MaxPool2d(2), nn.Dropout(0.4)]
    hidden = nn.Linear(64, 128)
    nn.init.kaiming_uniform_(hidden.weight, nonlinearity="relu")
    nn.init.zeros_(hidden.bias)
    head = nn.Linear(128, 10, init="xavier_uniform")
    nn.init.zeros_(head.bias)
    model = nn.Sequential(*convs, nn.Flatten(), hidden, nn.ReLU(),
                          nn.BatchNorm1d(128, momentum=0.01, eps=1e-3), nn.Dropout(0.5), head)
    optimizer = rp.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    options: dict[str, Any] = {"seed": seed}
    if bug:
        options["callbacks"] = [ShuffleFeaturesOnly(x_train, seed)]
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options=options)


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
