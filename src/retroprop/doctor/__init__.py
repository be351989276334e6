"""The doctor: watches a training run per layer (probes -> detectors -> diagnoses -> remedies).

``checks`` look at the setup before the first step and ``rules`` at the run, both on plain numbers
(``structure`` describes a retroprop model for ``checks``; ``probes`` and ``recorder`` measure the run);
``diagnosis`` explains and names the remedies; ``episodes`` says each problem once, causes first;
``remedies`` apply them and ``repair`` tries them in turn, undoing one that did harm. ``Doctor`` ties it
all to a run (``rp.fit(..., doctor=True)`` runs it as a callback, ``callback.DoctorCallback``), repairing
it when asked (``repair=True``): roll back to the last healthy state, treat, go on.
"""

from __future__ import annotations

from retroprop.doctor.diagnosis import PROBLEMS, REMEDIES, TREATMENT_ORDER, Diagnosis
from retroprop.doctor.doctor import Best, Doctor, Snapshot, TreatmentRecord
from retroprop.doctor.probes import ActivationStats, LayerStats, Probe, ProbeRecord
from retroprop.doctor.recorder import Recorder
from retroprop.doctor.rules import RULES

__all__ = ["PROBLEMS", "REMEDIES", "RULES", "TREATMENT_ORDER", "ActivationStats", "Best", "Diagnosis",
           "Doctor", "LayerStats", "Probe", "ProbeRecord", "Recorder", "Snapshot", "TreatmentRecord"]
