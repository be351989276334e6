"""``einsum`` with torch's meaning."""

from __future__ import annotations

__all__: list[str] = []
