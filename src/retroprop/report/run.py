"""One call from a finished run to its HTML report: the figures drawn into a temporary folder and
embedded, the verdict built from the doctor's diagnoses and treatments."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from retroprop.report import plots
from retroprop.report.html import build_verdict, write_report
from retroprop.report.samples import activation_samples


def run_config(history: Any) -> dict[str, Any]:
    """What a ``History`` says about how the run was set up, as plain data."""
    params = dict(getattr(history, "params", None) or {})
    config: dict[str, Any] = {}
    optimizer = params.pop("optimizer", None)
    scheduler = params.pop("scheduler", None)
    config.update({k: v for k, v in params.items() if isinstance(v, int | float | str | bool | type(None))})
    if optimizer is not None:
        groups = getattr(optimizer, "param_groups", None) or [{}]
        settings = {k: v for k, v in groups[0].items() if k != "params"
                    and isinstance(v, int | float | str | bool | tuple | type(None))}
        config["optimizer"] = {"type": type(optimizer).__name__, **settings}
    if scheduler is not None:
        config["scheduler"] = type(scheduler).__name__
    model = getattr(history, "model", None)
    if model is not None:
        config["model"] = repr(model)
    if getattr(history, "stop_reason", None):
        config["stop_reason"] = history.stop_reason
    if getattr(history, "wall_time", None):
        config["wall_time_s"] = round(float(history.wall_time), 3)
    return config


def report_run(path: Any, history: Any, doctor: Any = None, *, title: str | None = None, x: Any = None,
               config: Any = None, notes: Any = None, extra_figures: Any = ()) -> Path:
    """Write the HTML report of a run trained with ``rp.fit(..., doctor=...)`` and return its path.

    ``doctor``: the ``Doctor`` (its probe records give the gradient-flow and dead-unit figures; its
    diagnoses and treatments, else the History's, the verdict). ``x``: inputs on which to read the
    final model's activation values (their distributions get a figure). ``config``: the run's
    configuration (default: what the History records). ``extra_figures``: more ``(caption, path)``
    pairs. The figures need matplotlib; without it the report has the verdict and tables only."""
    diagnoses = list(getattr(doctor, "diagnoses", None) or getattr(history, "diagnoses", None) or ())
    treatments = list(getattr(doctor, "treatments", None) or getattr(history, "treatments", None) or ())
    recorder = getattr(doctor, "recorder", None)
    records = list(getattr(recorder, "records", None) or ())
    figures: list[tuple[str, Any]] = []
    notes_list = [notes] if isinstance(notes, str) else list(notes or ())
    with tempfile.TemporaryDirectory(prefix="retroprop-report-") as folder:
        where = Path(folder)
        try:
            figures.append(("Loss and accuracy per epoch, with the doctor's diagnoses (dashed) and "
                            "treatments (solid) marked",
                            plots.training_curves(history, where / "curves.png", diagnoses, treatments)))
            if records:
                figures.append(("Gradient flow: the weight gradient's norm per layer at each probe (log "
                                "colour scale) and along the depth",
                                plots.gradient_flow(records, where / "gradient_flow.png")))
                if plots.has_relu_units(records):
                    figures.append(("Dead ReLU units at the first probe, where the doctor diagnosed dead "
                                    "units (else the middle probe), and at the last probe",
                                    plots.dead_units(records, where / "dead_units.png", diagnoses=diagnoses)))
            model = getattr(history, "model", None)
            if x is not None and model is not None:
                samples = activation_samples(model, x)
                if samples:
                    figures.append(("Activation values per layer of the final model",
                                    plots.activation_distributions(samples, where / "activations.png")))
        except ImportError as err:
            notes_list.append(f"No figures: {err}.")
        figures += list(extra_figures or ())
        if config is None:
            config = run_config(history)
            if doctor is not None:
                config["doctor"] = {"every": getattr(doctor, "every", None) or "default",
                                    "repair": bool(getattr(doctor, "repair", False)),
                                    "probes": len(records)}
        return write_report(path, title=title or "Training report",
                            verdict=build_verdict(diagnoses, treatments, history), figures=figures,
                            history=history, config=config, notes=notes_list)
