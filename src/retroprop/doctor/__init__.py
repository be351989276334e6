"""The doctor: watches a training run per layer (probes -> detectors -> diagnoses -> remedies).

``probes`` measure, ``rules`` detect (on plain numbers), ``diagnosis`` explains and names the
remedies, ``Doctor`` ties them to a run. Applying remedies inside the run (repair) comes next.
"""

from __future__ import annotations

from retroprop.doctor.diagnosis import PROBLEMS, REMEDIES, TREATMENT_ORDER, Diagnosis
from retroprop.doctor.doctor import Doctor
from retroprop.doctor.probes import ActivationStats, LayerStats, Probe, ProbeRecord
from retroprop.doctor.recorder import Recorder
from retroprop.doctor.rules import RULES

__all__ = ["PROBLEMS", "REMEDIES", "RULES", "TREATMENT_ORDER", "ActivationStats", "Diagnosis", "Doctor",
           "LayerStats", "Probe", "ProbeRecord", "Recorder"]
