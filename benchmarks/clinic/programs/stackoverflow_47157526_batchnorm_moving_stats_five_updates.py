"""StackOverflow 47157526: a ResNet fits three images in five epochs but predicts one class for all of them.

SOURCE: https://stackoverflow.com/questions/47157526 ("ResNet: 100% accuracy during training, but 33%
prediction accuracy with the same data"; read at its mirrors newbetuts.com/47157526, w3toppers.com and
intellipaat.com/community/11257). The question's program: three grayscale images (one per class) loaded
with PIL and resized to 197x197, one channel, pixel values left at 0-255; one-hot labels for three classes;
``keras.applications.ResNet50(input_shape=(197, 197, 1), classes=3, weights=None)`` (a 7x7/2 convolution,
BatchNormalization, ReLU, 3x3/2 max pooling, then bottleneck blocks - 1x1, 3x3, 1x1 convolutions, each
followed by BatchNormalization, with a 1x1 convolution + BatchNormalization on the shortcut of each
stage's first block - then average pooling and ``Dense(3, softmax)``; Keras's Glorot-uniform kernels and
zero biases; Keras's BatchNormalization: momentum 0.99, epsilon 1e-3, moving mean 0 and moving variance 1
at the start); ``categorical_crossentropy``, ``optimizer='adam'`` (lr 0.001), ``fit(imgs, y, epochs=5,
shuffle=True)`` (batch 32: the three images are one batch, five updates in all); then ``predict`` on the
same three images. The training log reaches accuracy 1 and loss ~1e-4; the predictions give every image
the same class.
Replaced and cut: the three images are three scikit-learn digits (a 0, a 1 and a 2, drawn by the seed),
enlarged 4x to 32x32 and put on the 0-255 scale of a PIL image; the validation data are those same three
images, as the question predicts on them. ResNet50 is cut to its shape at a quarter of the width: the stem
(zero padding 3 and a 7x7/2 convolution of 16 filters, BatchNormalization, ReLU, 3x3/2 max pooling), one
convolution block [16, 16, 64] and one identity block, one convolution block [32, 32, 128] of stride 2,
global average pooling and ``Dense(3, softmax)``; every BatchNormalization as Keras's (here
``BatchNorm2d(momentum=0.01, eps=1e-3)``: PyTorch's momentum is 1 minus Keras's). Nothing else is cut.
SYMPTOM: 100 % training accuracy, but every training image is predicted as the same class (33 %).
FIX: the accepted answer: after five updates the moving averages that BatchNormalization uses at test time
are still close to their start (mean 0, variance 1, with Keras's momentum 0.99 each update moves them by 1
%), so inference normalizes the 0-255 activations with the wrong statistics; the answer checks it by
lowering BatchNormalization's momentum so that the moving statistics follow the batches. The fixed
version does that with Keras momentum 0.01 (``BatchNorm2d(momentum=0.99)`` in PyTorch's convention: the
moving statistics are the last batch's, and the batch is all three images); network, data, optimizer and
epochs unchanged.
Run plainly (seeds 0, 1, 2): validation (= training images) accuracy 0.333 / 0.333 / 0.333, every image
given one class (1, 1, 0), while the training accuracy is 1.0 from the 2nd or 3rd epoch on (training loss
1.30 -> 0.22, 1.37 -> 0.18, 1.55 -> 0.16; validation loss 1.52 / 2.15 / 5.03 at the end); fixed version
1.000 / 1.000 / 1.000 (the same training losses; validation loss 0.16 / 0.14 / 0.12). Each run well under
a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.tensor import Tensor

from . import Program
from ._keras import CategoricalCrossentropy

SOURCE = ("https://stackoverflow.com/questions/47157526 (Keras ResNet50, weights=None, on three 0-255 "
          "grayscale images for 5 epochs; read at newbetuts.com/47157526); the images -> three sklearn "
          "digits enlarged to 32x32 on 0-255; ResNet50 -> a quarter-width, two-stage ResNet of the same "
          "blocks")
SYMPTOM = ("training accuracy 100 %, but predict() on the same three images gives one class to all of them "
           "(33 %)")
FIX = ("the accepted answer: BatchNormalization's moving statistics are still near their start after 5 "
       "updates; lower its momentum (Keras 0.99 -> 0.01) so inference uses the batches' statistics")
SPLIT = "heldout"
ROUND = 16
EXPECTED = frozenset({"batchnorm_statistics"})
ALLOWED = frozenset({"validation_mismatch", "overfitting"})

EPOCHS, BATCH, SIZE = 5, 32, 32


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int | str = 0) -> nn.Conv2d:
    """A Keras ``Conv2D``: Glorot-uniform kernel, zero bias."""
    layer = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class Bottleneck(nn.Module):
    """ResNet50's ``conv_block`` (``shortcut=True``: 1x1 convolution + BatchNormalization on the shortcut,
    ``stride`` on the first 1x1) or ``identity_block``: 1x1, kxk 'same', 1x1 convolutions, each followed
    by BatchNormalization, ReLU after the first two and after the sum."""

    def __init__(self, c_in: int, filters: tuple[int, int, int], stride: int, shortcut: bool,
                 momentum: float) -> None:
        super().__init__()
        f1, f2, f3 = filters
        self.conv1, self.bn1 = _conv(c_in, f1, 1, stride), nn.BatchNorm2d(f1, momentum=momentum, eps=1e-3)
        self.conv2, self.bn2 = _conv(f1, f2, 3, 1, 1), nn.BatchNorm2d(f2, momentum=momentum, eps=1e-3)
        self.conv3, self.bn3 = _conv(f2, f3, 1), nn.BatchNorm2d(f3, momentum=momentum, eps=1e-3)
        self.has_shortcut = shortcut
        if shortcut:
            self.conv_s = _conv(c_in, f3, 1, stride)
            self.bn_s = nn.BatchNorm2d(f3, momentum=momentum, eps=1e-3)

    def forward(self, x: Tensor) -> Tensor:
        h = self.bn1(self.conv1(x)).relu()
        h = self.bn2(self.conv2(h)).relu()
        h = self.bn3(self.conv3(h))
        s = self.bn_s(self.conv_s(x)) if self.has_shortcut else x
        return (h + s).relu()


def _images(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One digit 0, one 1 and one 2 (drawn by ``seed``), enlarged to 32x32, 0-255, channels first."""
    x, y = rp.data.load_digits()
    order = np.random.default_rng(seed).permutation(len(x))
    picks = [next(i for i in order if y[i] == label) for label in range(3)]
    images = np.kron(x[picks].reshape(3, 1, 8, 8), np.ones((1, 1, 4, 4), dtype=np.float32)) * 16
    return images.clip(0, 255).astype(np.float32), np.arange(3, dtype=np.int64)


def _program(seed: int, momentum: float) -> Program:
    images, labels = _images(seed)
    rp.manual_seed(seed)
    model = nn.Sequential(
        _conv(1, 16, 7, 2, padding=3), nn.BatchNorm2d(16, momentum=momentum, eps=1e-3), nn.ReLU(),
        nn.MaxPool2d(3, stride=2),
        Bottleneck(16, (16, 16, 64), 1, True, momentum), Bottleneck(64, (16, 16, 64), 1, False, momentum),
        Bottleneck(64, (32, 32, 128), 2, True, momentum),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), _dense(128, 3), nn.Softmax(dim=-1))
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, images, labels, images.copy(), labels.copy(),
                   loss=CategoricalCrossentropy(), epochs=EPOCHS, batch_size=BATCH,
                   fit_options={"seed": seed})


def _dense(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def buggy(seed: int) -> Program:
    return _program(seed, momentum=0.01)  # Keras's default momentum 0.99


def fixed(seed: int) -> Program:
    return _program(seed, momentum=0.99)  # Keras momentum 0.01, the answer's check
