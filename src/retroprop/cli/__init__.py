"""The ``retroprop`` command: demonstrations, training and diagnosis from a spec file, the report of a
saved run record, evaluation and prediction with a saved model, and ``watch``: an unchanged PyTorch
training script run with the doctor attached.

Every output path (``--save``, ``--report``, ``--record``, ``--save-spec``, ``--output``, ``demo --out``,
``report --out``) is
checked before any work: a wrong file type, a folder, a missing or unwritable folder is refused in
one line. Every file is written atomically (a temporary file next to it, then renamed), so a failed
write leaves the old file as it was. If a write still fails after the work is done (a full disk, a
permission changed meanwhile), the file goes to a fallback path next to it (``model.recovered.npz``;
else in the current or the temporary folder), stderr says where, and the exit status is 1: the
work is kept, but not where it was asked for, which a script must notice. ``--threads N`` (every
command) runs the BLAS libraries on N threads (``rp.set_num_threads``).

Exit status: 0 success (``diagnose``: the run is healthy); 1 an output had to go to a fallback
path (said on stderr), or a crash (with its traceback); 2 a usage or input error (bad arguments, a
spec that does not validate, a file that cannot be read or written, a bad ``RETROPROP_NUM_THREADS``),
said in one line without a traceback, before any training; 3 ``diagnose`` found a problem (or the
doctor itself failed), or the run did not train (it diverged, or stopped on NaN/Inf; ``train``
still saves that model, for inspection), or ``demo``: a demonstration did not show what it claims, or
``watch``: a problem was found or nothing was watched (a script that failed keeps its own status); 130
interrupted (Ctrl-C; ``train`` still saves what it has).

The parser and the shared machinery (exit statuses, ``Outputs``) are here; each command's work is in
its module: ``train`` (train and diagnose), ``runs`` (what a finished run concludes), ``predict``
(evaluate and predict), ``inputs`` (their data, read by ``retroprop.data.files``) and ``watch`` (a
PyTorch script under the doctor; torch is imported only there).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import retroprop as rp
from retroprop.cli.inputs import InputError
from retroprop.files import (
    OutputPathError,
    check_output_path,
    fallback_path,
    write_bytes,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PROBLEM, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
MODEL_SUFFIXES, REPORT_SUFFIXES, RECORD_SUFFIXES = (".safetensors", ".npz"), (".html",), (".json",)
SPEC_SUFFIXES, PREDICTION_SUFFIXES = (".yaml", ".yml", ".json"), (".csv", ".npy")


class UserError(Exception):
    """A problem with what the user asked for: reported in one line, exit status 2."""


def input_errors() -> tuple[type[Exception], ...]:
    """retroprop's documented errors for bad input: each says what and where in one line."""
    from retroprop.data.files import DataFileError
    from retroprop.run_record import RunRecordError
    from retroprop.serialization import FileFormatError
    from retroprop.spec import SpecError

    return UserError, InputError, OutputPathError, SpecError, FileFormatError, DataFileError, RunRecordError


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=96)


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def apply_threads(args: argparse.Namespace) -> None:
    if getattr(args, "threads", None) is not None:
        rp.set_num_threads(args.threads)


# ---------------------------------------------------------------------------------------------
# Output files: checked before the work, written atomically, never lost
# ---------------------------------------------------------------------------------------------
class Outputs:
    """The files a command writes. ``check`` each before any work; ``write`` after it: atomically,
    and on failure to a fallback path next to it (``incomplete`` is then True: exit status 1)."""

    def __init__(self, command: str, *, to_stderr: bool = False) -> None:
        self.command = command
        self.incomplete = False
        self.to_stderr = to_stderr  # where "written to ..." goes: stderr when stdout is JSON

    def say(self, text: str) -> None:
        print(text, file=sys.stderr if self.to_stderr else sys.stdout)

    @staticmethod
    def check(path: str | None, what: str, suffixes: tuple[str, ...]) -> Path | None:
        return None if path is None else check_output_path(path, what=what, suffixes=suffixes)

    def write(self, path: Path, what: str, writer: Callable[[Path], Any]) -> Path | None:
        """``writer(path)`` writes the file (atomically); if it fails with an OSError, write it to
        ``fallback_path(path)`` and say so. Returns where the file is (None: it could not be written)."""
        try:
            writer(path)
            return path
        except (OSError, OutputPathError) as err:  # the folder may have gone, or the disk filled, meanwhile
            self.incomplete = True
            reason = getattr(err, "strerror", None) or str(err)
            try:
                fallback = fallback_path(path)
                writer(fallback)
            except (OSError, OutputPathError) as second:
                print(f"retroprop {self.command}: error: could not write the {what} to {path} ({reason}), "
                      f"nor to a fallback file ({getattr(second, 'strerror', None) or second})",
                      file=sys.stderr)
                return None
            print(f"retroprop {self.command}: warning: could not write the {what} to {path} ({reason}); "
                  f"it was saved to {fallback} instead", file=sys.stderr)
            return fallback


def _check_folder(path: str) -> Path:
    """An output folder that exists or can be made, and can be written in (made now if missing)."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputPathError(f"{folder}: is a file; --out needs a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputPathError(f"{folder}: cannot create the folder: {err.strerror or err}") from None
    probe = folder / ".retroprop-write-check"
    try:
        write_bytes(probe, b"")
        probe.unlink()
    except OSError as err:
        raise OutputPathError(f"{folder}: cannot write in the folder: {err.strerror or err}") from None
    return folder


# ---------------------------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------------------------
def _demo(args: argparse.Namespace) -> int:
    import importlib.util

    from retroprop import demos

    if args.backend == "torch" and importlib.util.find_spec("torch") is None:
        raise UserError("--backend torch needs PyTorch, which is not installed: pip install torch==2.13.0")
    out = None if args.no_files else _check_folder(args.out)
    apply_threads(args)
    if args.which == "all":
        results = demos.run_all(out, seed=args.seed, backend=args.backend)
    else:
        results = [demos.run_demo(args.which, out, seed=args.seed, backend=args.backend)]
    return EXIT_OK if all(r.holds for r in results) else EXIT_PROBLEM


# ---------------------------------------------------------------------------------------------
# train, diagnose, evaluate, predict (in their own modules)
# ---------------------------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
    from retroprop.cli.train import train

    return train(args)


def _diagnose(args: argparse.Namespace) -> int:
    from retroprop.cli.train import diagnose

    return diagnose(args)


def _report(args: argparse.Namespace) -> int:
    from retroprop.cli.train import report

    return report(args)


def _evaluate(args: argparse.Namespace) -> int:
    from retroprop.cli.predict import evaluate

    return evaluate(args)


def _predict(args: argparse.Namespace) -> int:
    from retroprop.cli.predict import predict

    return predict(args)


def _watch(args: argparse.Namespace) -> int:
    from retroprop.cli.watch import watch_script

    return watch_script(args)


# ---------------------------------------------------------------------------------------------
# the parser
# ---------------------------------------------------------------------------------------------
_MAX_THREADS = 2**31 - 1  # the BLAS libraries take the count as a C int


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if not 1 <= value <= _MAX_THREADS:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {_MAX_THREADS}, got {value}")
    return value


def _add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=_positive, metavar="N",
                        help="BLAS threads (default: one for small models, the library's own for large)")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options that train and diagnose share: overrides of the spec, outputs, threads."""
    parser.add_argument("spec", metavar="SPEC", help="experiment file (.yaml, .yml or .json)")
    parser.add_argument("--epochs", type=int, metavar="N", help="override the spec's epochs")
    parser.add_argument("--lr", type=float, metavar="RATE", help="override the optimizer's learning rate")
    parser.add_argument("--batch-size", type=int, metavar="N", help="override the spec's batch size")
    parser.add_argument("--seed", type=int, metavar="N", help="override the spec's seed")
    parser.add_argument("--report", metavar="FILE", help="write a self-contained HTML report (.html)")
    parser.add_argument("--record", metavar="FILE",
                        help="write the run's record (.json): what the report reads; `retroprop report` "
                             "turns it into the report later")
    parser.add_argument("--save-spec", metavar="FILE",
                        help="write the spec as run (.yaml, .yml or .json): the overrides and, after a "
                             "repair, the doctor's remedies applied")
    _add_threads(parser)


def build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="retroprop", formatter_class=raw,
        description="Train neural networks by backpropagation and watch them for the ways it fails.",
        epilog=_examples("retroprop demo all --out demo-out",
                         "retroprop train experiment.yaml --report run.html --save model.safetensors",
                         "retroprop diagnose experiment.yaml --repair --save-spec fixed.yaml",
                         "retroprop evaluate model.safetensors",
                         "retroprop predict model.safetensors --input samples.csv") +
        "\n\nexit status: 0 success, 1 an output went to a fallback file (or a crash), 2 usage or input "
        "error,\n3 `diagnose` found a problem or the run did not train, 130 interrupted")
    parser.add_argument("--version", action="version", version=f"retroprop {rp.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo", formatter_class=raw, help="the course page's failures, found by the doctor and cured",
        description=textwrap.dedent("""\
            Train each failing network and its cure side by side, with the doctor watching; print the
            diagnoses and a before/after table, and write figures and an HTML report to --out.
            Exit status 0 when every demonstration shows what it claims, 3 when one does not."""),
        epilog=_examples("retroprop demo all", "retroprop demo vanishing --out demo-out --seed 1",
                         "retroprop demo dropout --no-files --threads 1"))
    demo.add_argument("which", nargs="?", default="all", choices=["vanishing", "exploding", "dead-relu",
                                                                  "dropout", "all"],
                      help="which demonstration (default: all)")
    demo.add_argument("--out", default="retroprop-demo", metavar="DIR",
                      help="where figures and reports go (default: retroprop-demo)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--no-files", action="store_true", help="print only; write no figures or reports")
    demo.add_argument("--backend", choices=["retroprop", "torch"], default="retroprop",
                      help="build and train the networks in retroprop (default) or in PyTorch, watched by "
                           "retroprop.torch.watch (needs torch)")
    _add_threads(demo)
    demo.set_defaults(run=_demo)

    train = sub.add_parser(
        "train", formatter_class=raw, help="train from a YAML or JSON experiment spec",
        description=_wrap("Train the experiment SPEC describes (see docs/spec.md), with the doctor unless "
                          "told otherwise. Every output path is checked before the first step. Exit status "
                          "3 when the run did not train (it diverged, or stopped on NaN/Inf): --save still "
                          "writes that model, for inspection."),
        epilog=_examples("retroprop train experiment.yaml",
                         "retroprop train experiment.yaml --epochs 5 --lr 0.01 --save model.safetensors",
                         "retroprop train experiment.json --repair --report run.html --save-spec fixed.yaml",
                         "retroprop train experiment.yaml --no-doctor --threads 1"))
    _add_run_options(train)
    train.add_argument("--save", metavar="FILE", help="save the trained model (.safetensors or .npz); it "
                       "takes raw inputs and records its loss and data for `retroprop evaluate`")
    train.add_argument("--doctor", action=argparse.BooleanOptionalAction, default=None,
                       help="watch the run with the doctor (default: as the spec says)")
    train.add_argument("--repair", action=argparse.BooleanOptionalAction, default=None,
                       help="let the doctor repair the run (default: as the spec says)")
    train.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    train.set_defaults(run=_train)

    diagnose = sub.add_parser(
        "diagnose", formatter_class=raw, help="train with the doctor; exit 3 if it finds a problem",
        description=_wrap("Train SPEC with the doctor watching and print what it found. Exit status 0 "
                          "when the run is healthy; 3 when a problem was found, or the run did not train "
                          "(it diverged or stopped on NaN/Inf), so it can gate a CI job; 2 for a bad spec. "
                          "With --repair the doctor also treats what it finds (the exit status still says "
                          "it found something) and --save-spec writes the treated recipe."),
        epilog=_examples("retroprop diagnose experiment.yaml", "retroprop diagnose experiment.yaml --json",
                         "retroprop diagnose experiment.yaml --repair --save-spec fixed.yaml "
                         "--report run.html"))
    _add_run_options(diagnose)
    diagnose.add_argument("--repair", action="store_true", help="let the doctor treat what it finds")
    diagnose.add_argument("--json", action="store_true", help="machine-readable output")
    diagnose.set_defaults(run=_diagnose)

    report = sub.add_parser(
        "report", formatter_class=raw, help="the HTML report of a run record saved with --record",
        description=_wrap("Write the self-contained HTML report (the verdict, the figures, the History and "
                          "the configuration) of a run record that `train` or `diagnose` saved with --record "
                          "(.json). The record is checked field by field; one that does not fit is refused "
                          "in one line (exit status 2)."),
        epilog=_examples("retroprop train experiment.yaml --record run.json",
                         "retroprop report run.json --out run.html"))
    report.add_argument("record", metavar="RECORD", help="a run record (.json) saved with --record")
    report.add_argument("--out", required=True, metavar="FILE", help="the report to write (.html)")
    report.set_defaults(run=_report)

    evaluate = sub.add_parser(
        "evaluate", formatter_class=raw, help="loss and accuracy of a saved model on labelled data",
        description=_wrap("Without --data: the held-out split of the data the model was trained on (its file "
                    "records it). DATA is that data set's name, or a .npz file with arrays x and y, or a "
                    ".csv file (a header line is detected) whose label is the last column or --label. The "
                    "loss is the one the model was trained with (recorded in its file) unless --loss."),
        epilog=_examples("retroprop evaluate model.safetensors",
                         "retroprop evaluate model.npz --data test.csv --json",
                         "retroprop evaluate model.npz --data patients.csv --label outcome"))
    evaluate.add_argument("model", metavar="MODEL", help="a model saved by `retroprop train --save`")
    evaluate.add_argument("--data", help="data set name or data file (default: the model's held-out split)")
    evaluate.add_argument("--label", metavar="COLUMN",
                          help="the label column of a CSV file: its name or index (default: the last)")
    evaluate.add_argument("--loss", default=None,
                          help="loss name (default: the model's, else cross_entropy)")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    _add_threads(evaluate)
    evaluate.set_defaults(run=_evaluate)

    predict = sub.add_parser(
        "predict", formatter_class=raw, help="class predictions of a saved model",
        description=_wrap("Predict a class (a value, for a model trained on numeric targets) for every row "
                          "of INPUT (.csv, .npy or .npz with an array x; one sample per row, raw features; "
                          "a CSV header line is detected). Classes are named as in the data the model was "
                          "trained on (its file records them); a .npy --output holds class indices."),
        epilog=_examples("retroprop predict model.safetensors --input samples.csv",
                         "retroprop predict model.safetensors --input x.npy --output classes.csv",
                         "retroprop predict model.safetensors --input x.npy --scores"))
    predict.add_argument("model", metavar="MODEL", help="a model saved by `retroprop train --save`")
    predict.add_argument("--input", required=True, help=".csv, .npy or .npz file of samples")
    predict.add_argument("--output", help="write the predictions to this .csv file (class names, as the "
                         "model file records them) or .npy file (class indices)")
    predict.add_argument("--scores", action="store_true", help="the model's raw outputs instead of classes")
    _add_threads(predict)
    predict.set_defaults(run=_predict)

    watch = sub.add_parser(
        "watch", formatter_class=raw, help="run a PyTorch training script with the doctor watching",
        description=_wrap("Run SCRIPT (a PyTorch training script, unchanged) as `python SCRIPT ARGS` would, "
                          "with the doctor attached to every optimizer it creates and to the model it "
                          "trains (the first module called that holds all the optimizer's parameters); "
                          "the loss is read from each .backward(). When the script ends (or fails, or is "
                          "interrupted) print the diagnoses per model and write the report. Exit status: "
                          "the script's own when it failed; else 0 healthy, 3 a problem was found (or "
                          "nothing was watched); 2 usage errors. Options go before SCRIPT; everything "
                          "after it is the script's. Needs PyTorch."),
        epilog=_examples("retroprop watch train.py", "retroprop watch train.py --epochs 5 --lr 0.1",
                         "retroprop watch --json --report run.html train.py",
                         "retroprop watch --repair --record run.json train.py"))
    watch.add_argument("--report", default="retroprop-watch.html", metavar="FILE",
                       help="the HTML report (.html; default retroprop-watch.html; with several models, "
                            "FILE-2.html, ... for the others)")
    watch.add_argument("--record", metavar="FILE", help="also write each model's run record (.json)")
    watch.add_argument("--json", action="store_true",
                       help="the diagnoses as JSON on stdout (the script's own output goes to stderr)")
    watch.add_argument("--repair", action="store_true", help="let the doctor treat what it finds, in place")
    watch.add_argument("--every", type=_positive, metavar="K", help="probe every K steps (default: the "
                       "doctor's schedule)")
    watch.add_argument("script", metavar="SCRIPT", help="the training script (.py)")
    watch.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="the script's arguments")
    watch.set_defaults(run=_watch)
    return parser


# optional packages, by the module name an ImportError gives: (what to call it, the extra that has it)
_OPTIONAL_PACKAGES = {"matplotlib": ("matplotlib", "plot"), "yaml": ("PyYAML", "cli"),
                      "pydantic": ("pydantic", "cli"), "sklearn": ("scikit-learn", "data"),
                      "mnist1d": ("mnist1d", "data")}


def _one_line(err: Exception) -> str:
    from retroprop.spec import SpecError

    text = str(err)
    if isinstance(err, SpecError) and err.path is not None and err.location:
        text = f"{err.location}: {text}"  # 'spec.yaml, line 6: model.layers[2].p: ...'
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_USAGE
    if getattr(args, "threads", None) is None:
        try:  # a bad RETROPROP_NUM_THREADS is said now, in one line, not as a traceback mid-run
            rp.get_num_threads()
        except ValueError as err:
            print(f"retroprop {args.command}: error: {err}", file=sys.stderr)
            return EXIT_USAGE
    try:
        return args.run(args)
    except input_errors() as err:
        print(f"retroprop {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as err:
        package = _OPTIONAL_PACKAGES.get((err.name or "").partition(".")[0])
        if package is not None:
            name, extra = package
            print(f"retroprop {args.command}: error: this needs {name}: pip install 'retroprop[{extra}]'",
                  file=sys.stderr)
            return EXIT_USAGE
        raise
    except KeyboardInterrupt:
        print(f"retroprop {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED

