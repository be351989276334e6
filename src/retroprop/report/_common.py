"""What the figures and the HTML report share: matplotlib on demand, output paths, and the one place
where what they are handed becomes run-record entries (``retroprop.run_record``), each read by its
own fields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from retroprop.run_record import DiagnosisEntry, ProbeEntry, RunRecord, TreatmentEntry

PLOT_HINT = "the report's figures need matplotlib: pip install retroprop[plot]"


def matplotlib_parts() -> tuple[Any, Any]:
    """``(Figure, FigureCanvasAgg)``, imported on first use: figures are drawn off-screen with the
    Agg backend, without pyplot, so no display is needed and no global backend is changed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - exercised only without matplotlib
        raise ImportError(PLOT_HINT) from err
    return Figure, FigureCanvasAgg


def output_path(path: Any) -> Path:
    """``path`` as a Path whose parent folder exists."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def as_record(history: Any) -> RunRecord:
    """A ``RunRecord`` for what a run recorded: the record itself, or one made from a ``History``
    (an empty one for None)."""
    from retroprop.history import History

    if history is None:
        return RunRecord()
    if isinstance(history, RunRecord):
        return history
    if isinstance(history, History):
        return RunRecord.from_run(history, config={})
    raise TypeError(f"report: expected a RunRecord or a History, got {type(history).__name__}")


def diagnosis_entries(items: Iterable[Any] | None) -> list[DiagnosisEntry]:
    """``DiagnosisEntry``s from entries, the doctor's ``Diagnosis`` objects or the dicts of a
    record's ``diagnoses`` (checked as a record's are)."""
    from retroprop.doctor import Diagnosis

    out = []
    for i, item in enumerate(items or ()):
        if isinstance(item, DiagnosisEntry):
            out.append(item)
        elif isinstance(item, Diagnosis):
            out.append(DiagnosisEntry.from_diagnosis(item))
        elif isinstance(item, Mapping):
            out.append(DiagnosisEntry.from_dict(item, f"diagnoses[{i}]"))
        else:
            raise TypeError(f"report: diagnoses[{i}]: expected a DiagnosisEntry, a Diagnosis or its record "
                            f"dict, got {type(item).__name__}")
    return out


def treatment_entries(items: Iterable[Any] | None) -> list[TreatmentEntry]:
    """``TreatmentEntry``s from entries, the doctor's ``TreatmentRecord`` objects or the dicts of a
    record's ``treatments``."""
    from retroprop.doctor import TreatmentRecord

    out = []
    for i, item in enumerate(items or ()):
        if isinstance(item, TreatmentEntry):
            out.append(item)
        elif isinstance(item, TreatmentRecord):
            out.append(TreatmentEntry.from_treatment(item))
        elif isinstance(item, Mapping):
            out.append(TreatmentEntry.from_dict(item, f"treatments[{i}]"))
        else:
            raise TypeError(f"report: treatments[{i}]: expected a TreatmentEntry, a TreatmentRecord or its "
                            f"record dict, got {type(item).__name__}")
    return out


def probe_entries(records: Iterable[Any] | None) -> list[ProbeEntry]:
    """``ProbeEntry``s from entries, the doctor's ``ProbeRecord`` objects or the dicts of a record's
    ``probes``, in the order given."""
    from retroprop.doctor.probes import ProbeRecord

    out = []
    for i, item in enumerate(records or ()):
        if isinstance(item, ProbeEntry):
            out.append(item)
        elif isinstance(item, ProbeRecord):
            out.append(ProbeEntry.from_probe(item))
        elif isinstance(item, Mapping):
            out.append(ProbeEntry.from_dict(item, f"probes[{i}]"))
        else:
            raise TypeError(f"report: probes[{i}]: expected a ProbeEntry, a ProbeRecord or its record dict, "
                            f"got {type(item).__name__}")
    return out
