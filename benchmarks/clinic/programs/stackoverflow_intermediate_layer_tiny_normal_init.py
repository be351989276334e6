"""StackOverflow "Intermediate layer makes tensorflow optimizer to stop working": N(0, 1e-3) init.

SOURCE: the StackOverflow question "Intermediate layer makes tensorflow optimizer to stop working" and its
accepted answer (read at its mirrors techfeed.net/pt/473708 and e-learn.cn/topic/463140; the question's
number was not found). The question's TensorFlow program learns the identity of a scalar signal: each
step feeds one input ``I ~ U(-1, 1)``; ``O = relu(I W + b)`` (16 units), then the intermediate layer the
question adds, ``O1 = relu(O W1 + b1)`` (16 units), and ``O2 = O1 W2 + b2``; the estimate is ``2 * O2``
and the loss ``reduce_sum(square(I - estimate))`` (one sample: its squared error); every weight and bias
is drawn from ``random_normal_initializer(0, 1e-3)``; ``GradientDescentOptimizer(1e-3)`` with each
gradient clipped to [-4.5, 4.5] (``clip_by_value``); 10,000 steps of one sample. The question then checks
10 fresh inputs; here 500 fresh inputs are the validation data (targets: the inputs). Nothing is cut.
SYMPTOM: without the intermediate layer the weights move and the network learns; with it the weights
hardly move and the estimate does not follow the input.
Mechanism: with every weight and bias of size 1e-3 the network sits at the flat saddle around zero: each
layer's gradient is a product of the other layers' tiny weights, 1e-3 smaller with the added layer (the
answer's measured gradient spread: 0.005 without it, 0.000002 with it). The gradient vanishes in every layer
alike, not from the last layer to the first (first / last RMS gradient 0.03-0.17 on 64 inputs at the start,
every one 2e-7 to 7e-5), so the run is a plateau: steps of 1e-9 against weights of 1e-3.
FIX: the accepted answer's: Xavier initialization for the weights (``xavier_initializer()``, TensorFlow's
default uniform form) and biases at 0.1 (``constant_initializer(0.1)``, so that most ReLUs start active);
same network, loss, optimizer, clipping and steps.
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 1.005 / 1.002 / 1.021 (the estimate stays at
0: over the 10,000 steps no weight moves by more than 1.3e-4); fixed version 0.0020 / 0.0013 / 0.0003.
Each run under 2 seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.nn.utils import clip_grad_value_
from retroprop.tensor import Tensor

from . import Program

SOURCE = ("StackOverflow question 'Intermediate layer makes tensorflow optimizer to stop working' (mirrored "
          "at techfeed.net/pt/473708 and e-learn.cn/topic/463140; the question's own generated data)")
SYMPTOM = "adding an intermediate ReLU layer stops the optimizer: the weights hardly move, nothing is learned"
FIX = "Xavier-initialized weights and biases at 0.1 instead of N(0, 1e-3) for both (the accepted answer)"
SPLIT = "heldout"
ROUND = 11
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"vanishing_gradients", "underfitting", "batch_too_small"})

WIDTH, STEPS, N_VAL = 16, 10000, 500


class Double(nn.Module):
    """The question's ``estimate0 = 2.0 * O2``."""

    def forward(self, x: Tensor) -> Tensor:
        return x * 2.0

    def torch_twin(self, dtype: Any) -> Any:
        """The same module in torch (``_torch_twin.convert_module``)."""
        import torch

        class TorchDouble(torch.nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x * 2.0

        return TorchDouble()


class ClipValueSGD(rp.optim.SGD):
    """``GradientDescentOptimizer`` applied to gradients clipped by ``tf.clip_by_value(g, -c, c)``."""

    def __init__(self, params, clip_value: float, **options) -> None:
        super().__init__(params, **options)
        self.clip_value = float(clip_value)

    def step(self, *args, **kwargs):
        for group in self.param_groups:
            clip_grad_value_(group["params"], self.clip_value)
        return super().step(*args, **kwargs)

    def torch_twin(self) -> type:
        """The same optimizer's class in torch (``_torch_twin.convert_optimizer``), its clipping included."""
        import torch

        clip_value = self.clip_value

        class TorchClipValueSGD(torch.optim.SGD):
            def step(self, closure=None):
                for group in self.param_groups:
                    torch.nn.utils.clip_grad_value_(
                        [p for p in group["params"] if p.grad is not None], clip_value)
                return super().step(closure)

        return TorchClipValueSGD


def _layer(n_in: int, n_out: int, tiny: bool) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    if tiny:  # random_normal_initializer(0, 1e-3) for the weights and the biases
        nn.init.normal_(layer.weight, 0.0, 1e-3)
        nn.init.normal_(layer.bias, 0.0, 1e-3)
    else:  # xavier_initializer() (uniform) and constant_initializer(0.1)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.constant_(layer.bias, 0.1)
    return layer


def _program(seed: int, tiny: bool) -> Program:
    rng = np.random.default_rng(seed)
    x_train = (2.0 * rng.random((STEPS, 1)) - 1.0).astype(np.float32)
    x_val = (2.0 * rng.random((N_VAL, 1)) - 1.0).astype(np.float32)
    rp.manual_seed(seed)
    model = nn.Sequential(_layer(1, WIDTH, tiny), nn.ReLU(), _layer(WIDTH, WIDTH, tiny), nn.ReLU(),
                          _layer(WIDTH, 1, tiny), Double())
    optimizer = ClipValueSGD(model.parameters(), 4.5, lr=1e-3)
    return Program(model, optimizer, x_train, x_train.copy(), x_val, x_val.copy(), loss="mse", epochs=1,
                   batch_size=1, metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, tiny=True)


def fixed(seed: int) -> Program:
    return _program(seed, tiny=False)
