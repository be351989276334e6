"""What the figures and the HTML report share: matplotlib on demand, output paths, and the one place
where what they are handed becomes run-record entries (``retroprop.run_record``), each read by its
own fields."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
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


def _entries(items: Iterable[Any] | None, field: str, entry: type, source: type,
             convert: Callable[[Any], Any]) -> list[Any]:
    """Entries of one kind (``entry``) from entries, the doctor's objects (``source``, made into entries
    by ``convert``) or the dicts of a record's ``field`` (checked as a record's are), in the order given."""
    out = []
    for i, item in enumerate(items or ()):
        if isinstance(item, entry):
            out.append(item)
        elif isinstance(item, source):
            out.append(convert(item))
        elif isinstance(item, Mapping):
            out.append(entry.from_dict(item, f"{field}[{i}]"))
        else:
            raise TypeError(f"report: {field}[{i}]: expected a {entry.__name__}, a {source.__name__} or its "
                            f"record dict, got {type(item).__name__}")
    return out


def diagnosis_entries(items: Iterable[Any] | None) -> list[DiagnosisEntry]:
    """``DiagnosisEntry``s from entries, the doctor's ``Diagnosis`` objects or the dicts of a
    record's ``diagnoses``."""
    from retroprop.doctor import Diagnosis

    return _entries(items, "diagnoses", DiagnosisEntry, Diagnosis, DiagnosisEntry.from_diagnosis)


def treatment_entries(items: Iterable[Any] | None) -> list[TreatmentEntry]:
    """``TreatmentEntry``s from entries, the doctor's ``TreatmentRecord`` objects or the dicts of a
    record's ``treatments``."""
    from retroprop.doctor import TreatmentRecord

    return _entries(items, "treatments", TreatmentEntry, TreatmentRecord, TreatmentEntry.from_treatment)


def probe_entries(records: Iterable[Any] | None) -> list[ProbeEntry]:
    """``ProbeEntry``s from entries, the doctor's ``ProbeRecord`` objects or the dicts of a record's
    ``probes``, in the order given."""
    from retroprop.doctor.probes import ProbeRecord

    return _entries(records, "probes", ProbeEntry, ProbeRecord, ProbeEntry.from_probe)
