"""DeepCrime's MNIST subject (github.com/dlfaults/deepcrime, test_models/mnist_conv.py), shared by the
ports of its mutants: Keras's mnist_cnn network under Adadelta at 1.0, batches of 128 for 12 epochs,
on scikit-learn's 8x8 digits in [0, 1] (one channel) with 600 held out for validation."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.optim.optimizer import Optimizer, ParamsT, check_real, decayed_grad

from ._keras import dense
from ._qa_common import split

N_VAL = 600
EPOCHS, BATCH = 12, 128


class KerasAdadelta(Optimizer):
    """Keras's ``Adadelta``: ``E[g^2] = rho E[g^2] + (1 - rho) g^2``; ``dx = sqrt(E[dx^2] + eps) /
    sqrt(E[g^2] + eps) * g``; ``E[dx^2] = rho E[dx^2] + (1 - rho) dx^2``; ``w -= lr * dx``."""

    _state_arrays: ClassVar[tuple[str, ...]] = ("square_avg", "acc_delta")

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.95, eps: float = 1e-7) -> None:
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps, "weight_decay": 0.0, "maximize": False})

    def _check_options(self, options: dict[str, Any], where: str) -> None:
        check_real("KerasAdadelta", "lr", options["lr"], where=where)
        check_real("KerasAdadelta", "rho", options["rho"], high=1.0, where=where)
        check_real("KerasAdadelta", "eps", options["eps"], where=where)

    def _step_group(self, group: dict[str, Any]) -> None:
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        for p, grad in self._grads(group):
            param = p.data
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["square_avg"] = np.zeros_like(param)
                state["acc_delta"] = np.zeros_like(param)
            state["step"] += 1
            g, _ = decayed_grad(param, grad, 0.0, False)
            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            square_avg *= rho
            square_avg += (1.0 - rho) * g * g
            delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * g
            acc_delta *= rho
            acc_delta += (1.0 - rho) * delta * delta
            param -= (lr * delta).astype(param.dtype)


def digits(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_val, y_val): the digits as (N, 1, 8, 8) images in [0, 1], ``N_VAL`` held out."""
    x, y = rp.data.load_digits()
    images = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    return split(images, y.astype(np.int64), seed, N_VAL)


def conv(in_channels: int, out_channels: int, zeros: bool = False) -> nn.Conv2d:
    """A Keras ``Conv2D(out, (3, 3))``, 'valid': Glorot-uniform (or zeros) kernel, zero bias."""
    layer = nn.Conv2d(in_channels, out_channels, 3)
    if zeros:
        nn.init.zeros_(layer.weight)  # kernel_initializer='zeros'
    else:
        nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def subject(zeros_first: bool = False, hidden: nn.Module | None = None,
            output: nn.Module | None = None) -> nn.Sequential:
    """The subject's network: Conv2D(32) ReLU, Conv2D(64) ReLU, MaxPool(2), Dropout(0.25), Flatten,
    Dense(128) with ``hidden`` (ReLU), Dropout(0.5), Dense(10) and ``output`` when given (the loss
    applies the softmax otherwise). ``zeros_first``: the first kernel started at zero."""
    layers = [conv(1, 32, zeros=zeros_first), nn.ReLU(), conv(32, 64), nn.ReLU(), nn.MaxPool2d(2),
              nn.Dropout(0.25), nn.Flatten(), dense(2 * 2 * 64, 128),
              hidden if hidden is not None else nn.ReLU(), nn.Dropout(0.5), dense(128, 10)]
    return nn.Sequential(*layers, *([output] if output is not None else []))
