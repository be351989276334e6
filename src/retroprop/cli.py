"""The ``retroprop`` command: demonstrations, training and diagnosis from a spec file, evaluation
and prediction with a saved model.

Exit status: 0 success (``diagnose``: the run is healthy); 2 a usage or input error (bad arguments,
a spec that does not validate, a file that cannot be read), said in one line without a traceback;
3 ``diagnose`` found a problem (``demo``: a demonstration did not show what it claims); 1 anything
else (a crash, with its traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

import retroprop as rp

EXIT_OK, EXIT_CRASH, EXIT_USAGE, EXIT_PROBLEM = 0, 1, 2, 3


class UserError(Exception):
    """A problem with what the user asked for: reported in one line, exit status 2."""


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


# ---------------------------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------------------------
def _demo(args: argparse.Namespace) -> int:
    from retroprop import demos

    out = None if args.no_files else Path(args.out)
    if args.which == "all":
        results = demos.run_all(out, seed=args.seed)
    else:
        results = [demos.run_demo(args.which, out, seed=args.seed)]
    return EXIT_OK if all(r.holds for r in results) else EXIT_PROBLEM


# ---------------------------------------------------------------------------------------------
# train / diagnose
# ---------------------------------------------------------------------------------------------
def _load_spec(path: str) -> Any:
    from retroprop.spec import SpecError, load_spec

    try:
        return load_spec(path)
    except SpecError as err:  # a field's error says where it is: 'spec.yaml, line 6: model.layers[2].p: ...'
        where = f"{err.location}: " if err.path is not None and err.location else ""
        raise UserError(f"{where}{err}") from None


def _train_from_spec(spec: Any, *, doctor: bool | None, repair: bool | None, verbose: int) -> dict[str, Any]:
    data = spec.build_data()
    watcher = spec.build_doctor()
    if doctor is False:
        watcher = False
    elif doctor is True and watcher is False:
        watcher = rp.Doctor(every=spec.doctor.every)
    if repair is not None and watcher is not False:
        watcher.repair = repair
    elif repair and watcher is False:
        raise UserError("--repair needs the doctor; drop --no-doctor")
    history = spec.train(data=data, doctor=watcher, verbose=verbose)
    return {"spec": spec, "data": data, "model": history.model, "history": history,
            "doctor": watcher if watcher is not False else None}


def _print_findings(run: dict[str, Any]) -> None:
    doctor = run["doctor"]
    if doctor is None:
        return
    print()
    print(doctor.summary())


def _write_report(run: dict[str, Any], path: Path) -> Path:
    """One self-contained HTML file: the verdict, the figures, the History and the spec."""
    from retroprop.report import report_run

    spec, data = run["spec"], run["data"]
    return report_run(path, run["history"], run["doctor"], title=f"retroprop: {spec.name or 'training run'}",
                      x=data.x_val[:256], config=spec.to_dict())


def _save_model(run: dict[str, Any], path: Path) -> Path:
    """Save the trained model so that it takes raw inputs: when the spec standardized the data, a
    Standardize layer with the raw training inputs' statistics goes first."""
    model, spec = run["model"], run["spec"]
    if spec.data.standardize:
        raw = dataclasses.replace(spec, data=dataclasses.replace(spec.data, standardize=False)).build_data()
        model = rp.nn.Sequential(rp.nn.Standardize.from_data(raw.x_train), *model)
    rp.save(model, path)
    return path


def _train(args: argparse.Namespace) -> int:
    spec = _load_spec(args.spec)
    run = _train_from_spec(spec, doctor=args.doctor, repair=args.repair, verbose=2 if not args.quiet else 0)
    _print_findings(run)
    history = run["history"]
    if history.stop_reason:
        print(f"stopped: {history.stop_reason}")
    if args.save:
        print(f"model saved to {_save_model(run, Path(args.save))}")
    if args.report:
        print(f"report written to {_write_report(run, Path(args.report))}")
    return EXIT_OK


def _diagnose(args: argparse.Namespace) -> int:
    spec = _load_spec(args.spec)
    run = _train_from_spec(spec, doctor=True, repair=None, verbose=0)
    doctor = run["doctor"]
    history = run["history"]
    problems = sorted({d.problem for d in doctor.diagnoses})
    if args.json:
        print(json.dumps({"healthy": not problems, "problems": problems,
                          "diagnoses": [d.to_dict() for d in doctor.diagnoses],
                          "treatments": [t.to_dict() for t in doctor.treatments],
                          "final": {k: v[-1] for k, v in history.history.items()},
                          "stop_reason": history.stop_reason}, indent=1, default=float))
    else:
        print(doctor.summary())
        last = {k: v[-1] for k, v in history.history.items()}
        print("final: " + ", ".join(f"{k} {v:.4g}" for k, v in last.items()))
        print("healthy" if not problems else f"problems found: {', '.join(problems)}")
    return EXIT_OK if not problems else EXIT_PROBLEM


# ---------------------------------------------------------------------------------------------
# evaluate / predict
# ---------------------------------------------------------------------------------------------
def _load_model(path: str) -> Any:
    from retroprop.serialization import FileFormatError

    if not Path(path).is_file():
        raise UserError(f"{path}: no such model file (write one with `retroprop train SPEC --save FILE`)")
    try:
        return rp.load(path)
    except (FileFormatError, OSError, KeyError) as err:
        raise UserError(f"{path}: cannot load a model: {err}") from None


def _read_array(path: str, what: str) -> np.ndarray:
    file = Path(path)
    if not file.is_file():
        raise UserError(f"{path}: no such {what} file")
    try:
        if file.suffix == ".npy":
            return np.load(file, allow_pickle=False)
        if file.suffix == ".csv":
            return np.loadtxt(file, delimiter=",", ndmin=2, dtype=np.float64)
    except (ValueError, OSError) as err:
        raise UserError(f"{path}: cannot read the {what}: {err}") from None
    raise UserError(f"{path}: the {what} must be a .npy or .csv file")


def _labelled_data(source: str) -> tuple[np.ndarray, np.ndarray]:
    """x and y from a data set name (its held-out split, raw) or a file: .npz with arrays x and y,
    or .csv whose last column is the label."""
    file = Path(source)
    if file.suffix in (".npz", ".csv") or file.exists():
        if not file.is_file():
            raise UserError(f"{source}: no such data file")
        if file.suffix == ".npz":
            try:
                with np.load(file, allow_pickle=False) as arrays:
                    if "x" not in arrays or "y" not in arrays:
                        raise UserError(f"{source}: a .npz data file needs arrays named x and y, found "
                                        f"{', '.join(arrays.files) or 'none'}")
                    return arrays["x"], arrays["y"]
            except (ValueError, OSError) as err:
                raise UserError(f"{source}: cannot read the data: {err}") from None
        table = _read_array(source, "data")
        return table[:, :-1], table[:, -1].astype(np.int64)
    from retroprop.spec import SpecError, parse_spec

    try:
        spec = parse_spec({"data": {"name": source, "standardize": False},
                           "model": {"layers": [{"type": "linear"}]}, "optimizer": {"name": "sgd", "lr": 0.1},
                           "epochs": 1}, source="--data")
    except SpecError as err:
        raise UserError(f"--data {source}: not a file, and {err}") from None
    data = spec.build_data()
    return data.x_val, data.y_val


def _evaluate(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    x, y = _labelled_data(args.data)
    try:
        result = rp.evaluate(model, x, y, loss=args.loss)
    except (ValueError, TypeError, rp.ShapeError) as err:
        raise UserError(f"evaluate: {err}") from None
    print(json.dumps(result) if args.json else
          ", ".join(f"{k} {v:.4f}" for k, v in result.items()) + f" on {len(x)} samples")
    return EXIT_OK


def _predict(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    x = _read_array(args.input, "input")
    try:
        outputs = rp.predict(model, x)
    except (ValueError, TypeError, rp.ShapeError) as err:
        raise UserError(f"predict: {err}") from None
    classes = outputs.argmax(axis=-1) if outputs.ndim == 2 and outputs.shape[1] > 1 else (outputs > 0).astype(
        np.int64).reshape(len(outputs), -1)[:, 0]
    if args.output:
        out = Path(args.output)
        if out.suffix == ".npy":
            np.save(out, classes if not args.scores else outputs)
        else:
            np.savetxt(out, classes if not args.scores else outputs, delimiter=",",
                       fmt="%d" if not args.scores else "%.6g")
        print(f"{len(classes)} predictions written to {out}")
    else:
        for row in (outputs if args.scores else classes):
            print(",".join(f"{v:.6g}" for v in np.atleast_1d(row)) if args.scores else int(row))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# the parser
# ---------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="retroprop", formatter_class=raw,
        description="Train neural networks by backpropagation and watch them for the ways it fails.",
        epilog=_examples("retroprop demo all --out demo-out",
                         "retroprop train experiment.yaml --report run.html",
                         "retroprop diagnose experiment.yaml --json",
                         "retroprop evaluate model.safetensors --data digits",
                         "retroprop predict model.safetensors --input samples.csv") +
        "\n\nexit status: 0 success, 2 usage or input error, 3 `diagnose` found a problem, 1 crash")
    parser.add_argument("--version", action="version", version=f"retroprop {rp.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo", formatter_class=raw, help="the course page's failures, found by the doctor and cured",
        description=textwrap.dedent("""\
            Train each failing network and its cure side by side, with the doctor watching; print the
            diagnoses and a before/after table, and write figures and an HTML report to --out.
            Exit status 0 when every demonstration shows what it claims, 3 when one does not."""),
        epilog=_examples("retroprop demo all", "retroprop demo vanishing --out demo-out --seed 1",
                         "retroprop demo dropout --no-files"))
    demo.add_argument("which", nargs="?", default="all", choices=["vanishing", "exploding", "dead-relu",
                                                                  "dropout", "all"],
                      help="which demonstration (default: all)")
    demo.add_argument("--out", default="retroprop-demo", metavar="DIR",
                      help="where figures and reports go (default: retroprop-demo)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--no-files", action="store_true", help="print only; write no figures or reports")
    demo.set_defaults(run=_demo)

    train = sub.add_parser(
        "train", formatter_class=raw, help="train from a YAML or JSON experiment spec",
        description="Train the experiment SPEC describes (see docs/spec.md), with the doctor unless told "
                    "otherwise.",
        epilog=_examples("retroprop train experiment.yaml",
                         "retroprop train experiment.json --repair --report run.html "
                         "--save model.safetensors",
                         "retroprop train experiment.yaml --no-doctor"))
    train.add_argument("spec", metavar="SPEC", help="experiment file (.yaml, .yml or .json)")
    train.add_argument("--report", metavar="FILE", help="write a self-contained HTML report")
    train.add_argument("--save", metavar="FILE", help="save the trained model (.safetensors or .npz)")
    train.add_argument("--doctor", action=argparse.BooleanOptionalAction, default=None,
                       help="watch the run with the doctor (default: as the spec says)")
    train.add_argument("--repair", action=argparse.BooleanOptionalAction, default=None,
                       help="let the doctor repair the run (default: as the spec says)")
    train.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    train.set_defaults(run=_train)

    diagnose = sub.add_parser(
        "diagnose", formatter_class=raw, help="train with the doctor; exit 3 if it finds a problem",
        description="Train SPEC with the doctor watching (no repair) and print what it found. Exit status 0 "
                    "when the run is healthy, 3 when a problem was found (so it can gate a CI job), 2 for "
                    "a bad spec.",
        epilog=_examples("retroprop diagnose experiment.yaml", "retroprop diagnose experiment.yaml --json"))
    diagnose.add_argument("spec", metavar="SPEC", help="experiment file (.yaml, .yml or .json)")
    diagnose.add_argument("--json", action="store_true", help="machine-readable output")
    diagnose.set_defaults(run=_diagnose)

    evaluate = sub.add_parser(
        "evaluate", formatter_class=raw, help="loss and accuracy of a saved model on labelled data",
        description="DATA is a data set name (its held-out split; e.g. digits, iris, spiral), a .npz file "
                    "with arrays x and y, or a .csv file whose last column is the label.",
        epilog=_examples("retroprop evaluate model.safetensors --data digits",
                         "retroprop evaluate model.npz --data test.csv --json"))
    evaluate.add_argument("model", metavar="MODEL", help="a model saved by `retroprop train --save`")
    evaluate.add_argument("--data", required=True, help="data set name or data file")
    evaluate.add_argument("--loss", default="cross_entropy", help="loss name (default cross_entropy)")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    evaluate.set_defaults(run=_evaluate)

    predict = sub.add_parser(
        "predict", formatter_class=raw, help="class predictions of a saved model",
        description="Predict a class for every row of INPUT (.npy or .csv, one sample per row, raw "
                    "features).",
        epilog=_examples("retroprop predict model.safetensors --input samples.csv",
                         "retroprop predict model.safetensors --input x.npy --output classes.csv",
                         "retroprop predict model.safetensors --input x.npy --scores"))
    predict.add_argument("model", metavar="MODEL", help="a model saved by `retroprop train --save`")
    predict.add_argument("--input", required=True, help=".npy or .csv file of samples")
    predict.add_argument("--output", help="write the predictions to this .csv or .npy file")
    predict.add_argument("--scores", action="store_true", help="the model's raw outputs instead of classes")
    predict.set_defaults(run=_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except UserError as err:
        print(f"retroprop {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as err:
        if err.name in ("matplotlib", "yaml"):
            extra = "plot" if err.name == "matplotlib" else "cli"
            print(f"retroprop {args.command}: error: this needs {err.name}: pip install 'retroprop[{extra}]'",
                  file=sys.stderr)
            return EXIT_USAGE
        raise
    except KeyboardInterrupt:
        print(f"retroprop {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
