"""Layer normalization and embedding lookups as functions (``F.layer_norm``, ``F.embedding``)."""

from __future__ import annotations

__all__: list[str] = []
