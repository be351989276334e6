"""UMLAUT user-study program A: a CIFAR-10 CNN with raw 0-255 pixels, Dropout(0.8) and a loss that expects
probabilities on a linear output.

SOURCE: UMLAUT (Schoop, Huang and Hartmann, CHI 2021; github.com/BerkeleyHCI/umlaut), ``user_eval/eval_a.py``,
one of the two buggy programs of its user evaluation; the repository's ``umlaut_example.py`` carries the
same bugs with the fixes as comments. The program: CIFAR-10, the pixels left at 0-255 (no ``/ 255``);
``Conv2D(64, 3, relu)``, ``Conv2D(64, 3, relu)``, ``MaxPool2D(2)``, ``Dropout(0.8)``, ``Conv2D(128, 3,
relu)``, ``Conv2D(128, 3, relu)``, ``MaxPool2D(2)``, ``Dropout(0.8)``, ``Flatten``, ``Dense(128, relu)``,
``Dense(128, relu)``, ``Dropout(0.8)``, ``Dense(10)`` (linear: logits), all 'valid' convolutions with
Keras's defaults (Glorot-uniform kernels, zero biases); ``tf.keras.losses.sparse_categorical_crossentropy``
with its default ``from_logits=False`` on those logits; ``Adam()`` at its defaults (lr 0.001, eps 1e-7);
batch 128; 10 epochs; ``validation_split=0.2``. Keras's sparse cross-entropy on "probabilities" clips the
outputs to [1e-7, 1 - 1e-7] and takes their log as logits of a softmax cross-entropy, so every output
outside (0, 1) is pinned and passes no gradient (``_SparseCategoricalCrossentropy`` below computes that).
CIFAR-10 needs a download: here scikit-learn's bundled 8x8 digits enlarged 2x to 16x16 (one channel, on
CIFAR's 0-255 scale: x * 255 / 16), the smallest image this stack of four 3x3 'valid' convolutions and two
poolings can take (16 -> 14 -> 12 -> 6 -> 4 -> 2 -> 1, so ``Flatten`` gives 128 features); 360 of the
1,797 images held out as ``validation_split=0.2`` does. Nothing else is cut: 10 epochs of batch 128 (120
steps).
SYMPTOM: the network does not learn: the validation accuracy stays at chance (UMLAUT's study asked its
users to find why).
FIX: ``umlaut_example.py``'s comments: divide the pixels by 255, ``Dropout(0.2)`` in the three places, and
``SparseCategoricalCrossentropy(from_logits=True)`` (here ``cross_entropy`` on the logits, the same
function); architecture, optimizer, batch and epochs unchanged.
Run plainly (seeds 0, 1, 2): validation accuracy 0.092 / 0.106 / 0.092 (chance; the training loss climbs
from 9-11 in the first epoch to 11.5-12.6 in the tenth); fixed version 0.981 / 0.975 / 0.969 (the same
program as UMLAUT program B's fixed version). Each run about 15-20 seconds on one CPU thread (the
convolutions of 64-128 channels cost about 0.15 s per step of 128 images).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.tensor import Tensor

from . import Program
from ._keras import EPSILON, dense
from ._qa_common import split

SOURCE = ("UMLAUT user evaluation program A (github.com/BerkeleyHCI/umlaut, user_eval/eval_a.py; fixes in "
          "umlaut_example.py's comments); data: scikit-learn's 8x8 digits enlarged to 16x16 at 0-255 "
          "instead of CIFAR-10")
SYMPTOM = ("the CNN does not learn (chance accuracy): raw 0-255 pixels, Dropout(0.8) after each block, and "
           "sparse_categorical_crossentropy without from_logits on a linear output")
FIX = ("pixels / 255, Dropout(0.2), SparseCategoricalCrossentropy(from_logits=True) "
       "(umlaut_example.py's comments)")
SPLIT = "heldout"
ROUND = 8
EXPECTED = frozenset({"unscaled_inputs", "dropout_too_high", "loss_output_mismatch"})
ALLOWED = frozenset({"underfitting", "slow_convergence", "unstable_loss", "dead_relu", "exploding_gradients"})

N_VAL = 360  # validation_split=0.2 of the 1,797 images
EPOCHS, BATCH = 10, 128


class _SparseCategoricalCrossentropy(nn.Module):
    """Keras's ``sparse_categorical_crossentropy`` with ``from_logits=False``: the outputs clipped to
    ``[1e-7, 1 - 1e-7]``, their log taken as logits of a softmax cross-entropy, against integer labels."""

    classification = True
    doctor_loss_kind = "cross_entropy_probs"

    def forward(self, input: Tensor, target: Any) -> Tensor:
        labels = np.asarray(target, dtype=np.int64).reshape(-1)
        return rp.F.cross_entropy(input.clip(EPSILON, 1.0 - EPSILON).log(), labels)

    def extra_repr(self) -> str:
        return "on outputs taken as probabilities, as Keras with from_logits=False"


def images(seed: int, n_val: int) -> tuple[np.ndarray, ...]:
    """The digits enlarged 2x to 16x16, one channel, on the 0-255 scale: ``x_train, y_train, x_val, y_val``
    (``n_val`` held out, drawn from ``seed``)."""
    x, y = rp.data.load_digits()
    big = np.kron(x.reshape(-1, 8, 8), np.ones((1, 2, 2), dtype=np.float32))[:, None] * (255.0 / 16.0)
    return split(big.astype(np.float32), y.astype(np.int64), seed, n_val)


def _conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """A Keras ``Conv2D(out, 3)`` ('valid'): Glorot-uniform kernel, zero bias."""
    layer = nn.Conv2d(in_channels, out_channels, 3)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _program(seed: int, bug: bool) -> Program:
    x_train, y_train, x_val, y_val = images(seed, N_VAL)
    if not bug:
        x_train, x_val = x_train / 255.0, x_val / 255.0
    rate = 0.8 if bug else 0.2
    rp.manual_seed(seed)
    model = nn.Sequential(_conv(1, 64), nn.ReLU(), _conv(64, 64), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Dropout(rate), _conv(64, 128), nn.ReLU(), _conv(128, 128), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Dropout(rate), nn.Flatten(), dense(128, 128), nn.ReLU(),
                          dense(128, 128), nn.ReLU(), nn.Dropout(rate), dense(128, 10))
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss = _SparseCategoricalCrossentropy() if bug else "cross_entropy"
    return Program(model, optimizer, x_train.astype(np.float32), y_train, x_val.astype(np.float32), y_val,
                   loss=loss, epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
