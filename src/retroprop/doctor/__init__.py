"""The doctor: watches a training run per layer (probes -> detectors -> diagnoses -> remedies).

``probes`` measure, ``rules`` detect (on plain numbers), ``diagnosis`` explains and names the
remedies, ``remedies`` apply them, and ``Doctor`` ties it all to a run, repairing it when asked
(``rp.fit(..., repair=True)``): roll back to the last healthy state, treat, go on.
"""

from __future__ import annotations

from retroprop.doctor.diagnosis import PROBLEMS, REMEDIES, TREATMENT_ORDER, Diagnosis
from retroprop.doctor.doctor import Best, Doctor, Snapshot, TreatmentRecord
from retroprop.doctor.probes import ActivationStats, LayerStats, Probe, ProbeRecord
from retroprop.doctor.recorder import Recorder
from retroprop.doctor.rules import RULES

__all__ = ["PROBLEMS", "REMEDIES", "RULES", "TREATMENT_ORDER", "ActivationStats", "Best", "Diagnosis",
           "Doctor", "LayerStats", "Probe", "ProbeRecord", "Recorder", "Snapshot", "TreatmentRecord"]
