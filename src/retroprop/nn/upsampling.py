"""The Upsample layer, as PyTorch's: ``F.interpolate`` with fixed arguments."""

from __future__ import annotations

from typing import Any

from retroprop.interpolate import interpolate
from retroprop.nn.module import Module
from retroprop.tensor import Tensor

__all__ = ["Upsample"]


class Upsample(Module):
    """Resample ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` inputs to ``size`` or by
    ``scale_factor``, as ``torch.nn.Upsample``: ``mode`` 'nearest' (the default), 'nearest-exact',
    'linear', 'bilinear' or 'trilinear'; ``align_corners`` for the linear modes only."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        # as torch keeps them (scale factors as floats); lists, as a saved architecture has them, as tuples
        self.size = tuple(size) if isinstance(size, list) else size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor: Any = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x: Tensor) -> Tensor:
        return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                           recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            text = f"scale_factor={self.scale_factor!r}"
        else:
            text = f"size={self.size!r}"
        return f"{text}, mode={self.mode!r}"

    def get_config(self) -> dict[str, Any]:
        size = list(self.size) if isinstance(self.size, tuple) else self.size
        scale = list(self.scale_factor) if isinstance(self.scale_factor, tuple) else self.scale_factor
        return {"size": size, "scale_factor": scale, "mode": self.mode, "align_corners": self.align_corners,
                "recompute_scale_factor": self.recompute_scale_factor}
