"""Selecting, sorting, scanning and testing values, with torch's names and meaning."""

from __future__ import annotations

__all__: list[str] = []
