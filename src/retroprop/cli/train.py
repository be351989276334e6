"""``retroprop train`` and ``retroprop diagnose``: a spec (with the command line's overrides) trained
with the doctor, its verdict printed, and the model, the spec as run and the report written: each
output path checked before the first step, each file written atomically, with a fallback."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import retroprop as rp
from retroprop import _json as finite_json
from retroprop.cli import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROBLEM,
    MODEL_SUFFIXES,
    RECORD_SUFFIXES,
    REPORT_SUFFIXES,
    SPEC_SUFFIXES,
    Outputs,
    UserError,
    apply_threads,
    input_errors,
)
from retroprop.files import write_bytes, write_text

_OVERRIDES = {"epochs": ("--epochs", "epochs"), "lr": ("--lr", "optimizer.lr"),
              "batch_size": ("--batch-size", "batch_size"), "seed": ("--seed", "seed")}


def _load_spec(args: argparse.Namespace) -> Any:
    """The spec file, with the command line's overrides (checked as the spec's own fields are; an
    error names the option)."""
    from retroprop.spec import SpecError, load_spec

    spec = load_spec(args.spec)
    changes = {key: getattr(args, key) for key in _OVERRIDES if getattr(args, key, None) is not None}
    if not changes:
        return spec
    try:
        return spec.with_overrides(**changes, source=str(args.spec))
    except SpecError as err:
        option = next((flag for flag, field in _OVERRIDES.values() if field == err.path), None)
        text = str(err)
        if option is None or not text.startswith(f"{err.path}:"):
            raise
        raise UserError(f"{option}{text[len(err.path):]}") from None


def _check_run_outputs(args: argparse.Namespace, outputs: Outputs) -> dict[str, Path | None]:
    paths = {"save": outputs.check(getattr(args, "save", None), "model", MODEL_SUFFIXES),
             "report": outputs.check(args.report, "report", REPORT_SUFFIXES),
             "record": outputs.check(args.record, "run record", RECORD_SUFFIXES),
             "save_spec": outputs.check(args.save_spec, "spec", SPEC_SUFFIXES)}
    if paths["save_spec"] is not None and paths["save_spec"].suffix.lower() != ".json":
        import yaml  # noqa: F401 - needed after training; missing, it is said now (retroprop[cli])
    return paths


class _Started(rp.callbacks.Callback):
    """Marks the first step: an error raised before it is the input's, not a crash."""

    started = False

    def on_train_begin(self, logs: Any = None) -> None:
        self.started = True


def _is_fit_check(err: Exception) -> bool:
    """An error from ``rp.fit``'s checks of its arguments (each message starts "fit"): the data
    does not suit the model or the loss. Anything else is a crash."""
    return isinstance(err, (ValueError, TypeError)) and str(err).startswith("fit")


def _run(spec: Any, source: str, *, doctor: bool | None, repair: bool | None, verbose: int,
         saving: bool = False) -> dict[str, Any]:
    data = spec.build_data()
    # what saving the model needs is made now: nothing after the training can fail on it
    input_layer = _input_layer(spec) if saving else None
    info = _model_info(spec, data, source) if saving else None
    watcher = spec.build_doctor()
    if doctor is False:
        if repair:
            raise UserError("--repair needs the doctor; drop --no-doctor")
        watcher = False
    elif watcher is False and (doctor or repair):
        watcher = rp.Doctor(every=spec.doctor.every, make_up=spec.doctor.make_up)
    if repair is not None and watcher is not False:
        watcher.repair = repair
    # built outside the try below, so that an error of theirs is never taken for the data's
    model = spec.build_model(data.n_features, data.n_classes)
    optimizer = spec.build_optimizer(model)
    scheduler = spec.build_scheduler(optimizer)
    started = _Started()
    try:
        history = rp.fit(model, data.x_train, data.y_train, optimizer=optimizer, scheduler=scheduler,
                         validation_data=(data.x_val, data.y_val), doctor=watcher, callbacks=[started],
                         verbose=verbose, **spec.fit_kwargs())
    except input_errors():
        raise
    except (ValueError, TypeError) as err:  # fit's checks of the data (labels, shapes, NaN) come first
        if started.started or not _is_fit_check(err):
            raise
        raise UserError(f"{source}: cannot train on its data: {err}") from None
    return {"spec": spec, "data": data, "model": history.model, "history": history,
            "doctor": watcher if watcher is not False else None, "input_layer": input_layer, "info": info}


def _failure(run: dict[str, Any]) -> str | None:
    from retroprop.cli.runs import chance_loss, training_failure

    return training_failure(run["history"], chance_loss(run["spec"].loss, run["data"].n_classes))


def _findings(run: dict[str, Any], failure: str | None) -> str:
    """The doctor's findings; never "no problems" above a run that did not train."""
    doctor = run["doctor"]
    lines = []
    if doctor is not None:
        if doctor.diagnoses or failure is None:
            lines.append(doctor.summary())
        else:
            lines.append("The doctor named no specific problem.")
    stop = run["history"].stop_reason
    if failure is not None:
        lines.append(f"Not a trained model: {failure}")
    elif stop:
        lines.append(f"stopped: {stop}")
    return "\n".join(lines)


def _model_info(spec: Any, data: Any, source: str) -> dict[str, Any]:
    """What ``evaluate`` needs to know about a saved model: its loss, data section and classes
    (none for a numeric target), checked as ``rp.save`` will check it."""
    from retroprop.serialization import check_info

    return check_info({"loss": spec.loss, "data": spec.to_dict()["data"], "spec_name": spec.name,
                       "spec_file": str(Path(source).resolve()),
                       "class_names": [str(c) for c in data.class_names]})


def _input_layer(spec: Any) -> Any:
    """For a spec that standardizes its data: a Standardize layer with the raw training inputs'
    statistics, to put in front of the saved model so that it takes raw inputs (None otherwise).
    Made before training, so that nothing after it can fail on the data."""
    from retroprop.spec import parse_spec

    data = spec.to_dict()
    if not data["data"].get("standardize"):
        return None
    raw = parse_spec({**data, "data": {**data["data"], "standardize": False}}, "the spec").build_data()
    return rp.nn.Standardize.from_data(raw.x_train)


def _raw_model(run: dict[str, Any]) -> Any:
    """The trained model, taking raw inputs."""
    first = run.get("input_layer")
    # .to sets the Standardize layer's output dtype to the model's (its statistics stay float64)
    return run["model"] if first is None else rp.nn.Sequential(first, *run["model"]).to(run["model"].dtype)


def _save_model(model: Any, path: Path, info: dict[str, Any]) -> None:
    rp.save(model, path, info=info)


def _record(run: dict[str, Any]) -> Any:
    """The run's ``RunRecord`` (made once): what ``--record`` saves and the report reads, with the
    spec as its configuration."""
    if "record" not in run:
        from retroprop.run_record import RunRecord

        spec = run["spec"]
        run["record"] = RunRecord.from_run(run["history"], run["doctor"], config=spec.to_dict(),
                                           title=f"retroprop: {spec.name or 'training run'}")
    return run["record"]


def _write_report(run: dict[str, Any], path: Path) -> None:
    """One self-contained HTML file (the verdict, the figures, the History and the spec) from the
    run's record, made in a scratch folder next to ``path`` and moved into place atomically."""
    from retroprop.report import report_record

    with tempfile.TemporaryDirectory(prefix=".retroprop-report-", dir=path.parent) as scratch:
        page = report_record(Path(scratch) / "report.html", _record(run), model=run["history"].model,
                             x=run["data"].x_val[:256])
        write_bytes(path, Path(page).read_bytes())


def report(args: argparse.Namespace) -> int:
    """``retroprop report RECORD.json --out run.html``: the HTML report of a saved run record."""
    from retroprop.report import report_record
    from retroprop.run_record import RunRecord

    outputs = Outputs("report")
    path = outputs.check(args.out, "report", REPORT_SUFFIXES)
    try:
        record = RunRecord.load(args.record)
    except OSError as err:
        raise UserError(f"{args.record}: cannot read the run record: {err.strerror or err}") from None
    where = outputs.write(path, "report", lambda target: report_record(target, record))
    if where is not None:
        outputs.say(f"report written to {where}")
    return EXIT_FAILED if outputs.incomplete else EXIT_OK


def _spec_text(run: dict[str, Any], path: Path, source: str) -> str:
    """The spec as run, with the doctor's remedies applied (``--save-spec``); its notes go to
    ``run["spec_notes"]``."""
    from retroprop.cli.runs import corrected_spec, spec_text
    from retroprop.spec import parse_spec

    doctor, history = run["doctor"], run["history"]
    treatments = doctor.treatments if doctor is not None else []
    spec, notes = corrected_spec(run["spec"].to_dict(), history, treatments,
                                 getattr(doctor, "clip_grad_norm", None))
    parse_spec(spec, str(path))  # what is written must load again
    run["spec_notes"] = notes
    return spec_text(spec, path.suffix.lower(), notes, source)


def _write_outputs(run: dict[str, Any], paths: dict[str, Path | None], outputs: Outputs, source: str) -> None:
    """The model first (the most costly to lose), then the spec, then the report."""
    if paths.get("save") is not None:
        model, info = _raw_model(run), run["info"]
        where = outputs.write(paths["save"], "model", lambda target: _save_model(model, target, info))
        if where is not None:
            outputs.say(f"model saved to {where}")
    if paths.get("save_spec") is not None:
        try:
            text = _spec_text(run, paths["save_spec"], source)
        except ValueError as err:  # a repaired model that a spec cannot describe: said, and the rest written
            outputs.incomplete = True
            print(f"retroprop {outputs.command}: error: the spec was not written: {err}", file=sys.stderr)
            text = None
        where = None if text is None else outputs.write(paths["save_spec"], "spec",
                                                         lambda target: write_text(target, text))
        if where is not None:
            outputs.say(f"spec written to {where}")
            for note in run["spec_notes"]:
                outputs.say(f"  {note}")
    if paths.get("report") is not None:
        where = outputs.write(paths["report"], "report", lambda target: _write_report(run, target))
        if where is not None:
            outputs.say(f"report written to {where}")
    if paths.get("record") is not None:
        where = outputs.write(paths["record"], "run record", lambda target: _record(run).save(target))
        if where is not None:
            outputs.say(f"run record written to {where}")


def _status(run: dict[str, Any], outputs: Outputs, problem: bool) -> int:
    reason = run["history"].stop_reason or ""
    if reason.startswith("interrupted"):
        return EXIT_INTERRUPTED
    if outputs.incomplete:
        return EXIT_FAILED
    return EXIT_PROBLEM if problem else EXIT_OK


def train(args: argparse.Namespace) -> int:
    spec = _load_spec(args)
    outputs = Outputs("train")
    paths = _check_run_outputs(args, outputs)
    apply_threads(args)
    run = _run(spec, args.spec, doctor=args.doctor, repair=args.repair, verbose=0 if args.quiet else 2,
               saving=paths["save"] is not None)
    failure = _failure(run)
    text = _findings(run, failure)
    if text:
        print()
        print(text)
    _write_outputs(run, paths, outputs, args.spec)  # an untrained model too: it can be inspected
    return _status(run, outputs, problem=failure is not None)


def _doctor_errors(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The doctor's own failures (``History.doctor_errors``): a run it could not fully watch."""
    return list(getattr(run["history"], "doctor_errors", None) or [])


def diagnose(args: argparse.Namespace) -> int:
    spec = _load_spec(args)
    outputs = Outputs("diagnose", to_stderr=args.json)
    paths = _check_run_outputs(args, outputs)
    apply_threads(args)
    run = _run(spec, args.spec, doctor=True, repair=bool(args.repair), verbose=0)
    doctor, history = run["doctor"], run["history"]
    failure = _failure(run)
    problems = sorted({d.problem for d in doctor.diagnoses})
    errors = _doctor_errors(run)
    healthy = not problems and failure is None and not errors  # a doctor that failed saw nothing
    final = {k: v[-1] for k, v in history.history.items()}
    if args.json:
        print(finite_json.dumps({"healthy": healthy, "problems": problems, "failure": failure,
                                 "doctor_errors": errors,
                                 "diagnoses": [d.to_dict() for d in doctor.diagnoses],
                                 "passed": [d.to_dict() for d in doctor.passed],
                                 "treatments": [t.to_dict() for t in doctor.treatments],
                                 "final": final, "stop_reason": history.stop_reason}, indent=1))
    else:
        print(_findings(run, failure))
        print("final: " + ", ".join(f"{k} {v:.4g}" for k, v in final.items()))
        for error in errors:
            print(f"the doctor failed ({error.get('where', '?')}, step {error.get('step', '?')}): "
                  f"{error.get('error', '?')}")
        if healthy:
            print("healthy")
        else:
            found = ", ".join(problems) or "none named by the doctor"
            print(f"problems found: {found}" + ("" if failure is None else "; the run did not train")
                  + ("" if not errors else "; the doctor itself failed, so the run was not fully watched"))
    _write_outputs(run, paths, outputs, args.spec)
    return _status(run, outputs, problem=not healthy)
