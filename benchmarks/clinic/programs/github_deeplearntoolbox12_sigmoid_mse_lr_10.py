"""DeepLearnToolbox issue #12: the 784-800-800-10 sigmoid dropout example trained at learning rate 10.

SOURCE: https://github.com/rasmusbergpalm/DeepLearnToolbox/issues/12 ("poor performance in dropout
example"), on the toolbox's third neural-network example as it stood then (commit 32e18a1:
``NN/nnexamples.m``, ``nnsetup.m``, ``nnff.m``, ``nnbp.m``, ``nnapplygrads.m``, ``nntrain.m``,
``nntest.m``), fixed by the maintainer in commit b2ddb37 ("fixes #12"). The program: MNIST divided by
255 ([0, 1]), one-hot targets; ``nnsetup([784 800 800 10])``: a sigmoid after every layer, the output one
included; weights U(-a, a) with a = 4 * sqrt(6 / (fan_in + fan_out)) (Glorot's bound for sigmoid units),
zero biases; ``dropoutFraction = 0.5`` on both hidden layers, the toolbox's way (units zeroed at random in
training, the survivors not rescaled; at test time every hidden output multiplied by 1 - 0.5); the loss
``1/2 * sum(e.^2) / m`` (half the squared error summed over the 10 outputs, averaged over the batch);
plain mini-batch gradient descent (no momentum, no weight decay at that commit) at ``alpha = 1e1``; batch
100, reshuffled every epoch; 10 epochs; test error from the argmax of the outputs. MNIST needs a download:
here scikit-learn's 8x8 digits enlarged to 28x28 (784 inputs) in [0, 1], 600 of them held out as the
test set. The loss is ``QuadraticCost`` (the same function); the toolbox's dropout is written out as a
``Dropout`` whose forward does what ``nnff`` does. Cut: the data (1,197 training images instead of
60,000; each epoch's last batch holds 97 images, where ``nntrain`` needs whole batches); 60 epochs here are
720 steps where the original's 10 were 6,000.
SYMPTOM: the mean squared error settles at exactly 0.5 from the second epoch on (0.50315, 0.50001, 0.5,
...) and the test error is 89.68%.
FIX: the maintainer's commit b2ddb37: ``nn.alpha = 1e0`` (learning rate 1), everything else unchanged.
The mechanism: at rate 10 the steps drive the output sigmoids to 0 for every class (half the squared error
of an all-zero output against a one-hot target is exactly 0.5), where their derivative, which the quadratic
cost multiplies into every gradient, is ~0: nothing moves them back.
Run plainly (seeds 0, 1, 2): validation accuracy 0.107 / 0.070 / 0.113 (training loss 0.58-0.63 in the
first epoch, exactly 0.5000 by the sixth and at every epoch after; validation loss 0.5000); fixed version
0.925 / 0.940 / 0.935 (training loss 0.57-0.63 -> 0.13-0.14). Each run about 8 seconds.
"""

from __future__ import annotations

from typing import Any

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import QuadraticCost, digits_784

SOURCE = ("https://github.com/rasmusbergpalm/DeepLearnToolbox/issues/12 (NN/nnexamples.m ex3 at commit "
          "32e18a1; fix: commit b2ddb37); MNIST -> sklearn digits enlarged to 28x28, [0, 1]")
SYMPTOM = "the mean squared error sticks at 0.5 from the second epoch and the test error is 89.68%"
FIX = "the maintainer's fix: learning rate (nn.alpha) 1 instead of 10"
SPLIT = "heldout"
ROUND = 15
EXPECTED = frozenset({"exploding_gradients"})
ALLOWED = frozenset({"saturated_activations", "vanishing_gradients", "unstable_loss", "slow_convergence",
                     "underfitting"})

EPOCHS, BATCH = 60, 100


class ToolboxDropout(nn.Dropout):
    """DeepLearnToolbox's dropout (``nnff`` at commit 32e18a1): in training each unit is kept when a uniform
    draw exceeds ``p`` and the kept ones are not rescaled; in testing every unit is multiplied by 1 - p."""

    def forward(self, x: Any) -> Any:
        if self.training:
            keep = rp.default_generator().random(x.shape) > self.p
            return x * keep.astype(x.dtype)
        return x * (1.0 - self.p)


def _layer(n_in: int, n_out: int) -> nn.Linear:
    """``nnsetup``'s layer: U(+-4 * sqrt(6 / (fan_in + fan_out))) weights, zero biases."""
    layer = nn.Linear(n_in, n_out, init=lambda w: nn.init.xavier_uniform_(w, gain=4.0))
    nn.init.zeros_(layer.bias)
    return layer


def _program(seed: int, alpha: float) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    model = nn.Sequential(_layer(784, 800), nn.Sigmoid(), ToolboxDropout(0.5),
                          _layer(800, 800), nn.Sigmoid(), ToolboxDropout(0.5),
                          _layer(800, 10), nn.Sigmoid())
    return Program(model, rp.optim.SGD(model.parameters(), lr=alpha), x_train, y_train, x_val, y_val,
                   loss=QuadraticCost(), epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, alpha=10.0)


def fixed(seed: int) -> Program:
    return _program(seed, alpha=1.0)
