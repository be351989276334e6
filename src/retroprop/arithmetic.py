"""torch's arithmetic names: ``add``/``sub``/``mul``/``div`` (with ``alpha=`` and ``rounding_mode=``),
``floor_divide`` and ``//``, ``remainder`` and ``%``, ``fmod``, ``prod``, ``mm``, ``bmm``, ``dot``, and
the module-level forms of the reductions (``rp.sum``, ``rp.mean``, ``rp.max``, ...)."""

from __future__ import annotations

__all__: list[str] = []
