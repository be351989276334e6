"""googlecodelabs/feedback #228: the codelab's five-layer sigmoid MNIST network under plain gradient descent.

SOURCE: https://github.com/googlecodelabs/feedback/issues/228 ("[cloud-tensorflow-mnist]: Step 7 requires
AdamOptimizer"), on the "TensorFlow and deep learning, without a PhD" codelab's program
``mnist_2.0_five_layers_sigmoid.py`` (github.com/GoogleCloudPlatform/tensorflow-without-a-phd,
``tensorflow-mnist-tutorial/``; first published as martin-gorner/tensorflow-mnist-tutorial): 784 -> 200 ->
100 -> 60 -> 30 -> 10, a sigmoid after each hidden layer, weights ``truncated_normal(stddev=0.1)``, zero
biases, ``softmax_cross_entropy_with_logits`` averaged over the batch and multiplied by 100, batches of 100
MNIST images in [0, 1], 10,000 iterations. The asker followed step 7's text, which adds the layers but keeps
step 6's ``GradientDescentOptimizer``; the file itself uses ``AdamOptimizer``. The buggy version is the file
with its optimizer line back to ``tf.train.GradientDescentOptimizer(learning_rate)`` (learning_rate 0.003,
as in the file: on the loss times 100, a step of 0.3 on the mean cross-entropy). MNIST needs a download:
here scikit-learn's 8x8 digits enlarged to 28x28 (784 inputs) in [0, 1], 600 of them held out (the original
reports the test set). The loss times 100 is written as a loss module. Cut: 100 epochs of the smaller data
set, 1,200 steps instead of 10,000.
SYMPTOM: "the network sitting at around 0.2 accuracy before improving late in the run to 0.68" (plain
gradient descent); "changing to AdamOptimizer pushed the accuracy to 0.97".
FIX: the file's own optimizer, ``tf.train.AdamOptimizer(0.003)`` (TensorFlow's defaults otherwise: betas
0.9 / 0.999, epsilon 1e-8), everything else unchanged.
The mechanism: each backward pass through a sigmoid layer multiplies the error by at most 1/4, and the
0.1-std weights of 200/100/60/30-unit layers shrink it further: the first layer's gradient is ~1e-3.5 of the
last layer's at the start, so plain gradient descent at a fixed rate leaves the lower layers where they
started and the loss on its plateau (100 ln 10 = 230); Adam's per-parameter scaling moves every layer.
Run plainly (seeds 0, 1, 2): validation accuracy 0.258 / 0.090 / 0.083 (training loss 231 -> 209, 232 ->
230, 231 -> 230); fixed version 0.957 / 0.960 / 0.968. Each run 3 to 5 seconds.
"""

from __future__ import annotations

import itertools
from typing import Any

import retroprop as rp
from retroprop import nn
from retroprop.nn.loss import _Loss
from retroprop.tensor import Tensor

from . import Program
from ._qa_common import dense, digits_784, normal_init

SOURCE = ("https://github.com/googlecodelabs/feedback/issues/228 (codelab program "
          "tensorflow-without-a-phd/tensorflow-mnist-tutorial/mnist_2.0_five_layers_sigmoid.py; MNIST -> "
          "sklearn digits enlarged to 28x28, [0, 1])")
SYMPTOM = "accuracy sits around 0.2 for most of the run under GradientDescentOptimizer"
FIX = "AdamOptimizer(0.003), as the codelab's file has it"
SPLIT = "heldout"
ROUND = 10
EXPECTED = frozenset({"vanishing_gradients"})
ALLOWED = frozenset({"slow_convergence", "underfitting"})

SIZES = (784, 200, 100, 60, 30, 10)
LR, EPOCHS, BATCH = 0.003, 100, 100


class CrossEntropyTimes100(_Loss):
    """The codelab's ``reduce_mean(softmax_cross_entropy_with_logits(...)) * 100`` (integer labels)."""

    classification = True
    doctor_loss_kind = "cross_entropy"

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return rp.F.cross_entropy(input, target) * 100.0


def _program(seed: int, adam: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(SIZES):
        layer = dense(n_in, n_out, init=normal_init(0.1, truncated=True))
        nn.init.zeros_(layer.bias)
        layers += [layer] if n_out == SIZES[-1] else [layer, nn.Sigmoid()]
    model = nn.Sequential(*layers)  # softmax inside the loss
    if adam:
        optimizer = rp.optim.Adam(model.parameters(), lr=LR, eps=1e-8)
    else:
        optimizer = rp.optim.SGD(model.parameters(), lr=LR)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss=CrossEntropyTimes100(),
                   epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, adam=False)


def fixed(seed: int) -> Program:
    return _program(seed, adam=True)
