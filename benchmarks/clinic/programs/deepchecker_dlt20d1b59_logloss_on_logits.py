"""TheDeepChecker GitHub example DLT_20d1b59: a ConvNet whose hand-written log-loss gets the raw logits.

SOURCE: TheDeepChecker, GH_buggy_examples/DLT_20d1b59 (command_line/run_conv_net_under_test.py,
models/convolutional_models/conv_net.py, model.py;
https://github.com/thedeepchecker/thedeepchecker/tree/master/GH_buggy_examples/DLT_20d1b59), the
Deep-Learning-TensorFlow project (github.com/gabrieleangeletti/Deep-Learning-TensorFlow) before its commit
20d1b59 ("fix: use tf.nn.softmax() only with cross_entropy loss"). The same fix is case IPS-7 / IPS-8 of
Zhang et al.'s ISSTA 2018 study (github.com/ForeverZyh/TensorFlow-Program-Bugs, Github/IPS-7, IPS-8) and
bug 004 of Defects4ML (github.com/mohmehmo/defects4ml); Defects4ML 005 is the same missing softmax before
the same cost in the project's DBN (commit 1bcc1ef, "missing tf.nn.softmax() in create_softmax_layer"),
and its description gives the symptom. The program, as the file's command line runs it: ``--layers
conv2d-5-5-32-1,maxpool-2,conv2d-5-5-64-1,maxpool-2,full-1024,softmax --batch_size 50 --learning_rate 1e-4
--opt adam --dropout 0.5`` (10 epochs, the default): two 5x5 'SAME' ReLU convolutions (32 and 64 maps, stride
1), each followed by 2x2 max-pooling, ``full-1024`` + ReLU with dropout (keep 0.5), and the last linear layer
(10 logits); every weight ``tf.truncated_normal(stddev=0.1)``, every bias ``tf.constant(0.1)``;
``AdamOptimizer(1e-4)``; MNIST from TensorFlow's reader, in [0, 1]. The bug: the network hands ``self.logits``
to the project's ``cross_entropy`` cost, ``-reduce_mean(y * log(clip(out, 1e-10, inf)) + (1 - y) * log(clip(1
- out, 1e-10, inf)))`` (an element-wise binary cross-entropy over the batch and the 10 classes), which expects
probabilities and applies no softmax of its own; accuracy is the argmax of the softmax of the logits.
MNIST needs a download: here scikit-learn's 8x8 digits in [0, 1], one channel (N, 1, 8, 8), 600 held out,
so the two poolings leave 2x2x64 = 256 inputs to ``full-1024`` (as in the port of DLT_ded6612, the same
network). Cut: MNIST's 55,000 training images make 1,100 steps an epoch; the 1,197 digits make 24, so the
10 epochs become 20 (480 steps).
SYMPTOM (Defects4ML 005, the same bug in the project's DBN): "accuracy of the model stays near 10 %";
the cost is a log-loss fed unbounded values, so it is not bounded below.
FIX: the project's commit 20d1b59: ``model_output = tf.nn.softmax(model_output)`` at the top of the
``cross_entropy`` cost (the loss now sees probabilities); the network, optimizer and data unchanged.
Mechanism: on a raw logit z the term ``-log(clip(z))`` of the true class pulls z up only while z > 0 (its
gradient is cut where the clip holds, z <= 1e-10) and goes negative without bound once z > 1; each other
class's ``-log(clip(1 - z))`` pushes its logit down, without bound below 0. Every logit unit is a "wrong
class" for nine tenths of the images, so it is pushed below 0, where its true-class images can no longer
pull it back: the logits of all classes sink, the loss falls below 0 and keeps falling, and the argmax says
little about the digit.
Run plainly (seeds 0, 1, 2): validation accuracy 0.113 / 0.093 / 0.118 (training loss 2.6 / 4.5 / 7.1 in the
first epoch, -2.6 / -1.5 / -2.2 in the twentieth and still falling; on seed 0 it is below 0 from the seventh
epoch on, and every validation logit ends between -240 and -300 and the argmax names class 8 for 584 of the
600 images); fixed version 0.950 / 0.957 / 0.962 (training loss 0.42-0.46 to 0.034-0.037). Each run 11-14
seconds on one CPU thread.
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

SOURCE = ("TheDeepChecker GH_buggy_examples/DLT_20d1b59 (gabrieleangeletti/Deep-Learning-TensorFlow before "
          "commit 20d1b59; also TensorFlow-Program-Bugs Github/IPS-7, Defects4ML 004); MNIST -> sklearn "
          "digits in [0, 1], 8x8, one channel")
SYMPTOM = ("the hand-written cross-entropy (on clipped probabilities) gets the raw logits: the loss goes "
           "negative without bound and the accuracy stays low")
FIX = "the project's commit 20d1b59: apply tf.nn.softmax to the model output inside the cross_entropy cost"
SPLIT = "heldout"
ROUND = 20
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"underfitting", "unstable_loss", "exploding_gradients", "dead_relu"})

N_VAL = 600
EPOCHS, BATCH = 20, 50


class ElementwiseCrossEntropy(_Loss):
    """The project's ``cross_entropy`` cost: ``-mean(y log(clip(out, 1e-10)) + (1 - y) log(clip(1 - out,
    1e-10)))`` over the batch and the classes, on ``out`` as given (``softmax=False``, the bug) or on the
    softmax of the logits (``softmax=True``, commit 20d1b59). Integer labels; accuracy by argmax."""

    classification = True

    def __init__(self, softmax: bool) -> None:
        super().__init__()
        self.softmax = softmax

    def forward(self, input: Tensor, target: Any) -> Tensor:
        out = input
        if self.softmax:
            shifted = input - np.max(input.data, axis=1, keepdims=True)  # tf.nn.softmax, stable
            exps = shifted.exp()
            out = exps / exps.sum(axis=1, keepdims=True)
        y = _one_hot(target, input.shape[-1])
        per_unit = y * out.clip(1e-10, np.inf).log() + (1.0 - y) * (1.0 - out).clip(1e-10, np.inf).log()
        return -per_unit.mean()

    def extra_repr(self) -> str:
        return f"softmax={self.softmax}, element-wise, clipped at 1e-10"


def _layer(layer: nn.Module) -> nn.Module:
    normal_init(0.1, truncated=True)(layer.weight)  # tf.truncated_normal(stddev=0.1)
    constant_init(0.1)(layer.bias)  # tf.constant(0.1)
    return layer


def _program(seed: int, softmax_in_loss: bool) -> Program:
    x, y = rp.data.load_digits()
    images = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_train, y_train, x_val, y_val = split(images, y.astype(np.int64), seed, N_VAL)
    rp.manual_seed(seed)
    model = nn.Sequential(
        _layer(nn.Conv2d(1, 32, 5, padding=2)), nn.ReLU(), nn.MaxPool2d(2),
        _layer(nn.Conv2d(32, 64, 5, padding=2)), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        _layer(nn.Linear(2 * 2 * 64, 1024)), nn.ReLU(), nn.Dropout(0.5),
        _layer(nn.Linear(1024, 10)))  # self.logits
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-4, eps=1e-8)
    return Program(model, optimizer, x_train, y_train, x_val, y_val,
                   loss=ElementwiseCrossEntropy(softmax=softmax_in_loss), epochs=EPOCHS, batch_size=BATCH,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, softmax_in_loss=False)


def fixed(seed: int) -> Program:
    return _program(seed, softmax_in_loss=True)
