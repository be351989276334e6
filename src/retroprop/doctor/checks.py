"""Static checks: bugs visible from the model's structure, the loss and the data, before the first step.

Like the rules, these detectors read plain descriptions only (dicts, lists, NumPy arrays), so any
framework's adapter can feed them (``structure.describe_model`` is retroprop's).

A model is a list of layer dicts in forward order (nested containers flattened)::

    {"name": "0", "label": "layer 1, Linear 64→10", "kind": "linear",
     "in_features": 64, "out_features": 10}

``name`` (str) and ``kind`` are required; ``label`` (str, defaults to the name) and
``in_features``/``out_features`` (int or None; set for ``linear``, and the feature count for
``batchnorm``/``standardize``) are optional. ``kind`` is one of ``LAYER_KINDS``: ``linear``; the
activations ``relu``, ``leaky_relu``, ``elu``, ``selu``, ``gelu``, ``sigmoid``, ``tanh``,
``softmax`` and ``log_softmax`` (over the feature axis), ``other_activation`` (nonlinear, range
unknown); the layers that keep a map affine, ``dropout``, ``batchnorm``, ``standardize``,
``identity``, ``flatten``; and ``other`` (anything else: treated as unknown, so no check reasons
across it).

The loss is one of ``LOSS_KINDS``: ``cross_entropy`` (log-softmax inside, integer labels),
``nll`` (expects log-probabilities), ``cross_entropy_probs`` (expects probabilities, as Keras's
``categorical_crossentropy``), ``bce`` (expects probabilities), ``bce_with_logits`` (sigmoid inside),
``mse``, ``l1``, ``huber``; or None when unknown. Statistics of inputs and targets are
taken from at most ``SAMPLE_ROWS`` rows (the inputs' from ``INPUT_ROWS``), evenly spaced over the set.

Each finding's evidence says who can fix it: ``fix_by`` is ``"fit"`` (``rp.fit`` can apply the
remedy itself) or ``"user"``, and ``fix_note`` says so in a sentence.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from retroprop.doctor.rules import EXPLODING_UPDATE_RATIO, SLOW_UPDATE, Finding, _fmt, _pct

ACTIVATIONS = frozenset({"relu", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "tanh", "softmax",
                         "log_softmax", "other_activation"})
AFFINE = frozenset({"dropout", "batchnorm", "standardize", "identity", "flatten"})  # no nonlinearity
LAYER_KINDS = frozenset({"linear", "other"}) | ACTIVATIONS | AFFINE
LOSS_KINDS = frozenset({"cross_entropy", "nll", "cross_entropy_probs", "bce", "bce_with_logits", "mse", "l1",
                        "huber"})
CATEGORICAL_LOSSES = frozenset({"cross_entropy", "nll", "cross_entropy_probs"})
REGRESSION_LOSSES = frozenset({"mse", "l1", "huber"})
BINARY_LOSSES = frozenset({"bce", "bce_with_logits"})
# the range of each output kind; an affine output ("linear", "batchnorm", ...) is unbounded
OUTPUT_RANGE: dict[str, tuple[float, float]] = {
    "sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, math.inf),
    "log_softmax": (-math.inf, 0.0), "elu": (-1.0, math.inf), "selu": (-1.7581, math.inf),
    "gelu": (-0.17, math.inf), "leaky_relu": (-math.inf, math.inf),
}
TRAILING = frozenset({"dropout", "identity", "flatten"})  # leave the output's values and range as they are

SAMPLE_ROWS = 1024  # scale statistics need no more: their thresholds sit tens of times apart
SAMPLE_VALUES = 1 << 20  # wide inputs: fewer rows (at least MIN_SAMPLE_ROWS), so a check stays cheap
MIN_SAMPLE_ROWS = 256
# the inputs' scale (an RMS, ranges, offsets, against thresholds tens of times apart) is read on this many
# rows: an RMS from 256 rows is within about 6 % (a feature's CV of 1), and the check runs at every fit's
# start, on columns of any width
INPUT_ROWS = MIN_SAMPLE_ROWS
# Scale. Default inits (U(±1/sqrt(fan_in)), variance 1/(3 fan_in)) assume unit-scale inputs: a unit's
# pre-activation then has std RMS(x)/sqrt(3). Two mechanisms make a large RMS harmful:
# * saturation: sigmoid and tanh pass under 1/100 of their peak derivative beyond |z| = 6 and 3 (the
#   probes' mark), so a typical unit starts flat once RMS(x)/sqrt(3) passes that point, and more than
#   90 % of units do at 10 times it (P(|z| < std/10) < 8 % for a normal z);
# * step size: every weight gradient scales with the signal flowing forward (ReLU is homogeneous), so
#   update-to-weight ratios grow with RMS(x). Healthy runs take steps of 1e-3 to 1e-2 of the weights
#   and steps above EXPLODING_UPDATE_RATIO (0.5) explode: a rate at the top of the healthy band
#   explodes at 0.5 / 1e-2 = 50 times the unit scale, one at its bottom at 0.5 / 1e-3 = 500.
SATURATION_Z = {"tanh": 3.0, "sigmoid": 6.0}
SATURATION_CRITICAL = 10.0
STEP_SCALE_MAX = EXPLODING_UPDATE_RATIO / 1e-2
STEP_SCALE_CRITICAL = EXPLODING_UPDATE_RATIO / 1e-3
# The same homogeneity works downwards: at zero biases a ReLU network's activations, output and weight
# gradients all shrink with RMS(x), so the output starts flat and every layer's steps are as small. Below
# SLOW_UPDATE / 1e-2 (0.01; pixels divided twice by 255 lie below 0.004) even a rate at the top of the
# healthy band moves the first layer's weights by less than SLOW_UPDATE per step (slow_steps's mark).
# Read on the largest value, not the RMS: a rare 0/1 flag has a small RMS but unit-scale values.
STEP_SCALE_MIN = SLOW_UPDATE / 1e-2
# Conditioning. The weight a feature needs to move a pre-activation by 1 is 1/(its range), and its
# gradient scales with its range: one learning rate moves features whose ranges differ r-fold r^2
# times apart. At CONDITION_MAX (a typical run's ~1000 steps) the narrow ones never learn.
CONDITION_MAX = 1000.0
INPUT_SPREAD_MAX = math.sqrt(CONDITION_MAX)
# a feature lying on [a, a + R] is nearly collinear with the bias: E[x^2]/Var(x) ~ 12 (a/R)^2
INPUT_OFFSET_MAX = math.sqrt(CONDITION_MAX / 12)
# Training and validation inputs drawn and preprocessed alike have the same RMS up to sampling noise (a
# few percent over hundreds of values; the published programs' pairs differ by 1.7x at most, on a
# handful of XOR points); a 10x difference is preprocessing applied to one set only (scaled to [0, 1]
# or standardized, the other left raw), so the validation metrics judge another input distribution
VALIDATION_SCALE_MAX = 10.0
VALIDATION_MIN_ROWS = 8
# Classes: a class absent from the training targets is never the answer a model is pushed towards, so
# every validation row of it is wrong whatever is learned. Random splits leave out a class only when it
# is rare; a tenth of the validation rows in unseen classes (at least VALIDATION_MIN_ROWS of them) is a
# split of data ordered by its label (validation_split takes the last rows) or labels made apart.
UNSEEN_CLASS_SHARE = 0.1
# a class an order of magnitude rarer among the training rows than among the validation rows: a model
# fitted to the training classes' frequencies scores the class about ln 10 lower than one fitted to the
# validation's, enough to lose most of its rows that lie near another class. Random splits shift a
# class's share by its sampling noise only: tenfold needs an uneven split (or resampled training data)
STARVED_CLASS_RATIO = 10.0
# Order: shuffled, a class's consecutive run lasts 1 / (1 - sum p_c^2) samples on average (p_c the class
# shares: about C / (C - 1) for C balanced classes). Runs ten times that long, spanning at least two
# batches, are data ordered by class: one stretch of steps sees one class only.
SORTED_RUN_FACTOR = 10.0
SORTED_RUN_BATCHES = 2
SORTED_MIN_BATCHES = 4
SKEW_BATCHES = 1024  # batches whose class mix ``batch_skew`` reads, at most (spread over the set)
# Symmetry: units alike when every weight of their rows (or columns) is within this share of the layer's
# largest weight (a constant or zero initialization is exactly alike; random weights never come close)
SYMMETRY_TOLERANCE = 1e-6
# Targets: the output starts near 0, RMS(y) away from them; under MSE the gradient at the output is
# 2(prediction - y), so every update ratio scales with RMS(y) as above (L1 and Huber bound the gradient:
# the distance then takes RMS(y) times as many steps). An offset of |mean|/std beyond sqrt(CONDITION_MAX)
# makes the first loss that many squared times the variance left to explain.
TARGET_SCALE_MAX, TARGET_SCALE_CRITICAL = STEP_SCALE_MAX, STEP_SCALE_CRITICAL
TARGET_OFFSET_MAX = math.sqrt(CONDITION_MAX)
CLASS_CODES_MAX = 10  # integer targets 0..k-1 with k up to this, under a regression loss, read as labels
OUT_OF_RANGE_SHARE = 0.01
# a softmax row sums to 1 up to rounding; float32 targets (label smoothing, soft labels) sum to 1 within
# a few ulps of their width, far inside this
ROW_SUM_TOLERANCE = 1e-3

USER_FIX = "This is yours to fix: fit cannot change {what} for you."
FIT_FIX = "fit can apply this fix itself ({remedy})."

class DescriptionError(ValueError):
    """A layer list, loss name or data array handed to the static checks is malformed."""


def declared_loss_kind(loss: Any) -> str | None:
    """The loss kind a custom loss declares with a ``doctor_loss_kind`` attribute (one of
    ``LOSS_KINDS``), None when it declares none; a kind outside ``LOSS_KINDS`` is refused."""
    declared = getattr(loss, "doctor_loss_kind", None)
    if declared is not None and declared not in LOSS_KINDS:
        raise ValueError(f"describe_loss: {type(loss).__name__}.doctor_loss_kind must be one of "
                         f"{', '.join(sorted(LOSS_KINDS))}, got {declared!r}")
    return declared


# ---------------------------------------------------------------------------------------------
# Validation and summaries
# ---------------------------------------------------------------------------------------------
def validate_layers(layers: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The layer dicts, checked (raises ``DescriptionError`` naming the layer and the field)."""
    if isinstance(layers, (str, bytes, dict)) or not isinstance(layers, Sequence):
        raise DescriptionError(f"layers must be a list of layer dicts, got {type(layers).__name__}")
    for index, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise DescriptionError(f"layers[{index}] must be a dict, got {type(layer).__name__}")
        if not isinstance(layer.get("name"), str):
            raise DescriptionError(f"layers[{index}]: 'name' must be a str, got {layer.get('name')!r}")
        if layer.get("kind") not in LAYER_KINDS:
            raise DescriptionError(f"layers[{index}] ({layer['name']}): unknown kind {layer.get('kind')!r}; "
                                   f"expected one of {', '.join(sorted(LAYER_KINDS))}")
        for key in ("in_features", "out_features"):
            value = layer.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                      or value < 1):
                raise DescriptionError(f"layers[{index}] ({layer['name']}): {key!r} must be a positive int "
                                       f"or None, got {value!r}")
        if layer.get("label") is not None and not isinstance(layer["label"], str):
            raise DescriptionError(f"layers[{index}] ({layer['name']}): 'label' must be a str or None")
    return list(layers)


def _label(layer: dict[str, Any]) -> str:
    return layer.get("label") or layer["name"]


def _check_loss(loss: str | None) -> None:
    if loss is not None and loss not in LOSS_KINDS:
        raise DescriptionError(f"unknown loss {loss!r}; expected None or one of "
                               f"{', '.join(sorted(LOSS_KINDS))}")


def sample_rows(data: Any, what: str, limit: int = SAMPLE_ROWS) -> np.ndarray:
    """At most ``limit`` rows of ``data`` (fewer for wide data: about ``SAMPLE_VALUES`` values, at
    least ``MIN_SAMPLE_ROWS`` rows), evenly spaced, as a float64 array of shape (rows, columns)."""
    array = np.asarray(data)
    if array.dtype.kind not in "biuf":
        raise DescriptionError(f"{what} must be a numeric array, got dtype {array.dtype}")
    if array.ndim == 0 or array.shape[0] == 0:
        raise DescriptionError(f"{what} must have at least one row, got shape {array.shape}")
    columns = max(math.prod(array.shape[1:]), 1)
    limit = min(limit, max(MIN_SAMPLE_ROWS, SAMPLE_VALUES // columns))
    step = -(-array.shape[0] // limit)
    rows = array[::step].astype(np.float64)
    return rows.reshape(rows.shape[0], -1)


def feature_rows(inputs: Any, what: str = "inputs", limit: int = SAMPLE_ROWS) -> np.ndarray:
    """The inputs as (rows, features), float64: rows of (N, features) data as ``sample_rows`` samples
    them; for (N, C, ...) data (images, signals) each channel is a feature, as for batch normalization,
    and its values at every position of the evenly spaced samples are its rows."""
    array = np.asarray(inputs)
    if array.ndim <= 2:
        return sample_rows(array, what, limit)
    if array.dtype.kind not in "biuf":
        raise DescriptionError(f"{what} must be a numeric array, got dtype {array.dtype}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise DescriptionError(f"{what} must have at least one sample and one channel, got {array.shape}")
    values = max(math.prod(array.shape[1:]), 1)
    limit = min(limit, max(MIN_SAMPLE_ROWS, SAMPLE_VALUES // values))
    step = -(-array.shape[0] // limit)
    samples = array[::step].astype(np.float64)
    return np.moveaxis(samples, 1, -1).reshape(-1, array.shape[1])


def mean_guess_loss(loss: str | None, targets: Any) -> float | None:
    """The loss of a blind guess that predicts every target's mean (``mse``: the targets' variance,
    averaged over the outputs; binary cross-entropy, ``bce`` or ``bce_with_logits``, on targets in
    [0, 1]: the entropy of their mean, averaged over the outputs, as the loss is linear in the target)
    or median (``l1``: their mean absolute deviation from it), on at most ``SAMPLE_ROWS`` rows: the
    mark a trained model is below. None for another loss, targets that are not a numeric (rows,) or
    (rows, outputs) array (binary ones outside [0, 1]), or a guess that is exact (a loss of 0)."""
    if (loss not in ("mse", "l1", *BINARY_LOSSES) or targets is None or np.ndim(targets) not in (1, 2)
            or not len(targets)):
        return None
    try:
        y = sample_rows(targets, "targets")
    except DescriptionError:
        return None
    if not np.isfinite(y).all():
        return None
    if loss in BINARY_LOSSES:
        if y.min() < 0 or y.max() > 1:
            return None
        from scipy.special import entr  # -p ln p, 0 at p = 0

        p = y.mean(axis=0)
        guess = float(np.mean(entr(p) + entr(1 - p)))
    elif loss == "mse":
        guess = float(np.var(y, axis=0).mean())
    else:
        guess = float(np.abs(y - np.median(y, axis=0)).mean())
    return guess if guess > 0 else None


def _output(layers: list[dict[str, Any]]) -> tuple[str | None, dict[str, Any] | None, int | None]:
    """The output's kind (an activation, ``"affine"``, or None when unknown), its layer and width."""
    kind = head = width = None
    for layer in reversed(layers):
        if layer["kind"] == "other":
            return kind, head, None  # an unknown layer may change the values and the width
        if head is None and layer["kind"] not in TRAILING:
            head = layer
            kind = layer["kind"] if layer["kind"] in ACTIVATIONS else "affine"
        if layer.get("out_features") is not None:
            return kind, head, int(layer["out_features"])
    return kind, head, width


def output_kind(layers: Sequence[dict[str, Any]]) -> str | None:
    """The kind of a described model's output: an activation's name, ``"affine"``, or None (unknown)."""
    return _output(validate_layers(layers))[0]


def _class_targets(targets: np.ndarray | None) -> dict[str, Any] | None:
    """What the targets say about classes: integer-valued, distinct values, one-hot; None if no targets."""
    if targets is None:
        return None
    rows = sample_rows(targets, "targets")
    finite = rows[np.isfinite(rows).all(axis=1)]
    if not finite.size:
        return None
    integer = bool(np.array_equal(finite, np.round(finite)))
    one_hot = (finite.shape[1] >= 2 and integer and bool(np.isin(finite, (0.0, 1.0)).all())
               and bool((finite.sum(axis=1) == 1).all()))
    column = finite[:, 0] if finite.shape[1] == 1 else None
    values = np.unique(column) if column is not None else None
    return {"columns": finite.shape[1], "integer": integer, "one_hot": one_hot,
            "values": values, "sample": finite}


def _as_indicators(info: dict[str, Any] | None, width: int | None, n_classes: int | None
                   ) -> dict[str, Any] | None:
    """The targets a regression loss declared a classification's (``n_classes`` given, one output per
    class) compares with integer labels in [0, ``n_classes``): their one-hot rows (a custom loss that
    codes the labels itself, as Nielsen's quadratic cost); any other ``info`` as it is."""
    if (info is None or n_classes is None or n_classes < 2 or width != n_classes or info["values"] is None
            or not info["integer"] or info["values"].min() < 0 or info["values"].max() >= n_classes):
        return info
    rows = np.eye(n_classes)[info["sample"][:, 0].astype(np.int64)]
    return {"columns": n_classes, "integer": True, "one_hot": True, "values": None, "sample": rows}


def _finding(problem: str, layer: dict[str, Any] | None, severity: str, evidence: dict[str, Any],
             explanation: str, fix: str) -> Finding:
    return Finding(problem, layer["name"] if layer else None, _label(layer) if layer else None, severity,
                   {**evidence, "fix_by": "user" if fix.startswith("This is yours") else "fit",
                    "fix_note": fix}, explanation)


# ---------------------------------------------------------------------------------------------
# loss_output_mismatch
# ---------------------------------------------------------------------------------------------
def loss_output_mismatch(layers: Sequence[dict[str, Any]], loss: str | None,
                         targets: np.ndarray | None = None, n_classes: int | None = None,
                         broadcast: tuple[Sequence[int], Sequence[int] | None] | None = None
                         ) -> list[Finding]:
    """The output layer and the loss do not fit each other or the targets (at most one finding: the
    most severe case; the others are listed in its evidence's ``also``). ``broadcast``: (the output's
    shape, the shape the loss compared) when the loss broadcast the output against targets of another
    shape (``retroprop.torch.loss_graph`` reads it)."""
    layers = validate_layers(layers)
    _check_loss(loss)
    if loss is None:
        return []
    kind, head, width = _output(layers)
    info = _class_targets(targets)
    if loss in REGRESSION_LOSSES:
        info = _as_indicators(info, width, n_classes)
    cases = [case for case in _mismatches(kind, head, width, loss, info, n_classes) if case]
    before = _scores_activation(layers, head) if kind in ("softmax", "log_softmax") else None
    if before is not None and loss in CATEGORICAL_LOSSES and width != 1:
        cases.append(_activation_before_softmax(before, kind, width, info, n_classes))
        if len(cases) == 1:  # the activation before the softmax is the layer to name
            head = before
    if broadcast is not None:
        cases.insert(0, _broadcast_case(loss, *broadcast))
    if not cases:
        return []
    cases.sort(key=lambda case: case[1] != "critical")  # stable: the first critical case leads
    case, severity, evidence, explanation, fix = cases[0]
    evidence = {"case": case, "loss": loss, "output_kind": kind, "output_width": width, **evidence}
    if len(cases) > 1:
        evidence["also"] = [other[0] for other in cases[1:]]
    return [_finding("loss_output_mismatch", head, severity, evidence, explanation, fix)]


# activations that clip or squash a softmax's scores (others, ELU and the like, bend them only below 0)
SCORE_SQUASHERS = frozenset({"relu", "sigmoid", "tanh", "softmax"})


def _scores_activation(layers: list[dict[str, Any]], head: dict[str, Any] | None) -> dict[str, Any] | None:
    """The activation the scores went through just before the output's softmax ``head`` (layers that
    leave values as they are aside), when it clips or squashes them (``SCORE_SQUASHERS``); else None."""
    if head is None:
        return None
    index = next((i for i, layer in enumerate(layers) if layer is head), None)
    for layer in reversed(layers[:index] if index is not None else []):
        if layer["kind"] in TRAILING:
            continue
        return layer if layer["kind"] in SCORE_SQUASHERS else None
    return None


def _activation_before_softmax(before: dict[str, Any], kind: str, width: int | None,
                               info: dict[str, Any] | None, n_classes: int | None) -> tuple:
    """``loss_output_mismatch``, case ``activation_before_softmax``: the class scores clipped at 0 or
    squashed into a band before the output's softmax normalizes them."""
    activation, classes = before["kind"], _classes(info, n_classes)
    where = _label(before)
    fix = FIT_FIX.format(remedy=f"fix_output_loss: remove the {activation} before the {kind}")
    if activation == "relu":
        return ("activation_before_softmax", "warning", {"activation": activation, "classes": classes},
                f"{where} clips the class scores at 0 before the {kind.replace('_', '-')}: a class whose "
                "score is pushed below 0 passes no gradient again, so its probability is stuck where the "
                "others leave it.", fix)
    low, high = OUTPUT_RANGE[activation]
    floor = math.log1p((max(classes or width or 2, 2) - 1) * math.exp(-(high - low)))
    return ("activation_before_softmax", "warning",
            {"activation": activation, "classes": classes, "loss_floor": floor},
            f"{where} squashes the class scores into ({low:g}, {high:g}) before the "
            f"{kind.replace('_', '-')}: its probabilities can never be confident, the loss can never fall "
            f"below {_fmt(floor)}, and its gradient stays small even when the prediction is wrong.", fix)


def rows_coupled(layers: Sequence[dict[str, Any]], coupled: dict[str, Any] | None) -> list[Finding]:
    """A custom loss that mixes a batch's rows (``coupled``: ``adapter.loss_rows_coupled``'s evidence,
    None when it scores each row alone): the loss of a batch is neither the mean nor the sum of its
    halves' losses, so each sample's gradient depends on the others in its batch."""
    if not coupled:
        return []
    _, head, _ = _output(validate_layers(layers))
    first, second = coupled["halves"]
    return [_finding(
        "loss_output_mismatch", head, "critical", {"case": "rows_coupled", **coupled},
        f"the loss of {coupled['rows']} rows is {_fmt(coupled['whole'])}, while its two halves score "
        f"{_fmt(first)} and {_fmt(second)}: neither their mean nor their sum. A loss per sample scores each "
        "row from its own outputs and target; this one mixes the rows of a batch (a softmax normalized "
        "over the batch axis instead of the classes, outputs broadcast against the targets), so each "
        "sample is pulled by the others and the model learns what the batch holds, not each input's answer.",
        USER_FIX.format(what="the loss (normalize over each row's class scores, axis=-1; give outputs and "
                             "targets the same shape)"))]


def _broadcast_case(loss: str, output: Sequence[int], compared: Sequence[int] | None) -> tuple:
    """An elementwise loss that broadcast the output against targets of another shape (``compared``:
    the shape both were broadcast to, None when not known)."""
    shape = "a larger shape" if compared is None else " x ".join(str(n) for n in compared)
    return ("broadcast_targets", "critical",
            {"output_shape": list(output), "compared_shape": None if compared is None else list(compared)},
            f"the {loss} loss compared an output of shape {tuple(output)} with targets of another shape, "
            f"broadcast to {shape}: every prediction is scored against every sample's target (as for "
            "(N, 1) against (N,)), and the best it can do is predict their mean for all.",
            USER_FIX.format(what="the targets' shape (y.view(-1, 1) for one output) or the output's "
                                 "(out.squeeze(1)), so that both match"))


def _classes(info: dict[str, Any] | None, n_classes: int | None) -> int | None:
    if n_classes is not None:
        return int(n_classes)
    if info and info["one_hot"]:
        return info["columns"]
    if info and info["values"] is not None and info["integer"] and info["values"].min() >= 0:
        return int(info["values"].max()) + 1
    return None


def _mismatches(kind: str | None, head: dict[str, Any] | None, width: int | None, loss: str,
                info: dict[str, Any] | None, n_classes: int | None) -> list[tuple | None]:
    where = _label(head) if head else "the output"
    if kind in ("softmax", "log_softmax") and width == 1:
        value = "1" if kind == "softmax" else "0"
        # one unit suits a binary or a regression loss, which then needs a sigmoid (on probabilities) or
        # nothing (on scores, or values) in place of the softmax; a categorical loss needs more units
        fix = ("a sigmoid in place of the softmax" if loss == "bce" else "remove the softmax"
               if loss in BINARY_LOSSES or loss in REGRESSION_LOSSES else None)
        return [("softmax_one_unit", "critical", {"classes": _classes(info, n_classes)},
                 f"{where} takes a {kind} over one unit: its output is the constant {value} for every input, "
                 "so it carries no information and passes no gradient.",
                 FIT_FIX.format(remedy=f"fix_output_loss: {fix}") if fix else
                 USER_FIX.format(what="the output width (one unit per class) or the activation"))]
    if loss in CATEGORICAL_LOSSES:
        return _categorical(kind, width, loss, info, n_classes, where)
    if loss in BINARY_LOSSES:
        return _binary(kind, width, loss, info, n_classes, where)
    return [_softmax_row_sums(kind, width, loss, info, where),
            _regression_on_labels(kind, width, loss, info, n_classes),
            _out_of_range(kind, loss, info, where)]


def _categorical(kind: str | None, width: int | None, loss: str, info: dict[str, Any] | None,
                 n_classes: int | None, where: str) -> list[tuple | None]:
    classes = _classes(info, n_classes)
    cases: list[tuple | None] = []
    multilabel = _multilabel_share(info)
    if multilabel > OUT_OF_RANGE_SHARE:
        cases.append(("multilabel_categorical", "critical" if multilabel > 0.5 else "warning",
                      {"multilabel_rows": multilabel, "columns": info["columns"]},
                      f"{multilabel:.0%} of the target rows mark several classes at once, but {loss} scores "
                      "one distribution over the classes: its probabilities sum to 1, so k labels of one "
                      "sample get about 1/k each and no threshold finds them all.",
                      USER_FIX.format(what="the loss (several labels per sample need one sigmoid per label "
                                           "with binary cross-entropy)")))
    if width == 1 and loss != "nll":  # NLL on one raw output is unbounded: named below
        cases.append(("one_output", "critical", {"classes": classes},
                      f"{loss} over a single output: a distribution over one class gives it probability 1 "
                      "for every input, so the loss cannot fall and no gradient reaches the model.",
                      USER_FIX.format(what="the output width (one unit per class)")))
    elif width is not None and classes is not None and width < classes:
        cases.append(("too_few_outputs", "critical", {"classes": classes},
                      f"the labels run to {classes - 1} but the model has {width} outputs: labels beyond "
                      f"{width - 1} have no score to raise.",
                      USER_FIX.format(what="the output width (one unit per class)")))
    low, high = OUTPUT_RANGE.get(kind or "", (-math.inf, math.inf))
    if loss == "cross_entropy" and kind in ("softmax", "sigmoid", "tanh"):
        spread = high - low
        floor = math.log1p((max(classes or width or 2, 2) - 1) * math.exp(-spread))
        case = {"softmax": "double_softmax", "sigmoid": "sigmoid_categorical"}.get(kind, "bounded_scores")
        cases.append((case, "warning", {"classes": classes, "loss_floor": floor},
                      f"{where} squashes the scores into ({low:g}, {high:g}) before cross-entropy applies "
                      f"its own log-softmax: the loss can never fall below {_fmt(floor)} and its gradient "
                      "stays small even when the prediction is wrong.",
                      FIT_FIX.format(remedy="fix_output_loss: remove the output activation; predictions keep "
                                            "their argmax")))
    elif loss == "cross_entropy" and kind == "relu":
        cases.append(("nonnegative_scores", "warning", {"classes": classes},
                      f"{where} clips the class scores at 0 before cross-entropy: an output unit pushed "
                      "below 0 passes no gradient again, so its class's score is stuck.",
                      FIT_FIX.format(remedy="fix_output_loss: remove the output ReLU")))
    elif loss == "nll" and kind not in ("log_softmax", None, "other_activation"):
        if high == math.inf:
            cases.append(("nll_without_log_softmax", "critical", {"output_range": [low, high]},
                          f"NLL loss on {where}'s raw scores (no LogSoftmax): the loss is minus the true "
                          "class's score, which has no lower bound, so it falls forever while the weights "
                          "grow.",
                          FIT_FIX.format(remedy="fix_output_loss: end the model with LogSoftmax")))
        else:
            cases.append(("nll_without_log_softmax", "warning", {"output_range": [low, high]},
                          f"NLL loss on {where}'s outputs in ({low:g}, {high:g}) instead of "
                          "log-probabilities: the loss is minus a bounded value, so a wrong prediction gets "
                          "no larger gradient than a right one.",
                          FIT_FIX.format(remedy="fix_output_loss: replace the output activation by "
                                                "LogSoftmax")))
    elif loss == "cross_entropy_probs" and kind == "sigmoid":
        cases.append(("sigmoid_categorical", "warning", {"classes": classes},
                      f"categorical cross-entropy on {where}'s independent sigmoids, which are no "
                      "distribution: an output unit that sits confidently wrong is in its flat region and "
                      "passes almost no gradient.",
                      FIT_FIX.format(remedy="fix_output_loss: a softmax output instead of the sigmoid")))
    elif loss == "cross_entropy_probs" and kind not in ("softmax", None, "other_activation"):
        cases.append(("probabilities_expected", "critical", {"output_range": [low, high]},
                      f"categorical cross-entropy takes probabilities, but {where}'s outputs range over "
                      f"({low:g}, {high:g}): the log of a value <= 0 is undefined (NaN), or clipped to a "
                      "constant that passes no gradient.",
                      FIT_FIX.format(remedy="fix_output_loss: a softmax output in place of the last "
                                            "activation")))
    return cases


def _multilabel_share(info: dict[str, Any] | None) -> float:
    """The share of target rows that are 0/1 indicators with more than one 1 (multi-label, multi-hot);
    0 for labels in one column, or for targets that are not 0/1 indicators."""
    if info is None or info["columns"] < 2 or not info["integer"]:
        return 0.0
    sample = info["sample"]
    if not np.isin(sample, (0.0, 1.0)).all():
        return 0.0
    return float(np.mean(sample.sum(axis=1) > 1))


def _binary(kind: str | None, width: int | None, loss: str, info: dict[str, Any] | None,
            n_classes: int | None, where: str) -> list[tuple | None]:
    cases: list[tuple | None] = []
    one_column = info is None or info["columns"] == 1
    values = info["values"] if info and one_column else None
    if values is not None and (values.min() < 0 or values.max() > 1):
        shown = [float(v) for v in values[:12]]
        several = info["integer"] and len(values) > 2
        cases.append(("binary_loss_multiclass" if several else "binary_targets_out_of_range", "critical",
                      {"target_values": shown, "distinct_targets": len(values)},
                      f"{loss} on targets from {_fmt(float(values.min()))} to {_fmt(float(values.max()))} "
                      f"({len(values)} distinct): a binary loss takes targets in [0, 1]; outside it the "
                      "gradient never vanishes, so the score grows without bound.",
                      USER_FIX.format(what="the loss (cross_entropy for several classes) or the labels"
                                      if several else "the labels (0 and 1)")))
    elif n_classes is not None and n_classes > 2 and one_column:
        cases.append(("binary_loss_multiclass", "critical", {"classes": n_classes},
                      f"{loss} on {n_classes} classes with one target per sample: a binary loss tells only "
                      "two classes apart.",
                      USER_FIX.format(what="the loss (cross_entropy for several classes)")))
    expected = 1 if one_column else info["columns"]
    # without targets, only a declared two-class problem says that one output is expected
    known = info is not None or n_classes == 2
    if known and width is not None and width != expected:
        cases.append(("binary_output_width", "critical", {"expected_width": expected},
                      f"{loss} expects {expected} output(s) per sample, one per target column, but {where} "
                      f"has {width}: the shapes do not match (or broadcast every output against one label).",
                      USER_FIX.format(what="the output width")))
    low, high = OUTPUT_RANGE.get(kind or "", (-math.inf, math.inf))
    if loss == "bce" and kind not in ("sigmoid", "softmax", None, "other_activation"):
        cases.append(("probabilities_expected", "critical", {"output_range": [low, high]},
                      f"binary cross-entropy takes probabilities, but {where}'s outputs range over "
                      f"({low:g}, {high:g}): the log of a value outside (0, 1) is undefined (NaN, or an "
                      "error).",
                      FIT_FIX.format(remedy="fix_output_loss: a sigmoid output (or bce_with_logits on the "
                                            "raw scores)")))
    elif loss == "bce_with_logits" and kind in ("sigmoid", "softmax", "tanh", "relu", "log_softmax"):
        chance = 1 / (1 + math.exp(-low)) if math.isfinite(low) else 0.0
        peak = 1 / (1 + math.exp(-high)) if math.isfinite(high) else 1.0
        cases.append(("double_sigmoid" if kind in ("sigmoid", "softmax") else "bounded_scores", "warning",
                      {"probability_range": [chance, peak]},
                      f"{where} bounds the scores to ({low:g}, {high:g}) before the loss applies its own "
                      f"sigmoid: predicted probabilities stay within ({chance:.2f}, {peak:.2f}), so the loss "
                      "cannot fall far and the gradient stays small.",
                      FIT_FIX.format(remedy="fix_output_loss: remove the output activation")))
    return cases


def _regression_on_labels(kind: str | None, width: int | None, loss: str, info: dict[str, Any] | None,
                          n_classes: int | None) -> tuple | None:
    """Three or more classes under a regression loss: coded as numbers 0..k-1, one-hot rows, or
    declared. Two classes are left alone: a 0/1 target under MSE is the Brier score, a proper loss."""
    values = info["values"] if info else None
    integer = bool(info and info["integer"])
    codes = (values is not None and integer and 3 <= len(values) <= CLASS_CODES_MAX
             and np.array_equal(values, np.arange(len(values))))
    per_class = values is not None and integer and width is not None and width == len(values) >= 3
    if info is not None and info["one_hot"] and info["columns"] >= 3:
        hold: dict[str, Any] = {}
        if kind == "sigmoid":
            # one sigmoid per class under least squares is the quadratic cost of the textbooks (Rumelhart
            # et al., Nielsen's chapter 1): a proper score per class that many healthy runs train with;
            # its known cost, a slowdown, is named when the run shows it (``table.held_until``)
            hold = {"until_consequence": True}
        if kind in ("sigmoid", "softmax"):
            # bounded in [0, 1], the indicators' own range: the cost is the squashing's derivative, which
            # multiplies the error, so a unit confidently wrong learns slowest (Nielsen, chapter 3)
            why = ("each output's error is multiplied by the squashing's derivative, which vanishes where "
                   "the output is confidently wrong, so the worst mistakes learn slowest (cross-entropy's "
                   "gradient is the error itself)")
        else:
            why = ("a least-squares fit to class indicators penalizes outputs beyond 1 for the right class "
                   "and can mask a class lying between two others")
        return ("regression_on_labels", "warning",
                {"classes": info["columns"], "distinct_targets": None, **hold},
                f"a regression loss ({loss}) between {_label_text(kind)} and one-hot rows over "
                f"{info['columns']} classes: {why}.",
                USER_FIX.format(what="the loss (cross_entropy on class scores)"))
    if not (codes or per_class or (n_classes is not None and n_classes >= 3)):
        return None
    if values is None:
        shown = f"{n_classes} classes"
    else:
        shown = f"the values {', '.join(_fmt(v) for v in values[:10])}" + (" ..." if len(values) > 10 else "")
    distinct = None if values is None else len(values)
    return ("regression_on_labels", "warning",
            {"classes": n_classes or distinct, "distinct_targets": distinct},
            f"a regression loss ({loss}) on class labels ({shown}): it treats classes as numbers at a "
            "distance from each other, rewards predicting between them, and gives a confidently wrong "
            "prediction no larger gradient.",
            USER_FIX.format(what="the loss (cross_entropy on one output per class) or the labels"))


def _softmax_row_sums(kind: str | None, width: int | None, loss: str, info: dict[str, Any] | None,
                      where: str) -> tuple | None:
    """A softmax under a regression loss, one output per target column, while target rows in [0, 1]
    sum to other than 1 (several labels per sample, or none): a softmax's row sums to 1, so least
    squares can reach none of those rows, and its best is to spread 1 over the marked columns."""
    if kind != "softmax" or info is None or width is None or width < 2 or info["columns"] != width:
        return None
    sample = info["sample"]
    if sample.min() < 0 or sample.max() > 1:
        return None  # beyond a probability's range: output_range's to name
    sums = sample.sum(axis=1)
    off = float(np.mean(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE))
    if off <= OUT_OF_RANGE_SHARE:
        return None
    indicators = bool(np.isin(sample, (0.0, 1.0)).all())
    several, none = float(np.mean(sums > 1.5)), float(np.mean(sums < 0.5))
    what = (f"{several:.0%} of the target rows mark several classes at once and {none:.0%} mark none"
            if indicators else f"{off:.0%} of the target rows sum to other than 1 "
            f"({_fmt(float(sums.min()))} to {_fmt(float(sums.max()))})")
    return ("softmax_row_sums", "critical" if off > 0.5 else "warning",
            {"rows_off": off, "rows_several": several, "rows_none": none, "columns": width},
            f"{what}, but {where} makes every row of outputs sum to 1: {loss} can reach none of those "
            "rows, and its best is to share the row's 1 among the marked columns, so no threshold finds "
            "them all.",
            FIT_FIX.format(remedy="fix_output_loss: a sigmoid per output in place of the softmax, each "
                                  "label scored on its own"))


def _label_text(kind: str | None) -> str:
    return "a softmax's probabilities" if kind == "softmax" else "the outputs"


def _out_of_range(kind: str | None, loss: str, info: dict[str, Any] | None, where: str) -> tuple | None:
    if info is None or kind not in OUTPUT_RANGE:
        return None
    low, high = OUTPUT_RANGE[kind]
    sample = info["sample"]
    outside = float(np.mean((sample < low) | (sample > high)))
    if outside <= OUT_OF_RANGE_SHARE:
        return None
    return ("output_range", "critical" if outside > 0.5 else "warning",
            {"output_range": [low, high], "targets_outside": outside,
             "target_min": float(sample.min()), "target_max": float(sample.max())},
            f"{where} outputs values in ({low:g}, {high:g}) but {outside:.0%} of the targets "
            f"({_fmt(float(sample.min()))} to {_fmt(float(sample.max()))}) lie outside it: {loss} can never "
            "reach them, and pushing toward them saturates the output.",
            FIT_FIX.format(remedy="fix_output_loss: a linear output, the bounded activation removed; or "
                                  "scale the targets into its range yourself"))


# ---------------------------------------------------------------------------------------------
# missing_nonlinearity
# ---------------------------------------------------------------------------------------------
def frozen_batchnorm(momenta: Sequence[dict[str, Any]] | None) -> list[Finding]:
    """Batch normalization whose running statistics never update: momentum 0 (``momenta``, as
    ``adapter.batchnorm_momenta`` gives them). In PyTorch's convention (and retroprop's) the running
    value becomes ``(1 - momentum) * running + momentum * batch``: at 0 it stays at its start, mean 0
    and variance 1, and evaluation (validation, predictions) normalizes with those whatever the data
    (Keras's momentum is the other way round: its 0.99 is 0.01 here)."""
    frozen = [m["name"] for m in momenta or () if m.get("momentum") == 0]
    if not frozen:
        return []
    shown = ", ".join(frozen[:4]) + (f" and {len(frozen) - 4} more" if len(frozen) > 4 else "")
    return [Finding(
        "batchnorm_statistics", None, None, "critical",
        {"case": "momentum_zero", "frozen_layers": frozen, "layers": len(frozen)},
        f"{len(frozen)} batch normalization layer(s) ({shown}) have momentum 0: their running statistics "
        "never move from mean 0 and variance 1, so evaluation (validation, predictions) normalizes with "
        "those whatever the data, and a model that trains well predicts badly (a momentum of 0.99 in "
        "Keras's convention is 0.01 here).",
    )]


def unstepped(found: dict[str, Any] | None) -> bool:
    """Whether the optimizer holds none of the trainable tensors the model's output reaches
    (``found``: ``unregistered_parameters``' reading, with ``reached`` and ``optimized``)."""
    return bool(found) and found.get("optimized") == 0 and (found.get("reached") or 0) > 0


def unregistered_parameters(found: dict[str, Any] | None) -> list[Finding]:
    """Trainable tensors that the graph of the model's first output reaches but neither the model's
    parameters nor the optimizer's hold (``found``: ``tensors``, their count; ``entries``, their
    elements; ``shapes``, the first few): layers kept in a plain list or dict, used by ``forward``,
    never registered as submodules, so never trained. Or (case ``optimizer_holds_none``) the
    optimizer holds none of the tensors the output reaches (``reached``, ``optimized``): it was built
    on other tensors (on a model created before the one trained, or on a copy), so nothing the model
    computes with is ever updated; an optimizer of some of them (fine-tuning a head) is no finding.
    None (not read) or no such tensor: nothing."""
    if unstepped(found):
        return [Finding(
            "unregistered_parameters", None, None, "critical",
            {**found, "case": "optimizer_holds_none", "fix_by": "user",
             "fix_note": "This is yours to fix: build the optimizer on the parameters of the model you "
                         "train, after creating it for the last time (and after any copy of it)."},
            f"the optimizer holds none of the {found['reached']} trainable tensor(s) the model computes "
            "with: it steps other tensors (those of a model created before this one, or of a "
            "copy), so the model that is run and back-propagated is never updated.",
        )]
    if not found or not found.get("tensors"):
        return []
    shapes = ", ".join("x".join(str(d) for d in shape) for shape in found.get("shapes", ())[:4])
    return [Finding(
        "unregistered_parameters", None, None, "critical",
        {**found, "fix_by": "user",
         "fix_note": "This is yours to fix: fit and watch train what the model registers (keep the layers "
                     "in nn.ModuleList, nn.ModuleDict or nn.Sequential)."},
        f"{found['tensors']} trainable tensor(s) ({found.get('entries', 0)} weights; shapes {shapes}) take "
        "part in the model's output but belong to no registered layer of it and to no optimizer group: "
        "layers kept in a plain Python list or dict, which the optimizer never updates.",
    )]


def missing_nonlinearity(layers: Sequence[dict[str, Any]]) -> list[Finding]:
    """Runs of two or more Linear layers with no activation between them (one finding per run).
    ``model_is_linear`` in the evidence: no activation anywhere, max pooling aside (a max over a few
    positions, the only nonlinearity of a CNN whose layers were all left linear)."""
    layers = validate_layers(layers)
    linear_model = not any((layer["kind"] in ACTIVATIONS and layer.get("pooling") != "max")
                           or layer["kind"] == "other" for layer in layers)
    pooled = linear_model and any(layer.get("pooling") == "max" for layer in layers)
    findings = []
    run: list[dict[str, Any]] = []
    for layer in [*layers, {"name": "", "kind": "other"}]:
        if layer["kind"] == "linear":
            run.append(layer)
            continue
        if layer["kind"] in AFFINE:
            continue
        if len(run) >= 2:
            findings.append(_collapsed(run, linear_model, pooled))
        run = []
    return findings


def hidden_softmax(layers: Sequence[dict[str, Any]]) -> list[Finding]:
    """A softmax (or log-softmax) over a hidden layer's units, feeding the next Linear layer: one
    ``vanishing_gradients`` finding per such softmax.

    A softmax over ``n`` units makes their outputs sum to 1 (each about ``1/n``), and its Jacobian,
    ``diag(p) - p p^T``, has entries of that size: every gradient through it shrinks by about the
    width, and what the next layer sees is a distribution, not features. The course page's cure for
    vanishing gradients (ReLU) is the fit one; an output softmax (no Linear after it) is the loss's
    business, and a softmax inside an unknown module (attention) is not seen here."""
    layers = validate_layers(layers)
    findings = []
    for index, layer in enumerate(layers):
        if layer["kind"] not in ("softmax", "log_softmax"):
            continue
        following = next((later for later in layers[index + 1:] if later["kind"] not in AFFINE
                          and later["kind"] not in ("dropout", "identity", "flatten")), None)
        if following is None or following["kind"] != "linear":
            continue
        width = next((earlier.get("out_features") for earlier in reversed(layers[:index])
                      if earlier.get("out_features") is not None), None)
        shrink = f"about {width}x" if width else "about the layer's width"
        findings.append(_finding(
            "vanishing_gradients", layer, "warning",
            {"activation": layer["kind"], "units": width, "feeds": following["name"]},
            f"a {layer['kind'].replace('_', '-')} over the {width or ''} hidden units of {_label(layer)} "
            f"makes them sum to 1 before {_label(following)}: every gradient through it shrinks by {shrink} "
            "(its derivatives are products of probabilities), and the next layer sees a distribution "
            "instead of features.",
            FIT_FIX.format(remedy="relu: ReLU in its place, with He weights")))
    return findings


def _collapsed(run: list[dict[str, Any]], linear_model: bool, pooled: bool = False) -> Finding:
    labels = [_label(layer) for layer in run]
    widths = [w for layer in run for w in (layer.get("in_features"), layer.get("out_features"))]
    # a bottleneck narrower than both ends limits the map's rank (sometimes on purpose)
    rank = min(widths) if all(w is not None for w in widths) else None
    if rank is not None and rank >= min(widths[0], widths[-1]):
        rank = None
    between = ", ".join(labels[:-1])
    return _finding(
        "missing_nonlinearity", run[0], "warning",
        {"layers": [layer["name"] for layer in run], "labels": labels,
         "missing_after": [layer["name"] for layer in run[:-1]], "rank_limit": rank,
         "model_is_linear": linear_model},
        f"{len(run)} linear layers in a row ({' → '.join(labels)}) with no activation after {between}: "
        "a product of linear maps is one linear map, so they learn no more than a single layer"
        + (f" (of rank at most {rank})" if rank is not None else "")
        + ("; with no activation anywhere, the whole model is a linear model" if linear_model and not pooled
           else "; with no activation anywhere (max pooling aside), the model is nearly one linear map"
           if linear_model else "") + ".",
        FIT_FIX.format(remedy="insert_activation: a ReLU after each of them but the last"))


# ---------------------------------------------------------------------------------------------
# unscaled_inputs
# ---------------------------------------------------------------------------------------------
# layers that pass values on unchanged in scale (dropout's rescaling keeps their expectation)
PASSING_KINDS = ("flatten", "identity", "dropout")


def starts_standardized(layers: Sequence[dict[str, Any]] | None) -> bool:
    """Whether the model's first layer that touches the values standardizes them."""
    for layer in layers or ():
        if layer["kind"] in PASSING_KINDS:
            continue
        return layer["kind"] in ("standardize", "batchnorm")
    return False


def normalized_after_first_layer(layers: Sequence[dict[str, Any]] | None) -> bool:
    """Whether the first Linear or convolution layer feeds a batch normalization directly (nothing but
    dropout between them): that normalization divides out a common scale of the inputs exactly (the
    first layer's outputs and the gradients of its weights are those of unit-scale inputs: a function
    invariant to the scale of ``W x`` has the same gradient at ``W (a x)``) and subtracts their offset
    (``W (x + b)`` shifts each output channel by a constant)."""
    kinds = [layer["kind"] for layer in layers or () if layer["kind"] not in PASSING_KINDS]
    first = next((i for i, kind in enumerate(kinds) if kind == "linear"), None)
    return first is not None and first + 1 < len(kinds) and kinds[first + 1] == "batchnorm"


def first_activation(layers: Sequence[dict[str, Any]] | None) -> str | None:
    """The kind of the first activation after the first Linear layer (None: none, or unknown)."""
    seen_linear = False
    for layer in layers or ():
        if layer["kind"] == "other":
            return None
        seen_linear = seen_linear or layer["kind"] == "linear"
        if seen_linear and layer["kind"] in ACTIVATIONS:
            return layer["kind"]
    return None


def scale_limits(layers: Sequence[dict[str, Any]] | None) -> tuple[float, float, bool]:
    """The input RMS beyond which the model's first units start saturated (sigmoid, tanh: the RMS over
    all features sets a unit's pre-activation) or its steps too large (anything else: the largest
    feature sets the largest step): (warning, critical, whether the largest feature's RMS is meant)."""
    kind = first_activation(layers)
    if kind in SATURATION_Z:
        limit = SATURATION_Z[kind] * math.sqrt(3)
        return limit, SATURATION_CRITICAL * limit, False
    return STEP_SCALE_MAX, STEP_SCALE_CRITICAL, True


def one_linear_map(layers: Sequence[dict[str, Any]] | None) -> bool:
    """Whether described ``layers`` are one weighted layer with no activation (affine layers such as
    dropout aside): a linear model, whose squared-error loss is quadratic in its weights."""
    return layers is not None and all(layer["kind"] == "linear" or layer["kind"] in AFFINE
                                      for layer in layers) and sum(
        layer["kind"] == "linear" for layer in layers) == 1


def unscaled_inputs(inputs: np.ndarray | None, layers: Sequence[dict[str, Any]] | None = None,
                    scale_only: bool = False) -> list[Finding]:
    """Input features far from unit scale: large RMS, very different ranges, or a large offset. The
    features of (N, C, ...) inputs are their channels (``feature_rows``). ``scale_only``: the inputs
    are one batch, not the training set, so only their RMS is read (a batch's ranges and offsets say
    little about the set's: a batch of sorted data spans a sliver of each feature)."""
    layers = validate_layers(layers) if layers is not None else None
    if inputs is None or starts_standardized(layers):
        return []
    rows = feature_rows(inputs, "inputs", INPUT_ROWS)
    features = rows.shape[1]
    if not np.isfinite(rows).all():  # non-finite values are not the scale's to judge
        rows = np.where(np.isfinite(rows), rows, np.nan)
        rows = rows[:, ~np.isnan(rows).all(axis=0)]
    if not rows.size:
        return []
    low, high = np.fmin.reduce(rows, axis=0), np.fmax.reduce(rows, axis=0)  # NaN-skipping
    with np.errstate(over="ignore"):
        width = high - low
    varying = np.isfinite(width) & (width > 0)
    if not varying.any():
        return []
    data = rows[:, varying]
    finite = not np.isnan(data).any()
    square_each = np.mean(data * data, axis=0) if finite else np.nanmean(data * data, axis=0)
    # constant features add no variation; they count toward fan_in, so they dilute the RMS
    rms = float(np.sqrt(square_each.sum() / features))
    # three or more distinct values (not one-hot or binary): some value lies strictly between the
    # feature's smallest and largest (NaN compares false); two comparisons, no sort
    graded = ((data > low[varying]) & (data < high[varying])).any(axis=0)
    evidence: dict[str, Any] = {"features": features, "constant_features": features - int(varying.sum()),
                                "input_rms": rms, "sampled_rows": int(rows.shape[0])}
    largest = float(np.sqrt(square_each.max()))
    evidence["largest_feature_rms"] = largest
    warn, critical, by_largest = scale_limits(layers)
    scale = largest if by_largest else rms
    measured = []
    scale_reasons = 0  # of ``measured``, the reasons that are the inputs' overall scale
    # a batch normalization right after the first layer divides a large scale out and subtracts an
    # offset (not a scale so small its variance nears the normalization's eps, nor ranges that differ)
    normalized = normalized_after_first_layer(layers)
    if scale > warn and normalized:
        evidence["normalized_after_first_layer"] = True
    elif scale > warn:
        pixels = bool(low[varying].min() >= 0 and 128 <= high[varying].max() <= 255
                      and np.all((data == np.round(data)) | np.isnan(data)))
        evidence["raw_pixels"] = pixels
        prefix = "raw 0–255 pixel values: " if pixels else ""
        if by_largest:
            scale_reasons += 1
            measured.append(f"{prefix}the largest input feature's RMS is {_fmt(largest)} (all features: "
                            f"{_fmt(rms)}) where the default init expects about 1: the gradients of the "
                            "first layer (and of every layer after it) grow with it, so steps that suit "
                            "unit-scale inputs become large enough to explode")
        else:
            kind = first_activation(layers)
            measured.append(f"{prefix}the inputs' RMS is {_fmt(rms)}, so at the default init a unit's "
                            f"pre-activation has std about {_fmt(rms / math.sqrt(3))} (unit-scale inputs: "
                            f"0.58): {kind} units start in their flat regions (beyond |z| = "
                            f"{SATURATION_Z[kind]:g}), where almost no gradient passes")
    elif (peak := float(np.fmax.reduce(np.maximum(np.abs(low[varying]), np.abs(high[varying]))))) < (
            STEP_SCALE_MIN):  # every value: a sparse 0/1 feature has a small RMS but unit-scale values
        evidence["largest_value"] = peak
        scale_reasons += 1
        measured.append(f"every input value is below {_fmt(peak)} in magnitude (the largest feature's RMS: "
                        f"{_fmt(largest)}) where the default init expects about 1: every layer's "
                        "activations, the output's spread and the weights' gradients shrink with it (a ReLU "
                        "network at zero biases scales with its input), so the output starts nearly "
                        "constant and steps that suit unit-scale inputs barely move the weights")
    if scale_only:
        graded = np.zeros_like(graded)
    if graded.sum() >= 2:
        ranges = width[varying][graded]
        spread = float(ranges.max() / ranges.min())
        evidence["range_ratio"] = spread
        if spread > INPUT_SPREAD_MAX:
            measured.append(f"the feature ranges differ {_fmt(spread)}-fold ({_fmt(float(ranges.min()))} "
                            f"to {_fmt(float(ranges.max()))}), so one learning rate moves the narrowest "
                            f"features' weights about {_fmt(spread ** 2)} times slower than the widest's")
    if graded.any():
        lo, hi = low[varying][graded], high[varying][graded]
        offsets = np.where((lo > 0) | (hi < 0), np.minimum(np.abs(lo), np.abs(hi)), 0.0) / (hi - lo)
        worst = int(np.argmax(offsets))
        evidence["offset_ratio"] = float(offsets[worst])
        if offsets[worst] > INPUT_OFFSET_MAX and not normalized:
            measured.append(f"a feature lies {_fmt(float(offsets[worst]))} times its own range away from 0 "
                            f"({_fmt(float(lo[worst]))} to {_fmt(float(hi[worst]))}), so its weight and the "
                            "bias pull nearly the same way and the first layer learns it only slowly")
    if not measured:
        return []
    if scale_reasons == len(measured) and one_linear_map(layers):
        # a linear model's loss is quadratic in its weights, with a curvature the inputs' scale sets: a
        # learning rate sized to it trains at any scale, one that is not shows as exploding or stalled
        # steps; the finding waits for those (``table.held_until``)
        evidence["until_consequence"] = True
    return [_finding("unscaled_inputs", None, "critical" if scale > critical else "warning", evidence,
                     "; ".join(measured) + ".",
                     FIT_FIX.format(remedy="standardize_inputs: a Standardize layer fitted to the training "
                                           "inputs, put first in the model"))]


# ---------------------------------------------------------------------------------------------
# unscaled_targets
# ---------------------------------------------------------------------------------------------
def unscaled_targets(targets: np.ndarray | None, loss: str | None, n_classes: int | None = None,
                     layers: Sequence[dict[str, Any]] | None = None,
                     adaptive: bool | None = None, scale_only: bool = False) -> list[Finding]:
    """Regression targets of large scale or offset (the loss must be mse, l1 or huber). ``scale_only``:
    the targets are one batch, so only their RMS is read (a batch's spread is not the set's).

    With ``layers``: not when the output passes through a layer of unknown effect (it may rescale,
    as a fixed ``y * std + mean`` output does), nor for a linear model of one weighted layer (no
    activation) unless the optimizer is known to be ``adaptive`` (Adam, RMSprop: steps of a fixed
    size): that model's loss is quadratic in its weights with a curvature set by the inputs alone, so
    plain gradient descent meets any target scale alike. Stacked linear layers are not exempt: their
    product must grow to the targets' scale, and the curvature grows with it.
    """
    _check_loss(loss)
    if targets is None or loss not in REGRESSION_LOSSES:
        return []
    if layers is not None:
        layers = validate_layers(layers)
        if _output(layers)[0] is None:
            return []
        if not adaptive and not any(layer["kind"] in ACTIVATIONS for layer in layers) and sum(
                layer["kind"] == "linear" for layer in layers) <= 1:
            return []
    info = _class_targets(targets)
    if info is None or _regression_on_labels(None, None, loss, info, n_classes) is not None:
        return []  # class labels under a regression loss are loss_output_mismatch's to name
    sample = info["sample"]
    mean, std = sample.mean(axis=0), sample.std(axis=0)
    rms = float(np.sqrt(np.mean(mean ** 2 + std ** 2)))
    # the loss averages over the target columns: its first value against the variance left to explain
    # is the columns' mean square offset against their mean variance (a column of tiny spread beside
    # others of unit spread barely moves either), one column's |mean| / std when there is one
    spread = float(np.mean(std ** 2))
    offset = math.sqrt(float(np.mean(mean ** 2)) / spread) if spread > 0 else 0.0
    shown = f"mean {_fmt(float(mean.mean()))}, std {_fmt(float(std.mean()))}"
    evidence = {"target_rms": rms, "target_mean": float(mean.mean()), "target_std": float(std.mean()),
                "offset_ratio": offset, "loss": loss}
    if rms > TARGET_SCALE_MAX:
        if loss == "mse":
            mechanism = (f"the first loss is about {_fmt(rms * rms)} and every gradient is {_fmt(rms)} "
                         "times a unit-scale target's, so steps that suit unit targets explode")
        else:
            mechanism = (f"{loss}'s gradient is bounded, so covering that distance takes about {_fmt(rms)} "
                         "times the steps a unit-scale target needs")
        explanation = (f"the targets' RMS is {_fmt(rms)} ({shown}) while the output starts near 0: "
                       f"{mechanism}.")
    elif offset > TARGET_OFFSET_MAX and not scale_only:
        explanation = (f"the targets sit {_fmt(offset)} standard deviations from 0 ({shown}): the first "
                       f"loss is about {_fmt(offset * offset)} times the variance left to explain, so "
                       "learning the offset dominates and what remains gives tiny gradients.")
    else:
        return []
    return [_finding("unscaled_targets", None, "critical" if rms > TARGET_SCALE_CRITICAL else "warning",
                     evidence, explanation,
                     FIT_FIX.format(remedy="standardize_targets: train on (y - mean) / std and undo the "
                                           "scaling at predict time"))]


# ---------------------------------------------------------------------------------------------
# All of them
# ---------------------------------------------------------------------------------------------
def is_classification(loss: str | None, n_classes: int | None) -> bool:
    """Whether a setup is a classification: a class count, or a categorical or binary loss."""
    return n_classes is not None or loss in CATEGORICAL_LOSSES | BINARY_LOSSES


def _class_labels(targets: Any) -> np.ndarray | None:
    """A classification's label per row: integer labels (N,) or (N, 1), or the argmax of one-hot or
    probability rows (N, C); None for anything else (non-numeric, non-finite, fractional labels,
    multi-hot rows)."""
    y = np.asarray(targets)
    if y.dtype.kind not in "biuf" or y.ndim not in (1, 2) or not len(y):
        return None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        with np.errstate(over="ignore", invalid="ignore"):
            sums = y.sum(axis=1, dtype=np.float64)
        if not (np.isfinite(sums).all() and np.allclose(sums, 1.0, atol=1e-3)):
            return None
        return np.argmax(y, axis=1)
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and np.array_equal(y, np.round(y))):
        return None
    return y.astype(np.int64, copy=False)


# rows (at most, at least) and neighbour counts of the nearest-neighbour yardstick of what a
# classification's data allows; at 200 rows a share's standard error is at most 3.5 points
ATTAINABLE_ROWS, ATTAINABLE_MIN_ROWS, ATTAINABLE_NEIGHBOURS = 1000, 200, (1, 5, 15)
# a regression's yardstick carries its own noise (the standard error of its mean squared error)
ATTAINABLE_MIN_REGRESSION_ROWS = 50


def attainable_accuracy(inputs: Any, targets: Any) -> dict[str, Any] | None:
    """What a classification's training data allows, by a yardstick that needs no training: the
    leave-one-out accuracy of a k-nearest-neighbour vote (the best of k in ``ATTAINABLE_NEIGHBOURS``)
    on up to ``ATTAINABLE_ROWS`` rows spread over the set, each input feature standardized. By Cover
    and Hart's bound a 1-nearest-neighbour rule errs at most twice as often as the best possible rule,
    so a model that fits its own data clearly worse than this vote has capacity or steps short, not
    data too noisy to fit; ``majority`` is the commonest class's share, a blind guess's accuracy (a vote
    no better than it finds no signal in the inputs). None for inputs or targets it cannot read (not
    numeric, not finite, rows that disagree, multi-hot targets) or fewer than ``ATTAINABLE_MIN_ROWS``
    rows (one batch of a loop is no picture of the set)."""
    labels = _class_labels(targets)
    if labels is None or labels.min() < 0 or len(labels) < ATTAINABLE_MIN_ROWS:
        return None
    found = _nearest_rows(inputs, len(labels))
    if found is None:
        return None
    rows, nearest = found
    labels = labels[rows]
    neighbours = labels[nearest]
    classes = int(labels.max()) + 1
    best, best_k = -1.0, 0
    for k in ATTAINABLE_NEIGHBOURS:
        votes = np.zeros((len(labels), classes))
        np.add.at(votes, (np.repeat(np.arange(len(labels)), k), neighbours[:, :k].ravel()), 1.0)
        accuracy = float((votes.argmax(axis=1) == labels).mean())
        if accuracy > best:
            best, best_k = accuracy, k
    return {"accuracy": best, "neighbours": best_k, "rows": len(labels), "majority": _majority(labels)}


def majority_share(targets: Any) -> float | None:
    """The share of the most frequent class among classification ``targets`` (class indices, or one-hot
    or probability rows, read by their argmax: ``_class_labels``); None for targets that are not
    classes."""
    labels = _class_labels(targets)
    if labels is None or not len(labels) or labels.min() < 0:
        return None
    return _majority(labels)


def _majority(labels: np.ndarray) -> float:
    """The commonest label's share of non-negative integer ``labels``: a blind guess's accuracy."""
    return float(np.bincount(labels).max()) / len(labels)


def attainable_error(inputs: Any, targets: Any) -> dict[str, Any] | None:
    """What a regression's training data allows, by the same kind of yardstick: the leave-one-out
    mean squared error of a k-nearest-neighbour average (the best k of ``ATTAINABLE_NEIGHBOURS``) on
    up to ``ATTAINABLE_ROWS`` rows spread over the set, inputs standardized, over the targets' variance
    (``error``: 1 is predicting their mean; columns averaged), with the standard error of that mean
    (``noise``). A neighbour average approaches the best prediction as the rows grow (Stone, 1977); on
    inputs of many dimensions it is poor, and the yardstick only loose. None for inputs or targets it
    cannot read, constant targets, or fewer than ``ATTAINABLE_MIN_REGRESSION_ROWS`` rows."""
    y = np.asarray(targets) if targets is not None else None
    if (y is None or y.dtype.kind not in "biuf" or y.ndim not in (1, 2)
            or len(y) < ATTAINABLE_MIN_REGRESSION_ROWS):
        return None
    found = _nearest_rows(inputs, len(y))
    if found is None:
        return None
    rows, nearest = found
    y = y[rows].reshape(len(rows), -1).astype(np.float64)
    spread = y.var(axis=0)
    if not (np.isfinite(y).all() and (spread > 0).all()):
        return None
    best, best_k, best_noise = math.inf, 0, 0.0
    for k in ATTAINABLE_NEIGHBOURS:
        squared = ((y[nearest[:, :k]].mean(axis=1) - y) ** 2 / spread).mean(axis=1)
        error = float(squared.mean())
        if error < best:
            best, best_k, best_noise = error, k, float(squared.std() / math.sqrt(len(squared)))
    return {"error": best, "noise": best_noise, "neighbours": best_k, "rows": len(rows)}


def _nearest_rows(inputs: Any, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows the yardsticks read (up to ``ATTAINABLE_ROWS`` of ``n``, spread over the set) and, per
    row, the others nearest to it (the largest of ``ATTAINABLE_NEIGHBOURS``, nearest first), by
    Euclidean distance on standardized input features; None for inputs that are not numeric rows
    (at least 2-D), not finite, constant, or not ``n`` long."""
    x = np.asarray(inputs) if inputs is not None else None
    if x is None or x.dtype.kind not in "biuf" or x.ndim < 2 or len(x) != n:
        return None
    rows = np.unique(np.linspace(0, n - 1, min(n, ATTAINABLE_ROWS)).astype(np.int64))
    x = x[rows].reshape(len(rows), -1).astype(np.float64)
    if not np.isfinite(x).all():
        return None
    spread = x.std(axis=0)
    varying = spread > 0
    if not varying.any():
        return None
    x = (x[:, varying] - x[:, varying].mean(axis=0)) / spread[varying]
    squares = np.einsum("ij,ij->i", x, x)
    distances = squares[:, None] + squares[None, :] - 2.0 * (x @ x.T)
    np.fill_diagonal(distances, np.inf)  # leave each row out of its own vote
    largest = min(max(ATTAINABLE_NEIGHBOURS), len(rows) - 1)
    nearest = np.argpartition(distances, largest, axis=1)[:, :largest]
    order = np.take_along_axis(distances, nearest, axis=1).argsort(axis=1, kind="stable")
    return rows, np.take_along_axis(nearest, order, axis=1)


def constant_targets(targets: Any, loss: str | None, n_classes: int | None = None,
                     validation_targets: Any = None) -> list[Finding]:
    """Every training target the same value (one class), over at least ``VALIDATION_MIN_ROWS`` rows:
    nothing connects the inputs to the answer."""
    if targets is None or np.ndim(targets) not in (1, 2) or len(targets) < VALIDATION_MIN_ROWS:
        return []
    y = np.asarray(targets)
    if y.dtype.kind not in "biuf":
        return []
    rows = y.reshape(len(y), -1)
    with np.errstate(invalid="ignore"):
        spread = np.ptp(rows, axis=0)
    if not rows.size or not np.isfinite(spread).all() or spread.any():
        return []
    classification = is_classification(loss, n_classes)
    value = rows[0].tolist() if rows.shape[1] > 1 else rows[0, 0].item()
    if classification:
        labels = _class_labels(rows[:1])
        what = (f"class {int(labels[0])}" if labels is not None else f"the row {_short(value)}")
    else:
        what = f"the value {_short(value)}"
    evidence: dict[str, Any] = {"rows": len(rows), "value": value, "classification": classification}
    seen_in_validation = ""
    if classification and validation_targets is not None and np.ndim(validation_targets) in (1, 2):
        labels = _class_labels(validation_targets)
        if labels is not None and len(labels):
            distinct = int(np.unique(labels).size)
            evidence["validation_classes"] = distinct
            seen_in_validation = f" (the validation targets hold {distinct} classes)"
    outcome = ("its training loss falls towards 0 while any other data is right only where the answer "
               "happens to be that one" if classification else
               "the loss reaches 0 by predicting that constant, and nothing is learned about the inputs")
    return [_finding(
        "constant_targets", None, "critical", evidence,
        f"all {len(rows)} training targets are {what}{seen_in_validation}: the model can learn nothing "
        f"but to answer that, whatever its inputs; {outcome}. Targets this uniform come from the data "
        "pipeline: labels scaled, cast or overwritten (labels divided by 255 and cast to integers are all "
        "0), read from the wrong column, or a slice of data sorted by its label.",
        "This is yours to fix: build the training targets from the data's labels again, with every class "
        "(or value) the model must predict among them.")]


def _short(value: Any) -> str:
    if isinstance(value, list):
        shown = ", ".join(_fmt(float(v)) for v in value[:6])
        return f"[{shown}{', ...' if len(value) > 6 else ''}]"
    return _fmt(float(value))


def unshuffled_data(targets: Any, batch_size: int | None, shuffled: bool | None, loss: str | None,
                    n_classes: int | None = None) -> list[Finding]:
    """A classification trained in the targets' order (``shuffled`` False) whose labels come in runs of
    one class ``SORTED_RUN_FACTOR`` times longer than shuffled labels would, and either at least
    ``SORTED_RUN_BATCHES`` batches long (a stretch of steps on one class) or long enough that the
    batches themselves hold a few classes only (``batch_skew`` at least ``SORTED_RUN_FACTOR``: runs
    shorter than a batch still leave each step on one or two classes); over at least
    ``SORTED_MIN_BATCHES`` batches."""
    if shuffled is not False or targets is None or batch_size is None or batch_size < 1:
        return []
    if not is_classification(loss, n_classes):
        return []
    if np.ndim(targets) not in (1, 2) or len(targets) < SORTED_MIN_BATCHES * batch_size:
        return []
    labels = _class_labels(targets)
    if labels is None:
        return []
    n = len(labels)
    runs = int(np.count_nonzero(labels[1:] != labels[:-1])) + 1
    shares = np.unique(labels, return_counts=True)[1] / n
    purity = float(np.sum(shares * shares))
    if purity >= 1.0:
        return []  # one class throughout: constant_targets
    mean_run, shuffled_run = n / runs, 1.0 / (1.0 - purity)
    if mean_run < SORTED_RUN_FACTOR * shuffled_run:
        return []
    skew = batch_skew(labels, batch_size)
    if mean_run < SORTED_RUN_BATCHES * batch_size and skew < SORTED_RUN_FACTOR:
        return []
    within = (f"{_fmt(mean_run / batch_size)} batches" if mean_run >= batch_size else
              f"so that a batch of {batch_size} holds a few classes only, {_fmt(skew)} times as uneven as "
              "a shuffled one")
    return [_finding(
        "unshuffled_data", None, "critical",
        {"mean_run": mean_run, "shuffled_run": shuffled_run, "batches_per_run": mean_run / batch_size,
         "batch_skew": skew, "classes": int(shares.size), "batch_size": int(batch_size)},
        f"the training data is drawn in its stored order (no shuffling), and its labels come in runs of "
        f"{_fmt(mean_run)} samples of one class on average ({within}; shuffled, {_fmt(shuffled_run)}): "
        "each stretch of steps pulls the model towards the few classes it sees and away from the rest, so "
        "it forgets what the earlier batches taught and ends each epoch favouring the classes it saw last.",
        FIT_FIX.format(remedy="shuffle: draw the batches in a new random order each epoch"))]


def batch_skew(labels: np.ndarray, batch_size: int) -> float:
    """How unlike the data's class mix the batches drawn in the stored order are: the chi-square of each
    full batch's class counts against the data's shares, per degree of freedom (classes - 1), averaged
    over up to ``SKEW_BATCHES`` batches spread over the set. Batches drawn at random give about 1;
    batches of one class give about the batch size (0 without a full batch, or for one class)."""
    classes, index = np.unique(labels, return_inverse=True)
    batches, k = len(index) // batch_size, classes.size
    if batches == 0 or k < 2:
        return 0.0
    expected = batch_size * np.bincount(index, minlength=k) / len(index)
    chosen = np.unique(np.linspace(0, batches - 1, min(batches, SKEW_BATCHES)).astype(np.int64))
    rows = (chosen[:, None] * batch_size + np.arange(batch_size)).ravel()
    # sum over classes of (n - e)^2 / e = sum of n^2 / e - batch size, read off the classes present only
    # (no batches x classes table: memory grows with the rows, not with the classes)
    batch_of_row = np.repeat(np.arange(chosen.size), batch_size)
    keys, counts = np.unique(batch_of_row * k + index[rows], return_counts=True)
    squares = np.bincount(keys // k, weights=counts.astype(np.float64) ** 2 / expected[keys % k],
                          minlength=chosen.size)
    return float(np.mean(squares - batch_size)) / (k - 1)


def symmetric_units(symmetry: Sequence[dict[str, Any]] | None, layers: Sequence[dict[str, Any]] = (),
                    dropout_rates: Sequence[float] = ()) -> list[Finding]:
    """Linear or convolution layers whose units start as copies of one another and stay so: every unit
    has the same weights and bias, and the next such layer weighs them alike (``symmetry``: per layer in
    forward order, ``units``, ``rows_identical`` and ``columns_identical``, as ``adapter.unit_symmetry``
    gives them). At most one finding: the first layer. Under dropout, whose masks tell the copies apart
    by chance, a little at each step, the finding waits for the run to show its cost (``until_consequence``:
    ``table.held_until``): a stall, or units that die or pass no gradient."""
    if not symmetry:
        return []
    dropout = max(dropout_rates, default=0.0)
    symmetric = [this for this, after in itertools.pairwise(symmetry)
                 if this["units"] >= 2 and this["rows_identical"] and after["columns_identical"]]
    if not symmetric:
        return []
    first = symmetric[0]
    layer = next((entry for entry in layers if entry["name"] == first["name"]),
                 {"name": first["name"], "label": first["name"]})
    where = _label(layer)
    others = f" (and {len(symmetric) - 1} more layer(s) alike)" if len(symmetric) > 1 else ""
    stay = ("so they stay copies of one unit" if dropout <= 0.0 else
            f"so only dropout's masks (rate up to {dropout:g}) tell them apart, by chance and a little at "
            "each step; they stay near-copies of one unit")
    return [_finding(
        "symmetric_units", layer, "critical",
        {"units": first["units"], "layers": [entry["name"] for entry in symmetric],
         **({"dropout": dropout, "until_consequence": True} if dropout > 0.0 else {})},
        f"the {first['units']} units of {where}{others} start with the same weights and bias, and the next "
        f"layer weighs them alike: every unit gets the same gradient at every step, {stay}, and the layer "
        "computes one feature however wide it is. A constant (or zero) initialization does this; random "
        "weights break the symmetry.",
        FIT_FIX.format(remedy="he_init: fresh random (He) weights"))]


def maximizing(maximize: bool) -> list[Finding]:
    """An optimizer set to maximize the loss (``maximize=True`` in a parameter group): every step climbs
    the loss it was meant to lower."""
    if not maximize:
        return []
    return [_finding(
        "gradient_ascent", None, "critical", {"maximize": True},
        "the optimizer is set to maximize the loss (maximize=True): each step moves the weights up the "
        "gradient, so the loss rises from the first step on, and an adaptive optimizer climbs at its full "
        "step size.",
        FIT_FIX.format(remedy="descend: maximize=False, so that the optimizer steps down the gradient"))]


def inputs_rms(data: Any, what: str = "inputs") -> float:
    """The RMS of the finite values of at most ``INPUT_ROWS`` evenly spaced rows of ``data`` (NaN when
    none is finite): the inputs' scale, as the validation check and ``retroprop.torch`` compare it."""
    with np.errstate(over="ignore", invalid="ignore"):
        rows = sample_rows(data, what, INPUT_ROWS)
        rows = rows[np.isfinite(rows)]
        return float(np.sqrt(np.mean(rows * rows))) if rows.size else math.nan


def _input_scales(inputs: Any, validation_inputs: Any) -> tuple | None:
    """The validation inputs' RMS against the training inputs', as a mismatch case, or None."""
    if inputs is None or validation_inputs is None:
        return None
    if len(inputs) < VALIDATION_MIN_ROWS or len(validation_inputs) < VALIDATION_MIN_ROWS:
        return None
    train, validation = inputs_rms(inputs), inputs_rms(validation_inputs, "validation inputs")
    if not (math.isfinite(train) and math.isfinite(validation)) or train <= 0 or validation <= 0:
        return None
    ratio = validation / train
    if 1 / VALIDATION_SCALE_MAX <= ratio <= VALIDATION_SCALE_MAX:
        return None
    larger, smaller = ("validation", "training") if ratio > 1 else ("training", "validation")
    factor = max(ratio, 1 / ratio)
    return ("input_scale", {"input_rms": train, "validation_input_rms": validation, "scale_ratio": ratio},
            f"the {larger} inputs' RMS is {_fmt(factor)} times the {smaller} inputs' ({_fmt(validation)} "
            f"against {_fmt(train)}): the two sets were not preprocessed alike (one scaled or standardized, "
            "the other left raw), so the model is validated on inputs unlike any it trains on, and every "
            "validation number (and what is decided on it) is off.",
            "This is yours to fix: apply the training inputs' preprocessing (the same scaling, the same "
            "mean and std) to the validation and test inputs.")


def _split_labels(targets: Any, validation_targets: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The class label of each training and each validation row, when both sets hold at least
    ``VALIDATION_MIN_ROWS`` and the training rows more than one class (one class is
    ``constant_targets``'s to name); None otherwise."""
    if targets is None or validation_targets is None:
        return None
    if np.ndim(targets) not in (1, 2) or np.ndim(validation_targets) not in (1, 2):
        return None
    if len(targets) < VALIDATION_MIN_ROWS or len(validation_targets) < VALIDATION_MIN_ROWS:
        return None
    train, validation = _class_labels(targets), _class_labels(validation_targets)
    if train is None or validation is None or np.unique(train).size < 2:
        return None
    return train, validation


def _unseen_classes(train: np.ndarray, validation: np.ndarray) -> tuple | None:
    """Validation rows whose class the training rows never show (``UNSEEN_CLASS_SHARE`` of them, at
    least ``VALIDATION_MIN_ROWS``), as a mismatch case, or None (labels as ``_split_labels`` gives them)."""
    seen = np.unique(train)
    unseen = ~np.isin(validation, seen)
    count = int(unseen.sum())
    share = count / len(validation)
    if count < VALIDATION_MIN_ROWS or share < UNSEEN_CLASS_SHARE:
        return None
    missing = np.unique(validation[unseen])
    listed = ", ".join(str(int(c)) for c in missing[:10]) + (", ..." if missing.size > 10 else "")
    return ("unseen_classes",
            {"unseen_classes": [int(c) for c in missing[:50]], "unseen_share": share,
             "training_classes": int(seen.size)},
            f"{_pct(share)} of the validation rows ({count} of {len(validation)}) belong to classes the "
            f"training targets never show ({listed}): no model can answer a class it never trained on, so "
            f"the validation accuracy cannot pass {_pct(1 - share)}. A split this uneven is a split of data "
            "ordered by its label (validation_split takes the last rows as they stand, as Keras's does) or "
            "labels made apart.",
            "This is yours to fix: shuffle the data before splitting it (or split it stratified by class), "
            "so that the training and validation sets hold the same classes.")


def _starved_classes(train: np.ndarray, validation: np.ndarray) -> tuple | None:
    """Validation rows whose class is at least ``STARVED_CLASS_RATIO`` times rarer among the training
    rows than among the validation rows, though the training rows show it (``UNSEEN_CLASS_SHARE`` of
    the validation rows, at least ``VALIDATION_MIN_ROWS``), as a mismatch case, or None (labels as
    ``_split_labels`` gives them)."""
    classes, counts = np.unique(validation, return_counts=True)
    trained = np.array([np.count_nonzero(train == c) for c in classes])
    share_train, share_validation = trained / len(train), counts / len(validation)
    starved = (trained > 0) & (share_train * STARVED_CLASS_RATIO <= share_validation)
    rows = int(counts[starved].sum())
    share = rows / len(validation)
    if rows < VALIDATION_MIN_ROWS or share < UNSEEN_CLASS_SHARE:
        return None
    listed = ", ".join(f"{int(c)} ({_pct(t)} against {_pct(v)})" for c, t, v in zip(
        classes[starved][:6], share_train[starved][:6], share_validation[starved][:6], strict=True))
    return ("starved_classes",
            {"starved_classes": [int(c) for c in classes[starved][:50]], "starved_share": share,
             "training_shares": [float(t) for t in share_train[starved][:50]],
             "validation_shares": [float(v) for v in share_validation[starved][:50]]},
            f"{_pct(share)} of the validation rows ({rows} of {len(validation)}) belong to classes at least "
            f"{STARVED_CLASS_RATIO:g} times rarer among the training rows (class {listed}"
            f"{', ...' if starved.sum() > 6 else ''}; share of the training rows against the validation "
            "rows): the model learns the training data's class frequencies and few examples of these "
            "classes, so the validation metrics judge a distribution it was not trained on.",
            "This is yours to fix: train on the classes in proportions like the validation data's (collect "
            "or oversample the rare classes, or weight the loss by class), or validate on data drawn like "
            "the training data.")


def validation_mismatch(inputs: Any, validation_inputs: Any, targets: Any = None,
                        validation_targets: Any = None, classification: bool = False) -> list[Finding]:
    """Validation data unlike the training data: inputs on another scale (their RMS more than
    ``VALIDATION_SCALE_MAX`` times apart, each set of at least ``VALIDATION_MIN_ROWS`` rows), or, for a
    classification, validation rows in classes the training targets never show (``_unseen_classes``),
    else in classes they show an order of magnitude more rarely (``_starved_classes``, a warning).
    At most one finding: the first case found leads, the other is in its evidence's ``also``."""
    labels = _split_labels(targets, validation_targets) if classification else None
    classes = None if labels is None else _unseen_classes(*labels) or _starved_classes(*labels)
    cases = [case for case in (_input_scales(inputs, validation_inputs), classes) if case]
    if not cases:
        return []
    case, evidence, explanation, fix = cases[0]
    evidence = {"case": case, **evidence}
    if len(cases) > 1:
        evidence["also"] = [other[0] for other in cases[1:]]
        explanation += " Also: " + cases[1][2]
    severity = "warning" if case == "starved_classes" else "critical"
    return [_finding("validation_mismatch", None, severity, evidence, explanation, fix)]


def check_setup(layers: Sequence[dict[str, Any]], loss: str | None, inputs: np.ndarray | None = None,
                targets: np.ndarray | None = None, n_classes: int | None = None,
                adaptive: bool | None = None, validation_inputs: Any = None,
                raw_inputs: Any = None, validation_targets: Any = None, batch_size: int | None = None,
                shuffled: bool | None = None, unit_symmetry: Sequence[dict[str, Any]] | None = None,
                dropout_rates: Sequence[float] = (), maximize: bool = False,
                inputs_sample: bool = False, targets_sample: bool = False,
                loss_broadcast: tuple[Sequence[int], Sequence[int] | None] | None = None,
                unregistered: dict[str, Any] | None = None,
                batchnorm_momenta: Sequence[dict[str, Any]] | None = None,
                loss_rows_coupled: dict[str, Any] | None = None) -> list[Finding]:
    """Every static check on one training setup: the targets (one value throughout), the loss/output
    pairing, the structure (a model that is one linear map), the inputs and the targets' scale, the
    validation data against the training data (checks whose data is None are skipped).
    ``n_classes``: the number of classes of a classification (None for a regression, or unknown);
    ``adaptive``: whether the optimizer scales its steps per parameter (Adam, RMSprop, Adagrad), None
    when unknown; ``validation_inputs`` and ``raw_inputs`` (the training inputs of any shape, ``inputs``
    by default): compared for their scale; ``validation_targets``: compared with ``targets`` for the
    classes they hold; ``batch_size`` and ``shuffled`` (whether each epoch draws the samples in a new
    random order; None when unknown): the order the targets are trained in; ``unit_symmetry`` (as
    ``adapter.unit_symmetry`` gives it) and ``dropout_rates``: whether units start alike; ``maximize``:
    whether the optimizer is set to climb the loss. ``inputs_sample``, ``targets_sample``: the inputs or
    targets are one batch, not the training set: only their scale (and the targets' values against the
    output) is read from them. ``loss_broadcast``: (the output's shape, the compared shape) when the
    loss broadcast the output against targets of another shape. ``loss_rows_coupled``: a custom loss's
    scores of a few rows whole and in halves when they show it mixes the rows (``rows_coupled``).
    ``unregistered``: the trainable
    tensors the model's first output reaches outside the model's and the optimizer's parameters
    (``unregistered_parameters``), when read. ``batchnorm_momenta``: each batch normalization's
    momentum (``adapter.batchnorm_momenta``)."""
    layers = validate_layers(layers)
    _check_loss(loss)
    if n_classes is not None and (isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer))
                                  or n_classes < 1):
        raise DescriptionError(f"n_classes must be a positive int or None, got {n_classes!r}")
    from retroprop.doctor import table  # the table holds these checks' rows (and imports this module)

    return table.run("setup", table.Evidence(layers=layers, loss=loss, inputs=inputs, targets=targets,
                                             n_classes=n_classes, adaptive=adaptive,
                                             validation_inputs=validation_inputs,
                                             raw_inputs=inputs if raw_inputs is None else raw_inputs,
                                             validation_targets=validation_targets, batch_size=batch_size,
                                             shuffled=shuffled, unit_symmetry=unit_symmetry,
                                             dropout_rates=tuple(dropout_rates), maximize=bool(maximize),
                                             inputs_sample=inputs_sample, targets_sample=targets_sample,
                                             loss_broadcast=loss_broadcast, unregistered=unregistered,
                                             batchnorm_momenta=batchnorm_momenta,
                                             loss_rows_coupled=loss_rows_coupled))
