"""The doctor: watches a training run per layer (probes -> detectors -> diagnoses -> remedies).

This release has the probes and the run recorder (``Recorder``); the detectors, diagnoses and
remedies come next (see the project's issue on the doctor).
"""

from __future__ import annotations

from retroprop.doctor.probes import ActivationStats, LayerStats, Probe, ProbeRecord
from retroprop.doctor.recorder import Recorder

__all__ = ["ActivationStats", "LayerStats", "Probe", "ProbeRecord", "Recorder"]
