"""``retroprop.autograd``: custom differentiable functions written as torch writes them."""

from __future__ import annotations

__all__: list[str] = []
