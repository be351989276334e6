"""TheDeepChecker GitHub example DLT_ded6612: a ConvNet whose weights start N(0, 0.01^2) and biases at 0.01.

SOURCE: TheDeepChecker, GH_buggy_examples/DLT_ded6612 (command_line/run_conv_net_under_test.py,
models/convolutional_models/conv_net.py, model.py;
https://github.com/thedeepchecker/thedeepchecker/tree/master/GH_buggy_examples/DLT_ded6612), the
Deep-Learning-TensorFlow project (github.com/gabrieleangeletti/Deep-Learning-TensorFlow) before its commit
ded6612 ("changed sttdevs from 0.01 to 0.1 and bias init from 0.01 to 0.1"). The program, as the file's
command line runs it: ``--layers conv2d-5-5-32-1,maxpool-2,conv2d-5-5-64-1,maxpool-2,full-1024,softmax
--batch_size 50 --learning_rate 1e-4 --opt adam --dropout 0.5`` (10 epochs, the default): two 5x5 'SAME'
ReLU convolutions (32 and 64 maps, stride 1), each followed by 2x2 max-pooling, ``full-1024`` + ReLU with
dropout (keep 0.5), and the softmax layer; every weight ``tf.truncated_normal(stddev=0.01)`` and every bias
``tf.constant(0.01)``; the project's cross-entropy on the softmax outputs, ``-reduce_mean(y * log(clip(p,
1e-10, inf)) + (1 - y) * log(clip(1 - p, 1e-10, inf)))`` (an element-wise binary cross-entropy averaged
over the batch and the 10 classes); ``AdamOptimizer(1e-4)``; MNIST from TensorFlow's reader, in [0, 1].
MNIST needs a download: here scikit-learn's 8x8 digits in [0, 1], one channel (N, 1, 8, 8), 600 held out,
so the two poolings leave 2x2x64 = 256 inputs to ``full-1024``. Cut: MNIST's 55,000 training images make
1,100 steps an epoch; the 1,197 digits make 24, so the 10 epochs become 20 (480 steps; the original's 11,000
would take minutes on one CPU thread here).
Mechanism: at std 0.01 each layer scales its input down (5x5 kernels over 1 and 32 channels, 256 and 1024
inputs: a factor of 0.05 to 0.3 per layer, the biases of 0.01 soon dominating), so the logits start equal
for every image and every layer's gradient is damped by the tiny weights above it; Adam at 1e-4 moves each
weight by about 1e-4 a step, so the network needs hundreds of steps just to reach a useful scale.
SYMPTOM: training is slow: the accuracy lags far behind the same network started at std 0.1 (the project's
own fix; the benchmark's file quotes no run; what the ported code shows is below).
FIX: the project's commit ded6612: ``stddev=0.1`` for the weights and ``tf.constant(0.1)`` for the biases;
nothing else changes.
Run plainly (seeds 0, 1, 2): validation accuracy 0.857 / 0.877 / 0.860 (seed 0: the training loss stays at
0.325, a uniform softmax's, for the first four epochs (96 steps), then falls to 0.075 by the twentieth,
still falling; the validation accuracy 0.11 after one epoch, 0.57 after five); fixed version 0.950 / 0.957
/ 0.962 (training loss 0.42-0.46 to 0.035-0.037). Each run 7-17 seconds on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.nn.loss import _Loss
from retroprop.tensor import Tensor

from . import Program
from ._qa_common import _one_hot, constant_init, normal_init, split

SOURCE = ("TheDeepChecker GH_buggy_examples/DLT_ded6612 (gabrieleangeletti/Deep-Learning-TensorFlow before "
          "commit ded6612; MNIST -> sklearn digits in [0, 1], 8x8, one channel)")
SYMPTOM = ("weights drawn with std 0.01 and biases of 0.01: the ConvNet's outputs start flat and Adam at "
           "1e-4 takes far longer to learn than from the project's std 0.1")
FIX = "the project's commit ded6612: weights truncated-normal with std 0.1, biases 0.1"
SPLIT = "heldout"
ROUND = 15
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"vanishing_gradients", "underfitting"})

N_VAL = 600
EPOCHS, BATCH = 20, 50


class SoftmaxElementwiseCrossEntropy(_Loss):
    """The project's ``cross_entropy`` on the softmax of the logits: ``-mean(y log p + (1 - y) log(1 - p))``
    over the batch and the classes, each probability clipped below at 1e-10 (integer labels; accuracy by
    argmax)."""

    classification = True

    def forward(self, input: Tensor, target: Any) -> Tensor:
        shifted = input - np.max(input.data, axis=1, keepdims=True)  # tf.nn.softmax, stable
        exps = shifted.exp()
        p = exps / exps.sum(axis=1, keepdims=True)
        y = _one_hot(target, input.shape[-1])
        per_unit = y * p.clip(1e-10, np.inf).log() + (1.0 - y) * (1.0 - p).clip(1e-10, np.inf).log()
        return -per_unit.mean()


def _layer(layer: nn.Module, std: float, bias: float) -> nn.Module:
    normal_init(std, truncated=True)(layer.weight)  # tf.truncated_normal(stddev=std)
    constant_init(bias)(layer.bias)  # tf.constant(bias)
    return layer


def _program(seed: int, std: float, bias: float) -> Program:
    x, y = rp.data.load_digits()
    images = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_train, y_train, x_val, y_val = split(images, y.astype(np.int64), seed, N_VAL)
    rp.manual_seed(seed)
    model = nn.Sequential(
        _layer(nn.Conv2d(1, 32, 5, padding=2), std, bias), nn.ReLU(), nn.MaxPool2d(2),
        _layer(nn.Conv2d(32, 64, 5, padding=2), std, bias), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        _layer(nn.Linear(2 * 2 * 64, 1024), std, bias), nn.ReLU(), nn.Dropout(0.5),
        _layer(nn.Linear(1024, 10), std, bias))  # the softmax is in the loss
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-4, eps=1e-8)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss=SoftmaxElementwiseCrossEntropy(),
                   epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, std=0.01, bias=0.01)


def fixed(seed: int) -> Program:
    return _program(seed, std=0.1, bias=0.1)
