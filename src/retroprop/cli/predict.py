"""``retroprop evaluate`` and ``retroprop predict``: a saved model on labelled data or on samples.

The model file records its loss and its data (``retroprop train --save``), so ``evaluate`` needs no
more than the file for the model's own held-out split. Inputs are read and checked by
``retroprop.cli.inputs``; no class or score is given for a row whose outputs are not finite.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

import retroprop as rp
from retroprop.cli import EXIT_FAILED, EXIT_OK, PREDICTION_SUFFIXES, Outputs, UserError, apply_threads
from retroprop.cli.inputs import InputError
from retroprop.data import files as data_files
from retroprop.files import atomic_write


def _load_model(path: str) -> tuple[Any, dict[str, Any]]:
    """The model and what its file records about it (``info``; empty for a plain ``rp.save``)."""
    from retroprop.serialization import FileFormatError, read_info

    if not Path(path).exists():  # a folder, FIFO or device: rp.load's FileFormatError says which
        raise UserError(f"{path}: no such model file (write one with `retroprop train SPEC --save FILE`)")
    try:
        model = rp.load(path)
        info = read_info(path) or {}
    except (FileFormatError, ValueError, OSError) as err:  # FileFormatError: every malformed model file
        text = str(err)
        where = "" if text.startswith(str(path)) else f"{path}: cannot load a model: "
        raise UserError(where + text) from None
    return model, info if isinstance(info, dict) else {}


def _is_file_name(source: str) -> bool:
    suffixes = (*data_files.CSV_SUFFIXES, ".npz", ".npy")
    return Path(source).suffix.lower() in suffixes or "/" in source or Path(source).exists()


def _held_out(model_path: str, info: dict[str, Any], name: str | None, regression: bool) -> Any:
    """The held-out split the model was trained against, rebuilt from the data section its file
    records (raw inputs: a saved model standardizes them itself); y holds class numbers, or the
    numeric targets of a regression."""
    from retroprop.spec import SpecError, parse_spec

    data = info.get("data")
    recorded = None
    if isinstance(data, dict):  # a data set's name, or the file the model was trained on
        recorded = data.get("name") or data.get("file") or data.get("x_file")
    if not isinstance(data, dict):
        asked = ("its held-out split is unknown" if name is None
                 else f"--data {name} cannot be its held-out split")
        raise UserError(f"{model_path}: the model file records no data set (it was not saved by `retroprop "
                        f"train --save`), so {asked}; give --data a .npz or .csv file")
    if name is not None and name != recorded:
        raise UserError(f"{model_path}: the model was trained on {recorded or 'a data file'}, not {name}; "
                        "leave out --data for its held-out split, or give --data a .npz or .csv file")
    spec = {"data": {**data, "standardize": False}, "model": {"layers": [{"type": "linear"}]},
            "loss": info.get("loss", "cross_entropy"), "optimizer": {"name": "sgd", "lr": 0.1}, "epochs": 1}
    source = str(info.get("spec_file") or model_path)
    try:
        split = parse_spec(spec, source, base_dir=Path(source).parent).build_data()
    except SpecError as err:
        raise UserError(f"{model_path}: cannot rebuild the data it records: {err}") from None
    y = np.asarray(split.y_val, dtype=np.float64)
    if not regression and y.ndim == 2:  # one-hot rows or a 0/1 column: back to class numbers
        y = y.argmax(axis=1) if y.shape[1] > 1 else y[:, 0]
    x = np.asarray(split.x_val, dtype=np.float64)
    return data_files.Table(np.asarray(x, dtype=np.float64), y, None, None,
                       source=f"the held-out split of {recorded or 'its data'}")


def _labelled(args: argparse.Namespace, info: dict[str, Any], regression: bool) -> Any:
    from retroprop.cli.inputs import read_labelled

    if args.data is not None and _is_file_name(args.data):
        if args.label is not None and not args.data.lower().endswith(data_files.CSV_SUFFIXES):
            raise UserError("--label names a column of a CSV file; a .npz file's labels are its array y")
        names = info.get("class_names")
        return read_labelled(args.data, label=args.label, classes=not regression,
                             class_names=names if isinstance(names, list) and names else None)
    if args.label is not None:
        raise UserError("--label names a column of a --data CSV file")
    return _held_out(args.model, info, args.data, regression)


def _outputs(model: Any, table: Any) -> np.ndarray:
    """The model's outputs for the table's samples, checked: as many features as it takes, and
    outputs that are finite for every row."""
    from retroprop.cli.inputs import check_finite_outputs, check_width, input_width

    check_width(table, input_width(model))
    try:  # inputs that overflow the model's dtype show as non-finite outputs, refused just below
        with np.errstate(over="ignore", invalid="ignore"):
            outputs = rp.predict(model, table.x)
    except rp.ShapeError as err:
        raise InputError(f"{table.source}: {err}") from None
    outputs = outputs.reshape(len(outputs), -1)
    check_finite_outputs(table, outputs)
    return outputs


def _loss_kind(loss: str) -> str:
    from retroprop.spec import SPEC_LOSSES

    if loss not in SPEC_LOSSES:
        raise UserError(f"--loss: unknown loss {loss!r}; expected one of {', '.join(sorted(SPEC_LOSSES))}")
    return SPEC_LOSSES[loss].__name__


def _is_regression(info: dict[str, Any], kind: str) -> bool:
    """A model trained on numeric targets (the squared error on a data file's values): its file
    records no classes."""
    return kind == "MSELoss" and info.get("class_names") == []


def evaluate(args: argparse.Namespace) -> int:
    from retroprop.cli.inputs import class_labels
    from retroprop.training import LOSSES

    model, info = _load_model(args.model)
    loss = args.loss or info.get("loss") or "cross_entropy"
    kind = _loss_kind(loss)
    regression = _is_regression(info, kind)
    apply_threads(args)
    table = _labelled(args, info, regression)
    outputs = _outputs(model, table)
    binary = kind == "BCEWithLogitsLoss"
    if binary and outputs.shape[1] != 1:
        raise UserError(f"--loss {loss}: a binary loss needs a model with one output; this one has "
                        f"{outputs.shape[1]}")
    result: dict[str, float] = {}
    if regression:
        targets = table.y.reshape(len(table.y), -1).astype(outputs.dtype)
        if targets.shape[1] != outputs.shape[1]:
            raise InputError(f"{table.source}: {targets.shape[1]} target column(s), but the model has "
                             f"{outputs.shape[1]} output(s)")
    else:
        labels = class_labels(table, outputs.shape[1], binary)
        if binary:
            targets = labels.astype(outputs.dtype).reshape(-1, 1)
            correct = (outputs[:, 0] > 0) == (labels == 1)
        else:
            targets = np.eye(outputs.shape[1], dtype=outputs.dtype)[labels] if kind == "MSELoss" else labels
            correct = outputs.argmax(axis=1) == labels
        result["accuracy"] = float(correct.mean())
    with rp.no_grad(), np.errstate(over="ignore", invalid="ignore"):
        result = {"loss": float(LOSSES[loss]()(rp.from_numpy(outputs), targets).data), **result}
    samples = len(outputs)
    print(json.dumps({**result, "samples": samples, "loss_name": loss}) if args.json else
          ", ".join(f"{k} {v:.4f}" for k, v in result.items()) + f" on {samples} samples ({loss}, "
          f"{table.source})")
    return EXIT_OK


def _class_names(info: dict[str, Any], n_outputs: int) -> list[str]:
    """The names of the classes the model's file records (a model trained on labels "a", "b", "c"
    predicts those), else the class numbers."""
    n_classes = 2 if n_outputs == 1 else n_outputs
    names = info.get("class_names")
    if isinstance(names, list) and len(names) == n_classes:
        return [str(name) for name in names]
    return [str(c) for c in range(n_classes)]


def _csv_field(text: str) -> str:
    """One CSV field, quoted when it holds a delimiter, a quote or a line break."""
    if any(c in text for c in ',"\r\n') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def predict(args: argparse.Namespace) -> int:
    from retroprop.cli.inputs import read_samples

    outputs_file = Outputs("predict")
    out = outputs_file.check(args.output, "predictions", PREDICTION_SUFFIXES)
    model, info = _load_model(args.model)
    apply_threads(args)
    table = read_samples(args.input)
    outputs = _outputs(model, table)
    scores = args.scores or _is_regression(info, _loss_kind(str(info.get("loss", "cross_entropy"))))
    classes = outputs.argmax(axis=1) if outputs.shape[1] > 1 else (outputs[:, 0] > 0).astype(np.int64)
    names = _class_names(info, outputs.shape[1])
    values = outputs if scores else classes
    if out is None:
        for row in values:
            print(",".join(f"{v:.6g}" for v in np.atleast_1d(row)) if scores else names[int(row)])
        return EXIT_OK

    def writer(target: Path) -> None:
        with atomic_write(target, "wb") as handle:
            if target.suffix.lower() == ".npy":  # class indices (their names are in the model file)
                np.save(handle, values)
            elif scores:
                np.savetxt(handle, values, delimiter=",", fmt="%.9g")
            else:
                handle.write("".join(f"{_csv_field(names[int(c)])}\n" for c in values).encode())

    where = outputs_file.write(out, "predictions", writer)
    if where is not None:
        outputs_file.say(f"{len(values)} predictions written to {where}")
    return EXIT_FAILED if outputs_file.incomplete else EXIT_OK
