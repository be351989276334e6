"""Weight initialization with PyTorch's names and formulas, drawing from retroprop's generator.

Each function fills a tensor in place (no graph is recorded) and returns it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from retroprop.random import get_generator
from retroprop.tensor import Tensor

_LINEAR_LIKE = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain that keeps activations' variance stable through ``nonlinearity`` (torch's table)."""
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unknown nonlinearity {nonlinearity!r}; expected one of "
        f"{', '.join((*_LINEAR_LIKE, 'tanh', 'relu', 'leaky_relu', 'selu'))}"
    )


def _fans(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(
            f"fan in and fan out need a tensor with at least 2 axes, got shape {tensor.shape}"
        )
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    tensor.data[...] = values.astype(tensor.dtype, copy=False)
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    tensor.data[...] = 0
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    tensor.data[...] = 1
    return tensor


def constant_(tensor: Tensor, val: float) -> Tensor:
    tensor.data[...] = val
    return tensor


def _draw_into(tensor: Tensor, draw: Any) -> Tensor:
    """Fill ``tensor`` with ``draw(size=...)`` in blocks of rows: the same numbers as one draw of the
    whole shape (the generator's stream is sequential), without a float64 copy of the whole tensor."""
    data = tensor.data
    if data.ndim == 0:
        data[...] = draw(size=())
        return tensor
    rows = data.reshape(len(data), -1) if data.size else data
    step = max(1, 2**16 // max(rows.shape[1] if rows.ndim > 1 else 1, 1))
    for i in range(0, len(rows), step):
        block = rows[i:i + step]
        block[...] = draw(size=block.shape)
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    rng = get_generator(generator)
    return _draw_into(tensor, lambda size: rng.uniform(a, b, size=size))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    rng = get_generator(generator)
    return _draw_into(tensor, lambda size: rng.normal(mean, std, size=size))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot & Bengio (2010): U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot & Bengio (2010): N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Any = None) -> Tensor:
    """He et al. (2015): U(-b, b) with b = gain * sqrt(3 / fan)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Any = None) -> Tensor:
    """He et al. (2015): N(0, std^2) with std = gain / sqrt(fan)."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def lecun_uniform_(tensor: Tensor, generator: Any = None) -> Tensor:
    """LeCun et al. (1998): U(-b, b) with b = sqrt(3 / fan_in) (unit variance for SELU nets)."""
    bound = math.sqrt(3.0 / _fans(tensor)[0])
    return uniform_(tensor, -bound, bound, generator)


def lecun_normal_(tensor: Tensor, generator: Any = None) -> Tensor:
    """LeCun et al. (1998): N(0, 1 / fan_in), as SELU networks expect."""
    return normal_(tensor, 0.0, math.sqrt(1.0 / _fans(tensor)[0]), generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Saxe et al. (2013): a (semi-)orthogonal matrix from the QR decomposition of a normal one."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_ needs a tensor with at least 2 axes, got shape {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = get_generator(generator).normal(size=(rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # makes the decomposition unique, so the draw is uniform
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


# name -> fill(tensor, generator): the choices of nn.Linear(init=...)
INITIALIZERS = {
    "xavier_uniform": lambda t, g=None: xavier_uniform_(t, generator=g),
    "glorot_uniform": lambda t, g=None: xavier_uniform_(t, generator=g),
    "xavier_normal": lambda t, g=None: xavier_normal_(t, generator=g),
    "glorot_normal": lambda t, g=None: xavier_normal_(t, generator=g),
    "kaiming_uniform": lambda t, g=None: kaiming_uniform_(t, nonlinearity="relu", generator=g),
    "he_uniform": lambda t, g=None: kaiming_uniform_(t, nonlinearity="relu", generator=g),
    "kaiming_normal": lambda t, g=None: kaiming_normal_(t, nonlinearity="relu", generator=g),
    "he_normal": lambda t, g=None: kaiming_normal_(t, nonlinearity="relu", generator=g),
    "lecun_uniform": lambda t, g=None: lecun_uniform_(t, generator=g),
    "lecun_normal": lambda t, g=None: lecun_normal_(t, generator=g),
    "orthogonal": lambda t, g=None: orthogonal_(t, generator=g),
    "zeros": lambda t, g=None: zeros_(t),
}
