"""DeepCrime mutant of its MNIST subject: the optimiser changed from Adadelta(1.0) to Keras's default 'sgd'.

SOURCE: DeepCrime (Humbatova, Jahangirova and Tonella, ISSTA 2021, "DeepCrime: Mutation Testing of Deep
Learning Systems based on Real Faults"; github.com/dlfaults/deepcrime), subject ``test_models/mnist_conv.py``
and its mutation operator "change optimisation function" (OCH, ``operators/optimiser_operators.py``), the
mutant the replication package's getting-started run builds and ships trained
(``trained_models/mnist_change_optimisation_function_mutated0_MP_sgd_*.h5``): the call to the optimiser is
replaced by the name ``'sgd'``, which Keras turns into ``SGD()`` with its defaults (lr 0.01, no momentum).
DeepCrime derives its operators from Humbatova et al.'s taxonomy of real faults in deep learning systems
(ICSE 2020).
The original program (the Keras mnist_cnn example as DeepCrime's subject): MNIST in [0, 1] (x / 255), one
channel; ``Conv2D(32, 3x3)`` + ReLU, ``Conv2D(64, 3x3)`` + ReLU ('valid'), ``MaxPooling2D(2)``,
``Dropout(0.25)``, ``Flatten``, ``Dense(128)`` + ReLU, ``Dropout(0.5)``, ``Dense(10)`` + softmax (Keras's
Glorot-uniform kernels, zero biases); ``categorical_crossentropy`` on one-hot labels;
``Adadelta(learning_rate=1.0)`` (rho 0.95, epsilon 1e-7); batch 128, 12 epochs; accuracy on the test set.
MNIST needs a download: here scikit-learn's 8x8 digits in [0, 1] (x / 16), one channel (N, 1, 8, 8), 600
held out for validation; the two 'valid' convolutions and the pooling leave 2x2x64 = 256 features for
``Dense(128)`` (9,216 on MNIST). Keras's softmax + categorical cross-entropy is ``cross_entropy`` on the
logits here (the same function). Adadelta is not among retroprop's optimizers: ``KerasAdadelta`` below
is Keras's update rule. Nothing else is cut, but the digits' 1,197 training images make 10 steps an epoch
where MNIST's 60,000 make 469, so the 12 epochs are 120 steps instead of 5,628: the mutant has far fewer
steps to make up for its small ones here than on MNIST, and its deficit is larger.
SYMPTOM: DeepCrime judges a mutant killed when its accuracy over 20 runs is significantly lower than the
original's; the fault it models is an optimiser that learns far more slowly than Adadelta at 1.0 in the
same epochs (the replication package ships the trained mutants, not a run log; what the ported code shows
is below).
FIX: the original subject: ``Adadelta(learning_rate=1.0)``; the network, data, batch and epochs unchanged.
Mechanism: Adadelta at lr 1.0 takes steps of sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g per weight,
about 1e-3 from the first step whatever the gradient's scale, and growing as the updates accumulate; SGD
at 0.01 moves each weight by 0.01 times its gradient: at the start (seed 0) the kernels' mean gradients
are 5e-4 to 7e-3, so their steps are 5e-6 to 7e-5, against weights of 0.04-0.1: 120 such steps barely
leave the starting point, and the loss is still near ln 10 at the end.
Run plainly (seeds 0, 1, 2): validation accuracy 0.335 / 0.403 / 0.288 (training loss 2.30-2.32 in the
first epoch, still 2.25-2.26 in the twelfth); fixed version 0.952 / 0.947 / 0.955 (training loss 2.24-2.26
to 0.25-0.30). Each run about 1.3 seconds on one CPU thread.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.optim.optimizer import Optimizer, ParamsT, check_real, decayed_grad

from . import Program
from ._keras import dense
from ._qa_common import split

SOURCE = ("DeepCrime (github.com/dlfaults/deepcrime), subject test_models/mnist_conv.py, mutant "
          "change_optimisation_function -> 'sgd' (trained_models/mnist_change_optimisation_function_mutated0_"
          "MP_sgd_*.h5); MNIST -> sklearn digits in [0, 1], 8x8, one channel")
SYMPTOM = ("the optimiser mutated from Adadelta(lr=1.0) to Keras's default SGD (lr 0.01): the accuracy after "
           "the same 12 epochs is significantly lower")
FIX = "the original subject's Adadelta(learning_rate=1.0) (rho 0.95, epsilon 1e-7)"
SPLIT = "heldout"
ROUND = 20
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"underfitting"})

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


def _conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """A Keras ``Conv2D(out, (3, 3))``, 'valid': Glorot-uniform kernel, zero bias."""
    layer = nn.Conv2d(in_channels, out_channels, 3)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _program(seed: int, mutant: bool) -> Program:
    x, y = rp.data.load_digits()
    images = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_train, y_train, x_val, y_val = split(images, y.astype(np.int64), seed, N_VAL)
    rp.manual_seed(seed)
    model = nn.Sequential(
        _conv(1, 32), nn.ReLU(), _conv(32, 64), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), dense(2 * 2 * 64, 128), nn.ReLU(), nn.Dropout(0.5), dense(128, 10))
    if mutant:
        optimizer = rp.optim.SGD(model.parameters(), lr=0.01)  # keras.optimizers.get('sgd')
    else:
        optimizer = KerasAdadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, mutant=True)


def fixed(seed: int) -> Program:
    return _program(seed, mutant=False)
