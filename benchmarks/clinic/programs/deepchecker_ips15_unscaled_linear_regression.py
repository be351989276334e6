"""TheDeepChecker SO example IPS_15: linear regression on an unscaled input at learning rate 0.5.

SOURCE: TheDeepChecker, SO_buggy_examples/IPS_15.py
(https://github.com/thedeepchecker/thedeepchecker/blob/master/SO_buggy_examples/IPS_15.py), a StackOverflow
question ported by the benchmark's authors. Inputs ``[t, 1]`` for t = 0..99 (the time index, unscaled,
next to a constant column), targets ``2 t + 4 + U(0, 10)``, one linear unit without bias and zero
weights, loss ``sum((y - yhat)^2) / (2 T)`` (half the mean squared error) over the full batch of 100,
plain gradient descent at lr 0.5 (here MSELoss at lr 0.25: the same steps). The validation set is a
second draw of the same process (the original evaluates on its training data).
SYMPTOM: the loss grows by orders of magnitude every step and overflows to inf/NaN.
(The benchmark's file quotes no symptom; this is what the ported code shows when run plainly.)
FIX (not stated by the benchmark): scale the input (t / 99, in [0, 1]); the learning rate then suits the
curvature of the loss (largest Hessian eigenvalue about 2.5 instead of about 6.6e3).
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program

SOURCE = "TheDeepChecker SO_buggy_examples/IPS_15.py (generated data as in the original)"
SYMPTOM = "loss explodes within a few steps and becomes inf/NaN"
FIX = "scale the time input to [0, 1] (t / 99)"
SPLIT = "dev"
EXPECTED = ["exploding_gradients", "unscaled_inputs"]
ALLOWED = ["non_finite", "unstable_loss"]

_T = 100


def _data(rng: np.random.Generator, scale: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(_T, dtype=np.float32)
    x = np.stack([t * scale, np.ones(_T, dtype=np.float32)], axis=1)
    y = (2 * t + 4 + 10 * rng.random(_T)).astype(np.float32).reshape(-1, 1)
    return x, y


def _program(seed: int, scale: float) -> Program:
    rng = np.random.default_rng(seed)
    x_train, y_train = _data(rng, scale)
    x_val, y_val = _data(rng, scale)
    rp.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 1, bias=False, init="zeros"))
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.25), x_train, y_train, x_val, y_val,
                   loss="mse", epochs=300, batch_size=_T, metric=None)


def buggy(seed: int) -> Program:
    return _program(seed, 1.0)


def fixed(seed: int) -> Program:
    return _program(seed, 1.0 / (_T - 1))
