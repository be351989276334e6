"""AutoTrainer DL_tools case 26 (gradient explosion): four layers with Keras's ``exponential`` activation.

SOURCE: AutoTrainer (github.com/shiningrain/AUTOTRAINER), ``DL_tools/code/GradientExplode/case26.py``, the
benchmark of problem programs its authors built for each training problem (the folder names the problem:
gradient explosion), with its log ``DL_tools/log/case26/case26.csv``. The program: ``simplednn`` circles
(``load_data()``: 700 training and 300 validation points in [-1, 1]); four ``Dense(5,
activation='exponential', kernel_initializer='he_uniform')`` (zero biases), then ``Dense(1,
activation='sigmoid', kernel_initializer='he_uniform')``; binary cross-entropy; Adam at Keras's defaults
(lr 0.001, eps 1e-7); batch 128; 100 epochs. Nothing is cut. ``exponential`` is ``exp(x)``, a module
here; the sigmoid output under Keras's binary cross-entropy is the logits form (``bce_with_logits``), the
same function.
SYMPTOM: the loss is NaN from the first epoch on and the accuracy 0 (AutoTrainer's log: ``nan, 0.0`` for
every epoch); the script hands the run to AutoTrainer's repair as an exploding-gradient issue. Mechanism:
each layer exponentiates a He-scaled sum of the previous one's outputs, so the values grow as a tower of
exponentials (on the training set at the start: at most 7-12 after the first layer, 5e2-9e5 after the
second, past float32's 3e38 in the third or fourth, seeds 0-2): the first loss is already NaN.
FIX: AutoTrainer's first repair for exploding gradients (``repair_strategy('balance')``: ``selu_1``): SELU
activations with LeCun-uniform kernels in every layer (its ``op_selu`` also draws the biases
LeCun-uniform; here they start at zero). The output stays a sigmoid.
Run plainly (seed 0): the loss is NaN at step 1 and ``fit`` stops there, keeping the untrained weights:
validation accuracy 0.503 (the untrained model's); fixed version 0.623 (seeds 1, 2: 0.517 / 0.547 and
0.450 / 0.830: the repaired network itself learns the circles slowly in 100 epochs; on seed 1 it gains
3 points only). Each run under a second.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.tensor import Tensor

from . import Program
from ._keras import dense
from ._simplednn import circle

SOURCE = ("AutoTrainer problem benchmark (github.com/shiningrain/AUTOTRAINER, "
          "DL_tools/code/GradientExplode/case26.py; log DL_tools/log/case26/case26.csv); data: AutoTrainer's "
          "simplednn circles, drawn with scikit-learn as they do")
SYMPTOM = ("the loss is NaN from the first epoch: four stacked exponential activations overflow to inf in "
           "the forward pass")
FIX = ("SELU activations with LeCun-uniform kernels in every hidden layer (AutoTrainer's first "
       "exploding-gradient repair, selu_1)")
SPLIT = "heldout"
ROUND = 5
EXPECTED = frozenset({"non_finite"})
ALLOWED = frozenset({"exploding_gradients", "unstable_loss"})

HIDDEN = 4
WIDTH = 5


class Exponential(nn.Module):
    """Keras's ``activation='exponential'``: ``exp(x)``."""

    def forward(self, x: Tensor) -> Tensor:
        return x.exp()

    def torch_twin(self, dtype: Any) -> Any:
        """The same module in torch (``_torch_twin.convert_module``)."""
        import torch

        class TorchExponential(torch.nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x.exp()

        return TorchExponential()


def _program(seed: int, act: type, init: str) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = circle(seed)
    layers: list[nn.Module] = [dense(2, WIDTH, init), act()]
    for _ in range(HIDDEN - 1):
        layers += [dense(WIDTH, WIDTH, init), act()]
    layers.append(dense(WIDTH, 1, init))  # the output sigmoid is inside the loss
    model = nn.Sequential(*layers)
    y_tr = y_tr.reshape(-1, 1).astype(np.float32)
    y_va = y_va.reshape(-1, 1).astype(np.float32)
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="bce_with_logits", epochs=100,
                   batch_size=128, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, Exponential, "he_uniform")


def fixed(seed: int) -> Program:
    return _program(seed, nn.SELU, "lecun_uniform")
