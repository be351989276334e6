"""DeepFD case 44 (StackOverflow 46995209): a sine of the raw time index 0..999 into a deep tanh stack.

SOURCE: DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark/Benchmark-with-patches.xlsx, case 44:
ground truth "activation, missing preprocess, layer properties, missing/redundant layers"), StackOverflow
question 46995209. The question's program (read in a public copy of it, and in the benchmark's patched copy
instrumented with Umlaut's callback): ``X = 0, 1, ..., 999`` left raw, targets ``sin(3.5 pi X / 1000)``;
``Dense(10, tanh)``, ``Dense(90, tanh)``, nine ``Dense(10, tanh)``, ``Dense(1, tanh)`` (Keras's
Glorot-uniform weights, zero biases); mean squared error; Adam (lr 0.001); batch 10; 50 epochs. The
original trains on all 1000 points; here a seeded half is held out for validation, as the patched copy
does. Nothing is cut.
SYMPTOM: the network does not follow the sine: with inputs up to 999 the first tanh layer is saturated
(its units sit at +-1 for all but the first few time steps), so the deep stack sees almost the same
vector for every input and its output stays nearly flat.
FIX: DeepFD's patch: scale the time index to [-1, 0] (``(X - max X) / max X``) and use the shallow
``Dense(10, relu)``, ``Dense(25, relu)``, ``Dense(1, tanh)`` network; same loss, optimizer, batch, epochs.
Run plainly (seed 0): validation MSE / var(y_val) = 1.002 (training loss 0.493 -> 0.480: the output stays
flat); fixed version 0.796 (seeds 1, 2: 1.032 / 0.819, 1.002 / 0.805). The patched network is still
improving after its 50 epochs (0.14 and 0.07 at seeds 0 and 2 after 150); the port keeps the published 50.
About 4 s for the buggy run, 1.3 s for the fixed one.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._qa_common import split

SOURCE = ("DeepFD benchmark case 44 (github.com/ArabelaTso/DeepFD, Benchmark/Benchmark-with-patches.xlsx); "
          "https://stackoverflow.com/questions/46995209 (the question's program; data generated as there)")
SYMPTOM = "the deep tanh network cannot fit the sine of the raw time index: its output stays nearly flat"
FIX = "scale the time index to [-1, 0] and use the shallow 10-25 ReLU network (DeepFD's patch)"
SPLIT = "heldout"
ROUND = 4
EXPECTED = frozenset({"unscaled_inputs"})
ALLOWED = frozenset({"saturated_activations", "vanishing_gradients", "underfitting", "slow_convergence",
                     "unstable_loss"})

STEPS = 1000


def _program(seed: int, patched: bool) -> Program:
    x = np.arange(STEPS, dtype=np.float64).reshape(-1, 1)
    y = np.sin(3.5 * np.pi * x / STEPS)
    if patched:
        x = (x - x.max()) / x.max()
    x_tr, y_tr, x_va, y_va = split(x.astype(np.float32), y.astype(np.float32), seed, STEPS // 2)
    rp.manual_seed(seed)
    if patched:
        model = nn.Sequential(dense(1, 10), nn.ReLU(), dense(10, 25), nn.ReLU(), dense(25, 1), nn.Tanh())
    else:
        layers: list[nn.Module] = [dense(1, 10), nn.Tanh(), dense(10, 90), nn.Tanh(), dense(90, 10),
                                   nn.Tanh()]
        for _ in range(8):
            layers += [dense(10, 10), nn.Tanh()]
        layers += [dense(10, 1), nn.Tanh()]
        model = nn.Sequential(*layers)
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="mse", epochs=50, batch_size=10,
                   metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, patched=False)


def fixed(seed: int) -> Program:
    return _program(seed, patched=True)
