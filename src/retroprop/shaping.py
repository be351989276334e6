"""Repeating, expanding, splitting and joining tensors; integer division; module-level forms of
the Tensor methods (``rp.sum``, ``rp.matmul``), with torch's names and meaning."""

from __future__ import annotations

__all__: list[str] = []
