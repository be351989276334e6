"""BatchNorm1d/2d (eps 1e-5, momentum 0.1, unbiased running variance), LayerNorm and GroupNorm, as
PyTorch's, and Standardize."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from retroprop import functional as F
from retroprop.nn.linear import _positive_int
from retroprop.nn.module import Module
from retroprop.nn.parameter import Parameter
from retroprop.normalization import _check_eps, normalized_shape_tuple
from retroprop.tensor import ShapeError, Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "GroupNorm", "LayerNorm", "Standardize"]


def _ones_and_zeros(layer: Module) -> None:
    """A normalization layer's affine parameters as PyTorch initializes them: weight 1, bias 0."""
    if layer.weight is not None:
        layer.weight.data[...] = 1
    if layer.bias is not None:
        layer.bias.data[...] = 0


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; ``_layouts`` names the input shapes each accepts."""

    _layouts: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = _positive_int(num_features, "num_features", name)
        if eps <= 0:
            raise ValueError(f"{name}: eps must be positive, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum}")
        self.eps, self.momentum = float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        dtype = np.float32 if dtype is None else np.dtype(dtype)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if self.affine and bias:
            self.bias = Parameter(np.zeros(self.num_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked (as a new layer)."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        """The running statistics reset, ``weight`` ones and ``bias`` zeros (as a new layer)."""
        self.reset_running_stats()
        _ones_and_zeros(self)

    def _expected(self) -> str:
        c = self.num_features
        layouts = {2: f"(N, {c})", 3: f"(N, {c}, L)", 4: f"(N, {c}, H, W)"}
        return " or ".join(layouts[n] for n in self._layouts)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._layouts or x.shape[1] != self.num_features:
            raise ShapeError(f"{self.label()} expects input {self._expected()}, got shape {tuple(x.shape)}")
        use_batch_stats = self.training or not self.track_running_stats
        if use_batch_stats and math.prod(x.shape) // x.shape[1] <= 1:
            raise ValueError(
                f"{self.label()}: a training batch needs more than 1 value per feature, got input "
                f"of shape {tuple(x.shape)}; use batches of at least 2 samples (DataLoader and fit "
                "drop a last batch of one), or call eval()"
            )
        momentum = self.momentum
        running_mean = running_var = None
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked.data)
            running_mean, running_var = self.running_mean, self.running_var
        elif not self.training and self.track_running_stats:
            running_mean, running_var = self.running_mean, self.running_var
        return F.batch_norm(x, running_mean, running_var, self.weight, self.bias,
                            training=use_batch_stats, momentum=momentum or 0.0, eps=self.eps)

    def label(self) -> str:
        return f"{type(self).__name__} {self.num_features}"

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")

    def get_config(self) -> dict[str, Any]:
        config = {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                  "affine": self.affine, "track_running_stats": self.track_running_stats}
        if self.affine and self.bias is None:
            config["bias"] = False
        return config


class BatchNorm1d(_BatchNorm):
    """Normalize each feature over the batch, then scale and shift (Ioffe & Szegedy, 2015).

    Input ``(N, C)`` or ``(N, C, L)``. Training uses the batch's statistics and updates the
    running ones (``momentum=None``: a cumulative average); ``eval()`` uses the running ones.
    """

    _layouts = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Normalize each channel of ``(N, C, H, W)`` inputs over the batch and positions, then scale and
    shift, as ``torch.nn.BatchNorm2d`` (running statistics as ``BatchNorm1d``'s)."""

    _layouts = (4,)


class LayerNorm(Module):
    """Normalize each sample over its trailing ``normalized_shape`` axes (biased variance), then
    scale and shift elementwise (Ba et al., 2016), as ``torch.nn.LayerNorm``.

    ``weight`` starts at ones and ``bias`` at zeros, both shaped ``normalized_shape``;
    ``elementwise_affine=False`` has neither, ``bias=False`` no bias.
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = normalized_shape_tuple(normalized_shape, "LayerNorm")
        self.eps = _check_eps(eps, "LayerNorm")
        self.elementwise_affine = bool(elementwise_affine)
        dtype = np.float32 if dtype is None else np.dtype(dtype)
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if self.elementwise_affine and bias:
            self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """``weight`` ones and ``bias`` zeros (as a new layer)."""
        _ones_and_zeros(self)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def label(self) -> str:
        return f"LayerNorm {self.normalized_shape}"

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")

    def get_config(self) -> dict[str, Any]:
        return {"normalized_shape": list(self.normalized_shape), "eps": self.eps,
                "elementwise_affine": self.elementwise_affine, "bias": self.bias is not None}


class GroupNorm(Module):
    """Normalize each sample's ``num_channels`` channels in ``num_groups`` groups (over the group's
    channels and all positions), then scale and shift per channel (Wu & He, 2018), as
    ``torch.nn.GroupNorm``. Input ``(N, C, *)``; ``weight`` starts at ones, ``bias`` at zeros."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_groups = _positive_int(num_groups, "num_groups", "GroupNorm")
        self.num_channels = _positive_int(num_channels, "num_channels", "GroupNorm")
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels ({self.num_channels}) must be divisible by num_groups "
                             f"({self.num_groups})")
        self.eps = _check_eps(eps, "GroupNorm")
        self.affine = bool(affine)
        dtype = np.float32 if dtype is None else np.dtype(dtype)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_channels, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if self.affine and bias:
            self.bias = Parameter(np.zeros(self.num_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """``weight`` ones and ``bias`` zeros (as a new layer)."""
        _ones_and_zeros(self)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ShapeError(f"{self.label()} expects input (N, {self.num_channels}, *), got shape "
                             f"{tuple(x.shape)}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def label(self) -> str:
        return f"GroupNorm {self.num_groups}/{self.num_channels}"

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")

    def get_config(self) -> dict[str, Any]:
        return {"num_groups": self.num_groups, "num_channels": self.num_channels, "eps": self.eps,
                "affine": self.affine, "bias": self.bias is not None}


class Standardize(Module):
    """Fixed per-feature standardization of the input: ``(x - mean) / scale``, no parameters.

    The features are axis 1, as for batch normalization: the columns of (N, features) rows, the
    channels of (N, C, L) or (N, C, H, W) inputs (one mean and scale per channel, over its positions).
    ``mean`` and ``scale`` are buffers (saved with the weights); ``Standardize.from_data(x)`` sets
    them from training inputs as ``rp.data.StandardScaler`` does (population standard deviation;
    a constant feature gets scale 1). Putting it first in a model makes the model take raw inputs.

    The statistics stay float64 whatever the model's dtype (``to``/``float()`` leave them), and the
    standardization runs in float64 before the result is cast to the layer's ``dtype`` (set by
    ``to``): a float32 input would round a feature such as a timestamp (~1.7e9) in steps of 128.
    ``rp.fit``/``evaluate``/``predict`` hand a model that starts with this layer float64 inputs.
    """

    fixed_dtype_buffers = ("mean", "scale")

    def __init__(self, num_features: int, mean: Any = None, scale: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_features = _positive_int(num_features, "num_features", "Standardize")
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        if dtype.kind != "f":
            raise TypeError(f"Standardize: dtype must be a floating-point dtype, got {dtype}")
        # copies (never the caller's arrays: loading weights writes into the buffers)
        mean = np.zeros(self.num_features) if mean is None else np.array(mean, dtype=np.float64)
        scale = np.ones(self.num_features) if scale is None else np.array(scale, dtype=np.float64)
        for name, value in (("mean", mean), ("scale", scale)):
            if value.shape != (self.num_features,):
                raise ValueError(f"Standardize: {name} must have shape ({self.num_features},), "
                                 f"got {value.shape}")
            if not np.isfinite(value).all():
                raise ValueError(f"Standardize: {name} must be finite")
        if (scale <= 0).any():
            raise ValueError(f"Standardize: scale must be positive, got a minimum of {scale.min()}")
        self._output_dtype = dtype
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)

    @classmethod
    def from_data(cls, x: Any, dtype: Any = None) -> Standardize:
        """A Standardize layer fitted to the training inputs ``x`` of shape (N, features) or (N, C, *)."""
        from retroprop.data import StandardScaler

        array = x.data if isinstance(x, Tensor) else np.asarray(x)
        if array.ndim < 2:
            raise ValueError(f"Standardize.from_data: x must have shape (samples, features) or "
                             f"(samples, channels, ...), got {array.shape}")
        # each channel's values over the samples and positions, as the rows of one column
        columns = np.moveaxis(array, 1, -1).reshape(-1, array.shape[1])
        scaler = StandardScaler().fit(columns.astype(np.float64))
        if dtype is None:
            dtype = array.dtype if array.dtype.kind == "f" else np.float32
        return cls(array.shape[1], scaler.mean_, scaler.scale_, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise ShapeError(f"{self.label()} expects input (N, {self.num_features}) or "
                             f"(N, {self.num_features}, ...), got shape {tuple(x.shape)}")
        wide = x if x.dtype == np.float64 else x.astype(np.float64)
        along = (-1,) + (1,) * (x.ndim - 2)  # the statistics on axis 1, broadcast over the positions
        out = (wide - self.mean.reshape(along)) / self.scale.reshape(along)
        return out if out.dtype == self._output_dtype else out.astype(self._output_dtype)

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the layer's output (its statistics are float64)."""
        return self._output_dtype

    def _cast_own(self, dtype: np.dtype) -> None:
        super()._cast_own(dtype)
        self._output_dtype = dtype

    def label(self) -> str:
        return f"Standardize {self.num_features}"

    def extra_repr(self) -> str:
        return f"{self.num_features}"

    def get_config(self) -> dict[str, Any]:
        return {"num_features": self.num_features}
