"""Machine Learning Mastery, "How to Avoid Exploding Gradients With Gradient Clipping": an MLP regression
whose SGD-with-momentum updates blow up to NaN.

SOURCE: https://machinelearningmastery.com/how-to-avoid-exploding-gradients-in-neural-networks-with-gradient-clipping/
(Jason Brownlee, 2019; sections "Multilayer Perceptron With Exploding Gradients" and "MLP With Gradient
Norm Scaling"). The tutorial's program: ``make_regression(n_samples=1000, n_features=20, noise=0.1,
random_state=1)``, inputs and targets left as generated (the targets unscaled, spread over hundreds); the
first 500 rows train, the other 500 test (passed as ``validation_data``); ``Dense(25, relu,
kernel_initializer='he_uniform')`` then ``Dense(1, linear)`` (Keras's Glorot-uniform kernel, zero biases);
``SGD(lr=0.01, momentum=0.9)``, ``mean_squared_error``; 100 epochs at Keras's default batch of 32.
Nothing is replaced (scikit-learn draws the same data) and nothing is cut; the seed draws the weights and
the shuffles, the data stay the tutorial's ``random_state=1``.
SYMPTOM: the tutorial's first run: the training and test MSE are NaN (the loss overflows in the first
epoch): "exploding gradients".
FIX: the tutorial's cure: the same optimizer with ``clipnorm=1.0`` - in the Keras 2 it used, every step's
gradients rescaled together so that their global L2 norm is at most 1 (``clip_grad_norm_`` over all
parameters); data, network, learning rate, momentum and epochs unchanged.
The mechanism: targets of size ~100 make the first errors, and with them the output layer's gradient,
hundreds of times larger than a unit-scale problem's; at lr 0.01 with momentum 0.9 the first updates
overshoot, each larger error gives a larger gradient, and the weights grow until the loss overflows.
Clipping the norm to 1 bounds each step, so the momentum SGD walks down the loss at a bounded pace.
Run plainly (seeds 0, 1, 2) (targets' std 143): the loss overflows at step 9 / 9 / 10 of the first epoch
(fit stops there, keeping the last finite weights, already huge): validation MSE / var(y_val) = inf /
6.9e60 / 2.7e61; fixed version 0.0004 / 0.0005 / 0.0009 (training loss 2.0e4 -> 1.6-2.7 over the 100
epochs). Each run under a second.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.nn.utils import clip_grad_norm_

from . import Program

SOURCE = ("https://machinelearningmastery.com/how-to-avoid-exploding-gradients-in-neural-networks-with-"
          "gradient-clipping/ (the MLP with exploding gradients; data generated as there: sklearn "
          "make_regression, random_state=1)")
SYMPTOM = "the training and test MSE are NaN: the loss overflows (exploding gradients)"
FIX = "the tutorial's cure: SGD(lr=0.01, momentum=0.9, clipnorm=1.0), gradients rescaled to global norm <= 1"
SPLIT = "heldout"
ROUND = 16
EXPECTED = frozenset({"exploding_gradients"})
ALLOWED = frozenset({"unscaled_targets", "non_finite", "unstable_loss"})

N_TRAIN, EPOCHS, BATCH, LR, MOMENTUM, CLIPNORM = 500, 100, 32, 0.01, 0.9, 1.0


class ClipNormSGD(rp.optim.SGD):
    """Keras 2's ``SGD(clipnorm=c)``: every step's gradients scaled together to a global L2 norm of at
    most ``c`` before the (momentum) update."""

    def __init__(self, params: Any, clipnorm: float, **options: Any) -> None:
        super().__init__(params, **options)
        self.clipnorm = float(clipnorm)

    def step(self, *args: Any, **kwargs: Any) -> Any:
        clip_grad_norm_([p for group in self.param_groups for p in group["params"]], self.clipnorm)
        return super().step(*args, **kwargs)

    def torch_twin(self) -> type:
        """The same optimizer's class in torch (``_torch_twin.convert_optimizer``), its clipping included."""
        import torch

        clipnorm = self.clipnorm

        class TorchClipNormSGD(torch.optim.SGD):
            def step(self, closure: Any = None) -> Any:
                params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
                torch.nn.utils.clip_grad_norm_(params, clipnorm)
                return super().step(closure)

        return TorchClipNormSGD


def _program(seed: int, clip: bool) -> Program:
    from sklearn.datasets import make_regression

    x, y = make_regression(n_samples=1000, n_features=20, noise=0.1, random_state=1)
    x, y = x.astype(np.float32), y.astype(np.float32).reshape(-1, 1)
    rp.manual_seed(seed)
    hidden = nn.Linear(20, 25, init=lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"))
    output = nn.Linear(25, 1, init=nn.init.xavier_uniform_)
    nn.init.zeros_(hidden.bias)
    nn.init.zeros_(output.bias)
    model = nn.Sequential(hidden, nn.ReLU(), output)
    if clip:
        optimizer = ClipNormSGD(model.parameters(), CLIPNORM, lr=LR, momentum=MOMENTUM)
    else:
        optimizer = rp.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    return Program(model, optimizer, x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:], loss="mse",
                   epochs=EPOCHS, batch_size=BATCH, metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, clip=False)


def fixed(seed: int) -> Program:
    return _program(seed, clip=True)
