"""Brownlee's vanishing-gradients tutorial: five tanh layers started from RandomUniform(0, 1) weights.

SOURCE: Jason Brownlee, "How to Fix Vanishing Gradients Using the Rectified Linear Activation Function"
(machinelearningmastery.com/how-to-fix-vanishing-gradients-using-the-rectified-linear-activation-function/,
a chapter of the book "Better Deep Learning"; the same programs are mirrored on GitHub, e.g. the book's
code and its Chinese translation). The tutorial's deeper MLP: ``make_circles(n_samples=1000, noise=0.1,
random_state=1)`` rescaled to [-1, 1] with ``MinMaxScaler``, the first 500 points for training and the
other 500 for testing; five ``Dense(5, activation='tanh', kernel_initializer=RandomUniform(minval=0,
maxval=1))`` and ``Dense(1, activation='sigmoid')`` with the same initializer (zero biases); binary
cross-entropy; ``SGD(lr=0.01, momentum=0.9)``; Keras's default batch 32 (shuffled); 500 epochs. Nothing is
cut. Seed ``s`` draws the circles with ``random_state = 1 + s`` (seed 0 is the tutorial's draw), the weights
and the batch order. The sigmoid output under binary cross-entropy is the logits form here
(``bce_with_logits``), the same function.
SYMPTOM: "Train: 0.530, Test: 0.468": the deeper model cannot learn the problem (its one-hidden-layer
version with the same initializer reached about 0.82), and its accuracy gets worse as training goes on.
Mechanism: every weight starts positive (mean 0.5), so each unit of a layer sums the previous layer's
outputs with the same sign: the units of layers 2-5 start as near-copies of one monotone function of the
input, driven towards tanh's flat tails; the gradient reaching the first layers is multiplied by one small
tanh derivative per layer, and the network behaves like a linear classifier, which cannot separate two
concentric circles.
FIX: Keras's default Glorot-uniform initializer for the same five tanh layers (the first extension the
tutorial suggests: the deep tanh MLP with Xavier-uniform initialization), which changes only the
initializer. The tutorial's own fix, ReLU with He-uniform
weights (0.840 there), is not the twin: plainly run on these draws it reached 0.850 and 0.808 on seeds 0
and 1 but its five-unit ReLU layers were silent from the start on seed 2 (0.488, loss flat at 0.693).
Run plainly (seeds 0, 1, 2): validation accuracy 0.484 / 0.490 / 0.566 (training loss 0.99-1.02 at the
first epoch, 0.692 / 0.693 / 0.600 at the last; training accuracy 0.51 / 0.49 / 0.62); fixed version
0.844 / 0.802 / 0.826 (training loss 0.38 / 0.31 / 0.30). Each run about 3 seconds. Note: on the tutorial's
own draw of the data (``random_state=1`` for every seed) the buggy version stayed at chance on seeds 0 and 1
(0.484, 0.508) but learned on seed 2 (0.826 against 0.850 fixed): the failure depends on the draw, as the
tutorial's "your results may vary" warns.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("machinelearningmastery.com/how-to-fix-vanishing-gradients-using-the-rectified-linear-activation-"
          "function (the tutorial's deeper tanh MLP; data generated as there, sklearn make_circles)")
SYMPTOM = "Train 0.530, Test 0.468: five tanh layers from RandomUniform(0, 1) weights fail on the circles"
FIX = "Glorot-uniform weights for the same tanh layers (the Xavier init the tutorial suggests trying)"
SPLIT = "heldout"
ROUND = 13
EXPECTED = frozenset({"vanishing_gradients"})
ALLOWED = frozenset({"saturated_activations", "underfitting", "slow_convergence"})

N_TRAIN = 500
HIDDEN = 5
EPOCHS = 500


def _uniform01(weight) -> None:
    """Keras's ``RandomUniform(minval=0, maxval=1)``."""
    nn.init.uniform_(weight, 0.0, 1.0)


def _layer(n_in: int, n_out: int, bug: bool) -> nn.Linear:
    if not bug:
        return dense(n_in, n_out)  # Keras's default: Glorot-uniform, zero bias
    layer = nn.Linear(n_in, n_out, init=_uniform01)
    nn.init.zeros_(layer.bias)
    return layer


def _program(seed: int, bug: bool) -> Program:
    from sklearn.datasets import make_circles
    from sklearn.preprocessing import MinMaxScaler

    x, y = make_circles(n_samples=1000, noise=0.1, random_state=1 + seed)
    x = MinMaxScaler(feature_range=(-1, 1)).fit_transform(x).astype(np.float32)
    y = y.astype(np.float32).reshape(-1, 1)
    rp.manual_seed(seed)
    layers: list[nn.Module] = [_layer(2, 5, bug), nn.Tanh()]
    for _ in range(HIDDEN - 1):
        layers += [_layer(5, 5, bug), nn.Tanh()]
    layers.append(_layer(5, 1, bug))  # the output sigmoid is inside the loss
    model = nn.Sequential(*layers)
    optimizer = rp.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return Program(model, optimizer, x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:],
                   loss="bce_with_logits", epochs=EPOCHS, batch_size=32, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
