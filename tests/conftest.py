"""Shared test setup: hypothesis profile, and torch required in CI (parity tests must run there)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "retroprop", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("ci", parent=settings.get_profile("retroprop"), max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "retroprop")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Parity tests are skipped where torch is absent, except where RETROPROP_REQUIRE_TORCH=1
    # (set by .ci/run): there a missing torch is an error, so CI cannot pass without them.
    if os.environ.get("RETROPROP_REQUIRE_TORCH") == "1":
        try:
            import torch  # noqa: F401
        except ImportError as err:  # pragma: no cover - CI configuration error
            raise pytest.UsageError(
                "RETROPROP_REQUIRE_TORCH=1 but torch is not importable; "
                "install it with pip install torch==2.13.0"
            ) from err
