"""The doctor: watches a training run per layer (probes -> detectors -> diagnoses -> remedies).

``table`` is the rules table, one row per problem, and it is what runs: its detectors are ``checks``
(the setup, before the first step) and ``rules`` (the run), both on plain numbers read through one
``adapter.ModelAdapter`` (``RetropropAdapter`` for retroprop models: ``structure`` describes the model
for ``checks``, ``probes`` measure it; ``recorder`` schedules the probes);
``diagnosis`` explains and names the remedies; ``episodes`` says each problem once, causes first;
``remedies`` apply them and ``repair`` tries them in turn, undoing one that did harm. ``Doctor`` ties it
all to a run (``rp.fit(..., doctor=True)`` runs it as a callback, ``callback.DoctorCallback``), repairing
it when asked (``repair=True``): roll back to the last healthy state, treat, go on.
"""

from __future__ import annotations

from retroprop.doctor.adapter import ModelAdapter, ModelProbe, RetropropAdapter, adapter_for
from retroprop.doctor.diagnosis import PROBLEMS, REMEDIES, TREATMENT_ORDER, Diagnosis
from retroprop.doctor.doctor import Doctor
from retroprop.doctor.probes import ActivationStats, LayerStats, Probe, ProbeRecord
from retroprop.doctor.recorder import Recorder
from retroprop.doctor.repair import Best, Snapshot, TreatmentRecord
from retroprop.doctor.table import RULES, TABLE, Problem

__all__ = ["PROBLEMS", "REMEDIES", "RULES", "TABLE", "TREATMENT_ORDER", "ActivationStats", "Best",
           "Diagnosis", "Doctor", "LayerStats", "ModelAdapter", "ModelProbe", "Probe", "ProbeRecord",
           "Problem", "Recorder", "RetropropAdapter", "Snapshot", "TreatmentRecord", "adapter_for"]
