"""From a finished run to its HTML report: the run's ``RunRecord`` (``retroprop.run_record``) is
made first, and the figures and the verdict are read from it alone (the figures drawn into a
temporary folder and embedded)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from retroprop.report import plots
from retroprop.report.html import build_verdict, write_report
from retroprop.report.samples import activation_samples
from retroprop.run_record import RunRecord, run_config

__all__ = ["report_record", "report_run", "run_config"]


def report_run(path: Any, history: Any, doctor: Any = None, *, title: str | None = None, x: Any = None,
               config: Any = None, notes: Any = None, extra_figures: Any = ()) -> Path:
    """Write the HTML report of a run trained with ``rp.fit(..., doctor=...)`` and return its path.

    ``doctor``: the ``Doctor`` (its probes give the gradient-flow and dead-unit figures; its
    diagnoses and treatments, else the History's, the verdict). ``x``: inputs on which to read the
    final model's activation values (their distributions get a figure). ``config``: the run's
    configuration (default: what the History records, with the doctor's settings). ``extra_figures``:
    more ``(caption, path)`` pairs. The figures need matplotlib; without it the report has the
    verdict and tables only. The report is ``report_record``'s of ``RunRecord.from_run(...)``."""
    record = RunRecord.from_run(history, doctor, config=config, title=title)
    return report_record(path, record, model=history.model, x=x, notes=notes, extra_figures=extra_figures)


def report_record(path: Any, record: RunRecord, *, model: Any = None, x: Any = None, notes: Any = None,
                  extra_figures: Any = ()) -> Path:
    """Write the HTML report of a run from its ``RunRecord`` (say, one read back with
    ``RunRecord.load``) and return its path. ``model`` and ``x``: the trained model and inputs on
    which to read its activation values, for their figure (a record holds no model)."""
    figures: list[tuple[str, Any]] = []
    notes_list = [notes] if isinstance(notes, str) else list(notes or ())
    with tempfile.TemporaryDirectory(prefix="retroprop-report-") as folder:
        where = Path(folder)
        try:
            figures.append(("Loss and accuracy per epoch, with the doctor's diagnoses (dashed) and "
                            "treatments (solid) marked",
                            plots.training_curves(record, where / "curves.png", record.diagnoses,
                                                  record.treatments)))
            if record.probes:
                figures.append(("Gradient flow: the weight gradient's norm per layer at each probe (log "
                                "colour scale) and along the depth",
                                plots.gradient_flow(record.probes, where / "gradient_flow.png")))
                if plots.has_relu_units(record.probes):
                    figures.append(("Dead ReLU units at the first probe, where the doctor diagnosed dead "
                                    "units (else the middle probe), and at the last probe",
                                    plots.dead_units(record.probes, where / "dead_units.png",
                                                     diagnoses=record.diagnoses)))
            if x is not None and model is not None:
                samples = activation_samples(model, x)
                if samples:
                    figures.append(("Activation values per layer of the final model",
                                    plots.activation_distributions(samples, where / "activations.png")))
        except ImportError as err:
            notes_list.append(f"No figures: {err}.")
        figures += list(extra_figures or ())
        verdict = build_verdict(record.diagnoses, record.treatments, record)
        return write_report(path, title=record.title or "Training report", verdict=verdict, figures=figures,
                            history=record, config=record.config, notes=notes_list, passed=record.passed)
