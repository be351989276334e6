"""The rules table: one row per problem, and the table is what runs.

A row (``Rule``) holds everything about one problem: its id (``Problem``), the thresholds its
detectors use (the constants of ``rules`` and ``checks``, named), the detectors themselves, the
remedies in the order to try them, the problems it can cause, and its documentation, formatted from
those thresholds. The rows stand in causal order (causes before their consequences): that order is
the priority with which problems found together are reported and treated, and the order in which a
check runs its detectors.

A check of one family (``setup`` before the first step, ``update`` on the step after a probe,
``probe`` at a probed step, ``loss`` on the per-step losses, ``epoch`` at an epoch's end) runs
``run(family, evidence)``: every detector of that family, in table order, on one ``Evidence``. A
detector may be gated (run only when its gate says the numbers call for it), skipped when an
earlier detector of the same check found one of its ``unless`` problems, or ``final`` (its findings
end the check, the detectors after it are skipped: nothing measured after a NaN/Inf means anything).

Everything else that names problems is derived from this table: ``PROBLEMS``, ``CAUSAL_ORDER``,
``TREATMENT_ORDER``, ``TREATMENT_PRIORITY``, ``CONSEQUENCES``, ``SETUP_PROBLEMS`` and the documentation
(``RULES``, ``rules_markdown``, ``remedies_markdown``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retroprop.doctor import checks, rules
from retroprop.doctor.rules import Finding

__all__ = ["CAUSAL_ORDER", "CONSEQUENCES", "FAMILIES", "PROBLEMS", "RULES", "SETUP_PROBLEMS", "TABLE",
           "TREATMENT_ORDER", "TREATMENT_PRIORITY", "Detector", "Evidence", "Problem", "Rule", "detectors",
           "remedies_markdown", "rule_for", "rules_markdown", "run"]

FAMILIES = ("setup", "update", "probe", "loss", "epoch", "stop")  # stop: at the run's end


class Problem(enum.StrEnum):
    """The problems the doctor can name (each value is the id used everywhere, a plain string)."""

    CONSTANT_TARGETS = "constant_targets"
    LOSS_OUTPUT_MISMATCH = "loss_output_mismatch"
    MISSING_NONLINEARITY = "missing_nonlinearity"
    UNREGISTERED_PARAMETERS = "unregistered_parameters"
    SYMMETRIC_UNITS = "symmetric_units"
    UNSCALED_INPUTS = "unscaled_inputs"
    UNSCALED_TARGETS = "unscaled_targets"
    VALIDATION_MISMATCH = "validation_mismatch"
    UNSHUFFLED_DATA = "unshuffled_data"
    GRADIENT_ASCENT = "gradient_ascent"
    WEIGHT_DECAY_TOO_HIGH = "weight_decay_too_high"
    BATCH_TOO_SMALL = "batch_too_small"
    EXPLODING_GRADIENTS = "exploding_gradients"
    NON_FINITE = "non_finite"
    SATURATED_ACTIVATIONS = "saturated_activations"
    DEAD_RELU = "dead_relu"
    VANISHING_GRADIENTS = "vanishing_gradients"
    UNSTABLE_LOSS = "unstable_loss"
    DROPOUT_TOO_HIGH = "dropout_too_high"
    BATCHNORM_STATISTICS = "batchnorm_statistics"
    OVERFITTING = "overfitting"
    UNDERFITTING = "underfitting"
    SLOW_CONVERGENCE = "slow_convergence"


@dataclass
class Evidence:
    """What one check's detectors read: plain numbers, filled in by the caller for its family.

    - setup: ``layers`` (``checks`` layer dicts), ``loss`` (a ``checks.LOSS_KINDS`` name or None),
      ``inputs`` ((N, features) rows or (N, C, ...) samples), ``raw_inputs`` (of any shape) and
      ``validation_inputs``, ``targets`` and
      ``validation_targets``, ``n_classes``, ``adaptive``, ``batch_size`` and ``shuffled`` (whether each
      epoch draws the samples in a new order; None when unknown), ``unit_symmetry`` (per Linear or
      convolution layer, whether its units start alike: ``adapter.unit_symmetry``), ``dropout_rates`` and
      ``maximize`` (whether the optimizer is set to maximize the loss); ``inputs_sample`` and
      ``targets_sample`` (the inputs or targets are one batch, not the training set); ``loss_broadcast``
      (the output's shape and the shape the loss compared, when it broadcast them); ``unregistered``
      (the trainable tensors the graph of the model's first output reaches that neither the model
      nor the optimizer holds:
      ``tensors``, ``entries``, ``shapes``; None when not read), ``batchnorm_momenta`` (each batch
      normalization that tracks running statistics: ``name``, ``momentum``; None when not read).
    - update: ``probes`` (this recipe's latest records up to the one whose update is now known, newest
      last), ``loss_after`` (the loss on the updated weights; None when the losses are not known) and
      ``first_step`` (the run's first step, or a fresh restart's: its weights had learned nothing).
    - probe: ``probes`` (this recipe's latest records), ``opening`` (its first records, up to
      ``rules.ASCENT_PROBES``), ``first_step`` (as for update), ``unchecked``
      and ``since`` (the losses not yet looked at for NaN/Inf and the step of the first),
      ``loss_known``, ``loss_can_be_undefined`` (a custom loss, or one on probabilities, handed to the
      setup), ``weight_decays`` (per layer, the decay added to its gradient), ``symptoms`` (what the latest
      probe shows, ``rules.symptoms``), ``dead_ongoing``, ``dropout_rates``, and the evidence that a
      network learns well (``harm``: ``losses``, ``start``, ``batch_size``, ``accuracy``,
      ``epoch_logs``, ``samples``).
    - loss: ``losses`` (this recipe's per-step losses; None when they are not known), ``start`` and
      ``start20`` (the run's first 5 and 20 steps' mean loss), ``recent`` (steps since the last loss
      check), ``batch_size``, ``chance_loss``, ``epoch_logs`` (this recipe's latest three), ``samples``,
      ``update_ratios`` (the steady largest update ratios), ``dropout_rates`` and ``recipe_problems``
      (the problems diagnosed so far in this recipe), ``movement`` (``checking.Movement``: how far this
      recipe's steps have moved the weights, relative to their size; None before a probe's update is
      known, or under a schedule that may raise the rate), ``steps_left`` (the steps the run has left:
      0 at its end, None when not known), ``attainable`` (called when needed: what a classification's
      training data allows, ``checks.attainable_accuracy``; None without the data), ``attainable_error``
      (the same for a regression under a squared error, ``checks.attainable_error``), ``rates`` (the
      learning rates at this recipe's first probe and now) and ``recent_update_ratios`` (the largest
      update ratio of the latest two probes whose update is known, whatever rate each ran at), and
      ``sorted_now`` (called when needed: the share of a few training rows the model sorts now, measured
      by the doctor, for a classification whose data it has).
    - stop (at the run's end): ``backward_passes`` (the losses a hand-written loop back-propagated outside
      the optimizer's steps; None when not counted) and ``steps`` (the run's optimizer steps).
    - epoch: ``epoch_logs`` (this recipe's latest), ``samples``, ``best`` (``rules.EpochBest``),
      ``first_epoch`` (of ``epoch_logs[0]``), ``validation_is_training`` and ``parameters`` (the
      model's parameter count, None when the adapter does not say); ``batchnorm`` (the latest epochs'
      losses on training rows with batch normalization's batch and running statistics, newest last:
      ``adapter.batchnorm_losses``; empty when not measured), ``fit`` (the latest epochs' distances of
      the predictions from regression targets on training rows, ``rules.prediction_fit``, measured
      only while the training loss is down to ``rules.FITTED_LEVEL`` of its start; empty otherwise)
      and ``fit_start`` (the same at this recipe's first step, before its update; None when unknown),
      ``steps`` (this recipe's steps) and
      ``chance_loss``, ``start`` and ``losses`` (what a gap between losses is measured against: a blind
      guess's loss, else the run's start, as the loss rules read it).
    """

    layers: Sequence[dict[str, Any]] = ()
    loss: str | None = None
    inputs: Any = None
    targets: Any = None
    n_classes: int | None = None
    adaptive: bool | None = None
    probes: Sequence[dict[str, Any]] = ()
    losses: Any = ()
    unchecked: Any = ()
    since: int = 0
    symptoms: Sequence[str] = ()
    dead_ongoing: frozenset[str] | set[str] = frozenset()
    start: float | None = None
    start20: float | None = None
    recent: int = 1
    batch_size: int | None = None
    chance_loss: float | None = None
    accuracy: float | None = None
    epoch_logs: Sequence[dict[str, float]] = ()
    samples: tuple[int, int] | None = None
    update_ratios: Sequence[float] = ()
    dropout_rates: Sequence[float] = ()
    recipe_problems: frozenset[str] | set[str] = frozenset()
    best: Any = None
    first_epoch: int = 0
    validation_is_training: bool = False
    maximize: bool = False
    inputs_sample: bool = False  # the inputs are one batch: only their scale is read
    targets_sample: bool = False  # the targets are one batch: their scale, and their values for the loss
    loss_after: float | None = None
    first_step: int = 0
    parameters: int | None = None
    loss_known: bool = True
    loss_can_be_undefined: bool = False
    movement: float | None = None
    steps_left: int | None = None
    weight_decays: Mapping[str, float] = field(default_factory=dict)
    validation_inputs: Any = None
    raw_inputs: Any = None
    opening: Sequence[dict[str, Any]] = ()
    validation_targets: Any = None
    attainable: Callable[[], dict[str, Any] | None] | None = None  # a classification's data's yardstick
    attainable_error: Callable[[], dict[str, Any] | None] | None = None  # a regression's data's yardstick
    rates: tuple[Sequence[float], Sequence[float]] | None = None  # the learning rates: first probe's, now
    recent_update_ratios: Sequence[float] = ()  # the latest probes' largest update ratios, at any rate
    step_fall: float | None = None  # the latest probed largest update ratio over this recipe's first
    sorted_now: Callable[[], float | None] | None = None  # the training rows the model sorts now
    shuffled: bool | None = None
    unit_symmetry: Sequence[dict[str, Any]] | None = None
    loss_broadcast: tuple[Sequence[int], Sequence[int] | None] | None = None
    loss_rows_coupled: dict[str, Any] | None = None  # a custom loss's scores of rows whole and in halves
    batchnorm: Sequence[dict[str, Any]] = ()
    unregistered: dict[str, Any] | None = None
    batchnorm_momenta: Sequence[dict[str, Any]] | None = None
    fit: Sequence[dict[str, Any]] = ()
    fit_start: dict[str, Any] | None = None
    steps: int = 0
    backward_passes: int | None = None

    def harm(self) -> dict[str, Any]:
        """The keyword arguments with which a layer rule tells a network that learns well."""
        return {"losses": self.losses, "start": self.start, "batch_size": self.batch_size,
                "accuracy": self.accuracy, "epoch_logs": self.epoch_logs, "samples": self.samples,
                "chance_loss": self.chance_loss}


Gate = Callable[[Evidence, Sequence[Finding]], bool]

# training rows the doctor runs the model on at an epoch's end (batch normalization's statistics, twice;
# the predictions' distance from regression targets, once)
TRAINING_ROWS = 256


@dataclass(frozen=True)
class Detector:
    """One way a problem is detected: ``detect(evidence)`` returns findings, in checks of ``family``.
    ``name`` names it in the doctor's error records (a detector that raises is skipped for the rest
    of the run)."""

    name: str
    family: str
    detect: Callable[[Evidence], list[Finding]]
    gate: Gate | None = None
    unless: tuple[str, ...] = ()
    final: bool = False
    # the gate read only once the detector found something: a gate that may cost more than its
    # detector (a nearest-neighbour yardstick of the training rows) is not paid on every check
    gate_after: bool = False


@dataclass(frozen=True)
class Rule:
    """One problem: thresholds, detectors, remedies, consequences and documentation."""

    problem: Problem
    detectors: tuple[Detector, ...]
    remedies: tuple[str, ...]
    signal: str
    threshold: str
    window: str
    why: str
    thresholds: Mapping[str, float] = field(default_factory=dict)
    causes: tuple[Problem, ...] = ()  # the problems this one can cause, by mechanism
    # of several problems diagnosed at once, the lower rank is treated first: the setup's before the
    # run's, and among those a NaN/Inf (roll back now) before exploding steps, saturation before the
    # vanishing it causes, an unstable loss before the batch size that only the user can change
    treat_rank: int = 0
    # a setup finding held back until the run shows what it costs (``rules.scale_cost``, or one of
    # its consequences found): a scale that a healthy run absorbs is no alarm
    until_harm: bool = False

    def doc(self) -> dict[str, str]:
        """The row's documentation, its numbers formatted from ``thresholds``."""
        return {"problem": self.problem.value,
                **{k: getattr(self, k).format(**self.thresholds) for k in ("signal", "threshold", "window",
                                                                             "why")}}


# -- gates ----------------------------------------------------------------------------------------
def _symptoms(evidence: Evidence, found: Sequence[Finding]) -> bool:
    """A layer rule needs its problem to show on the latest probe (its window adds persistence)."""
    return bool(evidence.symptoms)


def _run_start(evidence: Evidence) -> float | None:
    """The run's starting loss: ``start``, else the mean of this recipe's first 5 losses (None when
    the losses are not known)."""
    if evidence.start is not None:
        return evidence.start
    losses = evidence.losses
    if losses is None or len(losses) == 0:
        return None
    return float(np.add.reduce(losses[:5])) / min(len(losses), 5)


def _loss_still_high(evidence: Evidence, found: Sequence[Finding]) -> bool:
    """The loss is still above ``PLATEAU_LEVEL`` of a blind guess's when that is known, else of its
    start: a run that has learned something is neither stalled nor held back by dropout. A start below
    a blind guess's is no mark: an untrained model starts at a guess's loss or above, so a lower start
    is the luck of the first batches (a few samples' losses, at batch sizes of one or two), not a level
    the run fell from."""
    losses = evidence.losses
    span = rules.LOSS_EMA_STEPS
    if len(losses) < span:
        return True
    mark = evidence.chance_loss or _run_start(evidence)
    return float(np.add.reduce(losses[-span:])) / span > rules.PLATEAU_LEVEL * mark


def plateau_explained(evidence: Evidence, found: Sequence[Finding]) -> str | None:
    """Why a stalled loss is not to be named ``slow_convergence`` (whose first remedy raises the
    learning rate), or None: dropout of at least ``rules.DROPOUT_RATE`` (``rules.dropout_level``; the
    stall is ``dropout_too_high``'s to name), or a problem whose
    remedies lower the learning rate found in this check or earlier in this recipe (advice to raise
    the same rate would contradict it, and a loss held up by dead units or overshooting steps is their
    consequence), or ``underfitting`` found so (labels the inputs do not predict: no rate learns them;
    too little capacity: a faster rate stalls at the same level), or a model that has fitted its data
    whatever its loss (``_fitted``)."""
    if rules.dropout_level(evidence.dropout_rates) >= rules.DROPOUT_RATE:
        return "dropout"
    if _fitted(evidence):
        return "fitted"
    problems = {f.problem for f in found} | set(evidence.recipe_problems)
    if Problem.UNDERFITTING in problems:
        return Problem.UNDERFITTING.value
    lowering = sorted(p for p in problems if "lower_lr" in TREATMENT_ORDER.get(p, ()))
    return lowering[0] if lowering else None


def _fitted(evidence: Evidence) -> bool:
    """Whether the latest epoch log's training accuracy is 1, or above 1 - ``rules.OVERFIT_GAP`` and at
    least what a nearest-neighbour vote on the training rows sorts (``attainable``, for a classification
    whose data the doctor has): the model sorts its training rows as well as the data allows, so a
    loss that stands high (a few rows confidently wrong) is no sign of learning too slowly."""
    log = evidence.epoch_logs[-1] if evidence.epoch_logs else {}
    if "accuracy" not in log or float(log["accuracy"]) <= 1 - rules.OVERFIT_GAP:
        return False
    if float(log["accuracy"]) >= 1.0:
        return True
    yardstick = evidence.attainable() if evidence.attainable is not None else None
    return yardstick is not None and float(log["accuracy"]) >= float(yardstick["accuracy"])


def _stall_unexplained(evidence: Evidence, found: Sequence[Finding]) -> bool:
    return _loss_still_high(evidence, found) and plateau_explained(evidence, found) is None


def _no_other_cause(evidence: Evidence, found: Sequence[Finding]) -> bool:
    """No problem found explains a stall (``plateau_explained``), wherever the loss stands."""
    return plateau_explained(evidence, found) is None


def _majority_share(evidence: Evidence) -> Callable[[], float | None]:
    """The commonest training class's share, asked only when needed (``attainable``'s ``majority``)."""
    def share() -> float | None:
        yardstick = evidence.attainable() if evidence.attainable is not None else None
        return None if yardstick is None else yardstick.get("majority")
    return share


def _dropout_not_near_total(evidence: Evidence, found: Sequence[Finding]) -> bool:
    """Dropout below ``rules.DROPOUT_RATE``: at or above it, a stall is ``dropout_too_high``'s to name."""
    return rules.dropout_level(evidence.dropout_rates) < rules.DROPOUT_RATE


def _not_validating_on_training(evidence: Evidence, found: Sequence[Finding]) -> bool:
    """Validation data identical to the training data shows no gap: nothing to overfit to."""
    return not evidence.validation_is_training


# -- the table ------------------------------------------------------------------------------------
P = Problem
TABLE: tuple[Rule, ...] = (
    Rule(P.CONSTANT_TARGETS,
         (Detector("constant_targets", "setup", lambda e: [] if e.targets_sample else checks.constant_targets(
             e.targets, e.loss, e.n_classes, e.validation_targets)),),
         ("fix_targets",),
         treat_rank=0,
         signal="the spread of the training targets, per column",
         threshold="0 in every column (one value, one class) over >= {rows} rows",
         window="before the first step",
         why="a model learns the map from inputs to targets; targets that never vary leave one answer to "
             "learn, whatever the inputs: a bug in how the targets were made (scaled, cast, overwritten), "
             "not in training",
         thresholds={"rows": checks.VALIDATION_MIN_ROWS},
         causes=(P.VALIDATION_MISMATCH, P.DEAD_RELU, P.OVERFITTING, P.UNDERFITTING, P.SLOW_CONVERGENCE)),
    Rule(P.LOSS_OUTPUT_MISMATCH,
         (Detector("loss_output_mismatch", "setup", lambda e: checks.loss_output_mismatch(
             e.layers, e.loss, e.targets, e.n_classes, e.loss_broadcast)),
          Detector("loss_output_mismatch (rows coupled)", "setup", lambda e: checks.rows_coupled(
              e.layers, e.loss_rows_coupled)),
          Detector("loss_output_mismatch (no gradient)", "probe", lambda e: rules.no_gradient(
              e.probes, e.dropout_rates, _run_start(e)), gate=_symptoms),
          Detector("loss_output_mismatch (undefined loss)", "probe", lambda e: rules.undefined_loss(
              e.probes, e.loss_known and e.loss_can_be_undefined), gate=_symptoms),
          Detector("loss_output_mismatch (loss not fit)", "epoch", lambda e: rules.loss_not_fit(
              e.fit, e.fit_start))),
         ("fix_output_loss", "match_output_width", "classification_loss", "linear_output", "multilabel_loss",
          "differentiable_loss", "match_target_shape", "regression_loss"),
         treat_rank=1,
         signal="the output layer's activation and width, the loss, the targets' values and the number of "
                "classes; during training, whether any layer gets a gradient",
         threshold="a pairing that is constant (softmax over one unit), unbounded (NLL on raw scores), "
                   "doubly squashed (softmax before cross-entropy, sigmoid before BCE-with-logits), "
                   "mis-sized (BCE on > 2 classes, fewer outputs than classes), a regression loss on "
                   "class labels, a bounded output short of regression targets, or multi-hot targets under "
                   "a categorical loss, an output broadcast against targets of another shape, a custom "
                   "loss that mixes a batch's rows (its halves' scores neither average nor sum to the "
                   "whole's); or no "
                   "gradient in any layer while the loss is above 0; or a NaN "
                   "loss with every weight and activation finite (a custom loss, or one on probabilities); "
                   "or a training loss down to {fitted:.0%} of its start while, on up to {rows} training "
                   "rows, the predictions' squared error is at least the regression targets' variance "
                   "and at least its value at the first step, and their squared rank correlation with the "
                   "targets below {ranks:g} (a regression), or the training accuracy within two standard "
                   "errors of always answering the most frequent class (a classification)",
         window="before the first step; 2 consecutive probes (no gradient); one probe (NaN loss); 2 "
                "consecutive epoch ends (loss not fit)",
         why="the loss then measures something other than the classification or regression asked for: it "
             "cannot fall, falls forever, falls where the predictions do not approach the targets or the "
             "right classes, or its gradient vanishes when the prediction is wrong",
         thresholds={"fitted": rules.FITTED_LEVEL, "rows": TRAINING_ROWS, "ranks": 1 - rules.FITTED_LEVEL},
         causes=(P.SLOW_CONVERGENCE, P.UNDERFITTING, P.UNSTABLE_LOSS, P.NON_FINITE, P.SATURATED_ACTIVATIONS,
                 P.DEAD_RELU, P.VANISHING_GRADIENTS)),
    Rule(P.MISSING_NONLINEARITY,
         # a redundant Linear layer inside a network that has activations elsewhere learns as well: a
         # run of stacked Linear layers is a failure only when the whole model is one linear map
         (Detector("missing_nonlinearity", "setup", lambda e: [
             f for f in checks.missing_nonlinearity(e.layers) if f.evidence.get("model_is_linear")]),),
         ("insert_activation",),
         treat_rank=2,
         signal="Linear (or convolution) layers with no activation between them (Dropout, BatchNorm, "
                "Identity, average pooling do not count), in a model with no activation anywhere (max "
                "pooling aside)",
         threshold=">= {run} in a row", window="before the first step",
         why="a product of linear maps is one linear map: the extra layers add parameters, not expressive "
             "power",
         thresholds={"run": 2}, causes=(P.UNDERFITTING, P.SLOW_CONVERGENCE)),
    Rule(P.UNREGISTERED_PARAMETERS,
         (Detector("unregistered_parameters", "setup", lambda e: checks.unregistered_parameters(
             e.unregistered)),),
         ("register_layers", "build_optimizer"),
         treat_rank=3,
         signal="the trainable tensors the graph of the model's first output reaches (its autograd leaves) "
                "that neither the model's parameters nor the optimizer's hold; how many of those it "
                "reaches the optimizer holds",
         threshold=">= 1 (of the model's own layers' kind: weights that require gradients); or none of "
                   "them held by the optimizer",
         window="the first step (the output's graph, read once)",
         why="a layer kept in a plain Python list or dict is used by forward but is no submodule: it is "
             "not in model.parameters(), so the optimizer never updates it (it stays at its random "
             "initialization), and state_dict(), .to(device) and train()/eval() pass it over; an "
             "optimizer built on another model's parameters (one created before the model trained, or a "
             "copy) updates nothing the model computes with",
         causes=(P.UNDERFITTING, P.SLOW_CONVERGENCE)),
    Rule(P.SYMMETRIC_UNITS,
         (Detector("symmetric_units", "setup", lambda e: checks.symmetric_units(
             e.unit_symmetry, e.layers, e.dropout_rates)),),
         ("he_init",),
         treat_rank=4,
         signal="per Linear or convolution layer: whether every unit's weights and bias are the same, and "
                "whether the next such layer weighs every input alike",
         threshold="both, within {tolerance:g} of the layer's largest weight (under dropout, named only "
                   "once one of its consequences is found)",
         window="before the first step (under dropout, when a consequence is found)",
         why="units that start alike and are weighed alike get the same gradient at every step: they stay "
             "copies of one unit (a constant or zero initialization), so the layer has one feature's "
             "capacity",
         thresholds={"tolerance": checks.SYMMETRY_TOLERANCE},
         causes=(P.VANISHING_GRADIENTS, P.DEAD_RELU, P.UNDERFITTING, P.SLOW_CONVERGENCE)),
    Rule(P.UNSCALED_INPUTS,
         (Detector("unscaled_inputs", "setup", lambda e: checks.unscaled_inputs(
             e.inputs, e.layers, scale_only=e.inputs_sample)),),
         ("standardize_inputs",),
         treat_rank=5,
         signal="RMS of the input features (of (N, C, ...) inputs, the channels: each channel's values "
                "over the positions); ratio of the widest to the narrowest feature range; a feature's "
                "distance from 0 relative to its range",
         threshold="RMS/sqrt(3) beyond the first activation's saturation point (tanh {tanh:g}, sigmoid "
                   "{sigmoid:g}; critical at {critical:g}x), else RMS > {step_max:g} (critical > "
                   "{step_critical:g}); every value below {step_min:g} in magnitude; range ratio > "
                   "{spread:.0f}, offset > {offset:.1f} (constant and two-valued features aside; not when "
                   "the model begins with Standardize or BatchNorm; no large RMS or offset when its first "
                   "Linear or convolution feeds a BatchNorm, which divides them out)",
         window="before the first step",
         why="default inits assume unit-scale inputs: larger ones saturate units and enlarge the first "
             "layer's steps, far smaller ones leave the output flat and the steps tiny, and features of "
             "very different scales need one learning rate each",
         thresholds={"tanh": checks.SATURATION_Z["tanh"], "sigmoid": checks.SATURATION_Z["sigmoid"],
                     "critical": checks.SATURATION_CRITICAL, "step_max": checks.STEP_SCALE_MAX,
                     "step_critical": checks.STEP_SCALE_CRITICAL, "step_min": checks.STEP_SCALE_MIN,
                     "spread": checks.INPUT_SPREAD_MAX,
                     "offset": checks.INPUT_OFFSET_MAX},
         causes=(P.EXPLODING_GRADIENTS, P.SATURATED_ACTIVATIONS, P.VANISHING_GRADIENTS, P.DEAD_RELU,
                 P.NON_FINITE, P.UNSTABLE_LOSS, P.SLOW_CONVERGENCE, P.UNDERFITTING)),
    Rule(P.UNSCALED_TARGETS,
         (Detector("unscaled_targets", "setup", lambda e: checks.unscaled_targets(
             e.targets, e.loss, e.n_classes, e.layers, e.adaptive, scale_only=e.targets_sample)),),
         ("standardize_targets",),
         treat_rank=6,
         signal="RMS and |mean|/std of regression targets (MSE, L1, Huber)",
         threshold="RMS > {scale:g} (critical > {critical:g}), or |mean|/std > {offset:.0f}; named once the "
                   "run shows the cost: a consequence found, or the loss above the targets' mean's and, at "
                   "its pace over {plateau} steps, still above it when the run ends",
         window="read before the first step; named at the first loss check or finding that shows harm",
         why="the output starts near 0: the first loss is dominated by the targets' scale and offset, so "
             "gradients are huge (SGD) or reaching the targets takes too many steps (Adam)",
         thresholds={"scale": checks.TARGET_SCALE_MAX, "critical": checks.TARGET_SCALE_CRITICAL,
                     "offset": checks.TARGET_OFFSET_MAX, "plateau": rules.PLATEAU_STEPS},
         causes=(P.EXPLODING_GRADIENTS, P.NON_FINITE, P.UNSTABLE_LOSS, P.SLOW_CONVERGENCE, P.DEAD_RELU,
                 P.UNDERFITTING),
         until_harm=True),
    Rule(P.VALIDATION_MISMATCH,
         (Detector("validation_mismatch", "setup", lambda e: checks.validation_mismatch(
             e.raw_inputs, e.validation_inputs, None if e.targets_sample else e.targets, e.validation_targets,
             checks.is_classification(e.loss, e.n_classes))),),
         ("match_validation",),
         treat_rank=7,
         signal="the RMS of the validation inputs against the training inputs'; for a classification, the "
                "validation rows whose class the training targets never show, or show far more rarely; "
                "once, two passes of the model as the loop evaluates it over the same {evaluated} rows",
         threshold="more than {ratio:g} times apart; or >= {unseen:.0%} of the validation rows in unseen "
                   "classes (at least {rows} rows each); else in classes whose share of the training rows "
                   "is at most 1/{starved:g} of their share of the validation rows (a warning); or the two "
                   "passes' outputs apart by more than {spread:g} of the largest (case random_evaluation, "
                   "remedy evaluation_mode)",
         window="before the first step; the first evaluation (a PyTorch loop's first call without "
                "gradients or in evaluation mode, else the first epoch with validation scores)",
         why="data drawn and preprocessed alike has the same scale and the same classes; a scale this far "
             "off was preprocessed apart (one set scaled or standardized, the other raw), classes this "
             "uneven were split unshuffled (sorted by label): the model is validated on data unlike any "
             "it trains on; and a model evaluated with a dropout still on (a functional dropout without "
             "training=self.training, a mode flag eval() does not switch, no model.eval()) is validated "
             "as a randomly damaged copy of itself",
         thresholds={"ratio": checks.VALIDATION_SCALE_MAX, "rows": checks.VALIDATION_MIN_ROWS,
                     "unseen": checks.UNSEEN_CLASS_SHARE, "starved": checks.STARVED_CLASS_RATIO,
                     "evaluated": rules.EVALUATION_ROWS, "spread": rules.EVALUATION_SPREAD},
         causes=(P.OVERFITTING, P.UNSTABLE_LOSS)),
    Rule(P.UNSHUFFLED_DATA,
         (Detector("unshuffled_data", "setup", lambda e: checks.unshuffled_data(
             None if e.targets_sample else e.targets, e.batch_size, e.shuffled, e.loss, e.n_classes)),),
         ("shuffle",),
         treat_rank=8,
         signal="when the samples are drawn in their stored order: the mean length of the training labels' "
                "runs of one class, against a shuffled order's (1 / (1 - sum of squared class shares)); "
                "the chi-square of each batch's class counts against the data's shares, per degree of "
                "freedom, averaged over the batches (about 1 for shuffled batches)",
         threshold=">= {factor:g}x the shuffled length, and >= {batches} batches or batches >= {factor:g}x "
                   "as uneven as shuffled ones (over >= {least} batches)",
         window="before the first step",
         why="each step follows its batch: a stretch of batches of one class, or batches of a few classes "
             "only, pulls the output towards them and undoes what the others taught (catastrophic "
             "forgetting within an epoch)",
         thresholds={"factor": checks.SORTED_RUN_FACTOR, "batches": checks.SORTED_RUN_BATCHES,
                     "least": checks.SORTED_MIN_BATCHES},
         causes=(P.UNSTABLE_LOSS, P.OVERFITTING, P.UNDERFITTING, P.SLOW_CONVERGENCE)),
    Rule(P.GRADIENT_ASCENT,
         # the optimizer's setting is read before the first step (a setup fix, made with the others at the
        # start); the probes watch the run for a sign flipped by hand, which no setting shows
        (Detector("gradient_ascent (maximize)", "setup", lambda e: checks.maximizing(e.maximize)),
         Detector("gradient_ascent", "probe", lambda e: rules.gradient_ascent(e.opening, e.first_step))),
         ("descend",),
         treat_rank=9,
         signal="the cosine between each layer's optimizer step and the gradient it was taken from (< 0 "
                "for a step down the loss's slope: -1 for plain SGD); before the first step, the "
                "optimizer's maximize setting",
         threshold="> 0 in every layer and > {cosine:.1f} in the median layer, on each of the first "
                   "{probes} probed updates of the run (the first within {opening} steps of its start); or "
                   "maximize=True in a parameter group",
         window="the first {probes} probed updates (the setting: before the first step)",
         why="every optimizer that minimizes steps against the gradient (momentum's and Adam's first steps "
             "from a fresh state too); steps along it climb the loss: maximize=True, or a gradient whose "
             "sign was flipped by hand",
         thresholds={"cosine": rules.ASCENT_COSINE, "probes": rules.ASCENT_PROBES,
                     "opening": rules.ASCENT_OPENING},
         causes=(P.EXPLODING_GRADIENTS, P.NON_FINITE, P.UNSTABLE_LOSS, P.DEAD_RELU, P.SATURATED_ACTIVATIONS)),
    Rule(P.WEIGHT_DECAY_TOO_HIGH,
         (Detector("weight_decay_too_high", "probe", lambda e: rules.weight_decay_too_high(
             e.probes, e.weight_decays, e.losses, e.start, first=e.opening[0] if e.opening else None,
             batch_size=e.batch_size,
             learns_well=e.losses is not None and len(e.losses) > 0 and rules.learns_well(**e.harm()))),),
         ("lower_weight_decay",),
         treat_rank=10,
         signal="per layer, the weight decay's pull on the weights against the data's gradient, wd x "
                "||W|| / ||g|| (decay added to the gradient: SGD's, Adam's L2, RMSprop's); the decayed "
                "weights' norm; the smoothed loss against its lowest and its start",
         threshold="> {dominance:g} in the median decayed layer on each of {probes} consecutive probes, the "
                   "weights shrinking from each to the next, and the loss, once below {level:.0%} of its "
                   "start, back up {rise:.0%} of the way (or, never that low, the weights down to "
                   "{collapse:g} of their norm at the first probe); not in a network that learns well",
         window="{probes} probes",
         why="at a minimum of the penalized loss the decay and the gradient balance (a pull of 1); a pull "
             "steadily above it drives the weights toward 0 whatever the data says, and the loss climbs "
             "back toward a blind guess's",
         thresholds={"dominance": rules.DECAY_DOMINANCE, "probes": rules.DECAY_PROBES,
                     "level": rules.PLATEAU_LEVEL, "rise": rules.DECAY_RISE,
                     "collapse": rules.DECAY_COLLAPSE},
         causes=(P.UNDERFITTING, P.SLOW_CONVERGENCE, P.UNSTABLE_LOSS, P.VANISHING_GRADIENTS, P.DEAD_RELU)),
    Rule(P.BATCH_TOO_SMALL,
         (Detector("batch_too_small", "loss", lambda e: rules.batch_too_small(
             e.losses, e.batch_size, e.start, chance_loss=e.chance_loss, epoch_logs=e.epoch_logs,
             samples=e.samples, attainable=e.attainable, attainable_error=e.attainable_error,
             sorted_now=e.sorted_now)),),
         ("larger_batch", "lower_lr"),
         treat_rank=17,
         signal="the loss's step-to-step noise (std of its differences / sqrt 2) against its level, and its "
                "fall, with the batch size known",
         threshold="batches of <= {small} samples, noise >= {noise:.0%} of the level and a fall over the "
                   "last {windows} windows within twice its noise, above {fitted:.0%} of a blind guess's "
                   "loss (else of the start), and the model short of what its data allows (its training "
                   "accuracy a nearest-neighbour vote's less {gap:.0%} and twice their noise or more; a "
                   "regression's loss at least {factor:g} times a nearest-neighbour average's and above it "
                   "by {fitted:.0%} of the targets' variance) where that is known",
         window="{plateau} steps, or {smooth} samples when the batches are smaller",
         why="a mini-batch gradient's noise grows as 1/sqrt(batch size): each step follows its few samples "
             "more than the data (a step's noise also scales with the learning rate: fit, which cannot "
             "change the batches, lowers the rate)",
         thresholds={"small": rules.SMALL_BATCH, "noise": rules.NOISE_LEVEL, "windows": rules.BATCH_WINDOWS,
                     "fitted": rules.FITTED_LEVEL, "plateau": rules.PLATEAU_STEPS,
                     "smooth": rules.LOSS_SMOOTH_SAMPLES, "gap": rules.OVERFIT_GAP,
                     "factor": rules.UNSTABLE_FACTOR},
         causes=(P.UNSTABLE_LOSS, P.SLOW_CONVERGENCE, P.UNDERFITTING)),
    Rule(P.EXPLODING_GRADIENTS,
         (Detector("exploding_gradients", "update", lambda e: rules.exploding_updates(
             e.probes, loss_after=e.loss_after, first_step=e.first_step, batch_size=e.batch_size)),
          Detector("exploding_gradients (growth)", "probe", lambda e: rules.exploding_growth(
              e.probes, e.batch_size)),
          Detector("exploding_gradients (oversized init)", "probe", lambda e: rules.oversized_init(
              e.opening, e.first_step, e.chance_loss, e.samples)),
          Detector("exploding_gradients (loss)", "loss", lambda e: rules.astronomical_loss(
              e.losses, e.start, e.chance_loss, e.recent))),
         ("batchnorm", "lower_lr", "clip_gradients", "he_init"),
         treat_rank=12,
         signal="update-to-weight ratio of a layer (checked on the step after each probe, when the update "
                "is known; a zero-initialized layer's update against the norm of LeCun-scaled weights of its "
                "shape), or gradient-norm growth, or a finite loss against the larger of its start and a "
                "blind guess's; on the first probe, the initial weights' scale over He's, multiplied along "
                "the network, with the first loss against a blind guess's; in a PyTorch loop, on its first "
                "steps, what a small tensor's gradient holds beyond the step's own backward passes against "
                "the previous step's gradient (case gradients_accumulate: remedy clear_gradients)",
         threshold="update/weight > {ratio:g} (for a layer whose weights are below {tiny:g} x that norm, "
                   "as a zero or near-zero init: only when the loss after the step is non-finite or > "
                   "{factor:g} x the loss before it, or the previous probe's update was large too; for the "
                   "run's first update: only when the loss after it is non-finite or > {first:g} x the loss "
                   "before it, or the next probe's, brought forward, is large too; with batches of <= "
                   "{small} samples, any large update only with the next or previous probe's large too, or "
                   "a non-finite loss), or total gradient norm > {growth:g} x its value 4 probes earlier "
                   "(batches of > {small}), or a loss > {loss:g} x (critical); or initial weights that "
                   "amplify the signal > {gain:g}-fold with a first loss > {alarm:g} x a blind guess's (a "
                   "single weighted layer: only with no more training rows than its inputs); or that "
                   "remainder within {carry:.1f} x the previous gradient's norm of it, {checks} steps in a "
                   "row",
         window="one probe (ratio), 3 consecutive rising probes (growth), any step since the last check "
                "(loss), the first probe (initial weights)",
         why="large weights make the products of many large terms grow geometrically; an update as large as "
             "the weights themselves throws the layer away (one large first move of tiny weights toward "
             "the solution does not); a loss a million times its start needs outputs 1e3-1e6 times too "
             "large; initial weights far above the He scale make outputs large and confidently wrong from "
             "the first step",
         thresholds={"ratio": rules.EXPLODING_UPDATE_RATIO, "growth": rules.EXPLODING_GROWTH,
                     "loss": rules.ASTRONOMICAL_LOSS, "tiny": rules.TINY_WEIGHTS,
                     "first": rules.FIRST_STEP_OVERSHOOT, "small": rules.SMALL_BATCH,
                     "factor": rules.UNSTABLE_FACTOR, "gain": rules.OVERSIZED_GAIN,
                     "alarm": rules.LOSS_ALARM, "carry": 1 - rules.CARRIED_SHARE,
                     "checks": rules.CARRY_CHECKS},
         causes=(P.NON_FINITE, P.UNSTABLE_LOSS, P.SATURATED_ACTIVATIONS, P.VANISHING_GRADIENTS, P.DEAD_RELU,
                 P.SLOW_CONVERGENCE)),
    Rule(P.NON_FINITE,
         (Detector("non_finite", "probe", lambda e: rules.non_finite(e.probes, e.unchecked, e.since,
                                                                      loss_known=e.loss_known),
                   gate=_symptoms, final=True),),
         ("roll_back", "lower_lr", "clip_gradients"),
         treat_rank=11,
         signal="NaN/Inf count in loss (every step), gradients, weights, activations",
         threshold="> 0", window="one step",
         why="one overflow poisons every later product; nothing learned after it is meaningful",
         causes=(P.UNSTABLE_LOSS,)),
    Rule(P.SATURATED_ACTIVATIONS,
         (Detector("saturated_activations", "probe", lambda e: rules.saturated_activations(
             e.probes, opening=e.opening, **e.harm()), gate=_symptoms),),
         ("relu", "batchnorm", "standardize_inputs", "he_init"),
         treat_rank=13,
         signal="share of sigmoid/tanh outputs where the derivative is below 1/100 of its peak; the gradient "
                "reaching the layer that feeds them against the output layer's; whether the network learns "
                "well",
         threshold=">= {share:.1f} + 3 standard errors of the share on the probed batch, with harm: "
                   "saturated from the run's first probe, the layer feeding the units getting < {passes:g} "
                   "of the output layer's gradient, or the "
                   "loss stalled, rising or fitted; not in a network that learns well (training accuracy 1 "
                   "or loss < {fitted:.0%} of its start, and no generalization gap >= {gap:.2f} and twice "
                   "its noise on each of the last {epochs} epochs)",
         window="2 consecutive probes",
         why="in their flat regions sigmoid and tanh pass almost no gradient; while the layer below still "
             "gets its share, or the network learns well with them, they cost nothing measurable",
         thresholds={"share": rules.SATURATED_SHARE, "passes": rules.SATURATED_PASSES,
                     "fitted": rules.FITTED_LEVEL, "gap": rules.OVERFIT_GAP, "epochs": rules.OVERFIT_EPOCHS},
         causes=(P.VANISHING_GRADIENTS, P.SLOW_CONVERGENCE, P.UNDERFITTING)),
    Rule(P.DEAD_RELU,
         (Detector("dead_relu", "probe", lambda e: rules.dead_relu(
             e.probes, ongoing=e.dead_ongoing, opening=e.opening, first_step=e.first_step, **e.harm()),
             gate=_symptoms),),
         ("lower_lr", "leaky_relu", "he_init"),
         treat_rank=15,
         signal="share of ReLU units that never fired (> 0) on any probed batch",
         threshold=">= {share:.1f} (critical >= {critical:.1f}); with episodes tracked, entered at "
                   "{share:.1f} + and left at {share:.1f} - 3 standard errors of the share from the units "
                   "that fired on some batches only; not in a network that learns well (training accuracy 1 "
                   "or loss < {fitted:.0%} of its start, and no generalization gap); below "
                   "{critical:.1f}, only while the loss has stalled or risen, or before a trend can be read "
                   "has not yet fallen below {level:.0%} of its start; with most of the dead units dead "
                   "since the run's first probes (born dead: a narrower layer), only while the loss has "
                   "stalled or risen still above {level:.0%} of its start, or before a trend with a share "
                   ">= {share:.1f} + 3 standard errors of the share of units that fire or not as coins do",
         window="the last {window} probed batches and at least {samples} samples (a unit firing on "
                "{rare:.0%} of them shows with {confidence:.0%} confidence)",
         why="a unit whose weighted sum stays below 0 outputs 0 and passes no gradient, so nothing can bring "
             "it back",
         thresholds={"share": rules.DEAD_SHARE, "critical": rules.DEAD_CRITICAL, "window": rules.DEAD_WINDOW,
                     "samples": rules.DEAD_SAMPLES, "rare": rules.DEAD_RARE_FIRING,
                     "confidence": rules.DEAD_CONFIDENCE, "fitted": rules.FITTED_LEVEL,
                     "level": rules.PLATEAU_LEVEL},
         causes=(P.VANISHING_GRADIENTS, P.SLOW_CONVERGENCE, P.UNDERFITTING)),
    Rule(P.VANISHING_GRADIENTS,
         (Detector("vanishing_gradients", "probe", lambda e: rules.vanishing_gradients(
             e.probes, e.batch_size), gate=_symptoms),
          Detector("vanishing_gradients (hidden softmax)", "setup",
                   lambda e: checks.hidden_softmax(e.layers))),
         ("relu", "he_init", "batchnorm"),
         treat_rank=14,
         signal="RMS weight gradient of the first layer / of the last layer; before the first step, a "
                "softmax over a hidden layer's units that feeds the next Linear layer",
         threshold="< {ratio:g} (critical < {critical:g}), with at least 3 weighted layers; any hidden "
                   "softmax",
         window="2 consecutive probes; when two batches hold fewer than {samples} samples, the root mean "
                "square over as many probes as hold them; before the first step (hidden softmax)",
         why="backpropagation multiplies one derivative per layer; small ones (sigmoid's is at most 1/4) "
             "shrink the gradient geometrically toward the input",
         thresholds={"ratio": rules.VANISHING_RATIO, "critical": rules.VANISHING_CRITICAL,
                     "samples": rules.DEAD_SAMPLES},
         causes=(P.SLOW_CONVERGENCE, P.UNDERFITTING)),
    Rule(P.UNSTABLE_LOSS,
         (Detector("unstable_loss (diverged)", "loss", lambda e: rules.diverged(
             e.losses, e.chance_loss, start=e.start, batch_size=e.batch_size)),
          Detector("unstable_loss", "loss", lambda e: rules.unstable_loss(
              e.losses, e.start20, e.recent, batch_size=e.batch_size, chance_loss=e.chance_loss),
                   unless=("unstable_loss",)),
          Detector("unstable_loss (validation)", "epoch", lambda e: rules.oscillating_validation(
              e.epoch_logs, e.samples)),
          Detector("unstable_loss (collapse)", "epoch", lambda e: rules.collapsing_validation(
              e.epoch_logs, e.samples, best=e.best))),
         ("lower_lr", "clip_gradients", "adam"),
         treat_rank=16,
         signal="moving average ({ema} steps, or {smooth} samples when the batches are smaller) of the "
                "training loss; validation accuracy by epoch",
         threshold="> {factor:g} x its lowest value so far (the untrained model's loss counting as the "
                   "first) and back more than half-way to its start (or a blind guess's); or validation "
                   "accuracy swinging up and down {swings} times in a row (2 drops) by >= {swing:.1f} and "
                   "3 x its sampling noise; or falling >= {swing:.1f} below its best while the epoch "
                   "training loss rose 3 epochs in a row",
         window="{ema} steps (any step since the rule last ran); 4 epochs",
         why="steps too large overshoot the minimum and climb the other side",
         thresholds={"ema": rules.LOSS_EMA_STEPS, "smooth": rules.LOSS_SMOOTH_SAMPLES,
                     "factor": rules.UNSTABLE_FACTOR, "swings": rules.SWINGS, "swing": rules.SWING}),
    Rule(P.DROPOUT_TOO_HIGH,
         (Detector("dropout_too_high", "loss", lambda e: rules.dropout_too_high(
             e.losses, e.dropout_rates, e.chance_loss), gate=_loss_still_high),
          Detector("dropout_too_high (ended short)", "loss", lambda e: rules.dropout_ended_short(
              e.losses, e.dropout_rates, e.steps_left, e.start, batch_size=e.batch_size,
              chance_loss=e.chance_loss, epoch_logs=e.epoch_logs, samples=e.samples, attainable=e.attainable),
              unless=("dropout_too_high",))),
         ("lower_dropout",),
         treat_rank=18,
         signal="the model's largest dropout rate, or its rates taken together when these reach {near:.2f} "
                "(1 - the product of 1 - rate: the one rate whose noise equals theirs one after another), "
                "and the training loss against a blind guess's (ln C for C classes; else the starting "
                "loss)",
         threshold="rate >= {rate:.1f} and loss > {level:.0%} of that level after {steps} steps ({half} "
                   "from a rate of {near:.2f}); or rate >= {rate:.1f} and, at the run's end, the loss still "
                   "falling and the training accuracy short of a nearest-neighbour vote's by {gap:.0%} and "
                   "twice their noise (case ended_short)",
         window="{steps} steps ({half} at rates >= {near:.2f}); or the whole run",
         why="dropping nearly every unit leaves too little signal to fit even the training data (1.0 = "
             "learn nothing), or to fit it in the steps the run has",
         thresholds={"rate": rules.DROPOUT_RATE, "level": rules.PLATEAU_LEVEL, "steps": rules.PLATEAU_STEPS,
                     "half": rules.PLATEAU_STEPS // 2, "near": rules.DROPOUT_NEAR_TOTAL,
                     "gap": rules.OVERFIT_GAP},
         causes=(P.SLOW_CONVERGENCE, P.UNDERFITTING)),
    Rule(P.BATCHNORM_STATISTICS,
         (Detector("batchnorm_statistics", "epoch", lambda e: rules.batchnorm_statistics(
             e.batchnorm, e.steps, e.chance_loss or _run_start(e), steps_left=e.steps_left)),
          Detector("batchnorm_statistics (momentum 0)", "setup", lambda e: checks.frozen_batchnorm(
              e.batchnorm_momenta))),
         ("update_batchnorm_statistics", "recompute_batchnorm_statistics"),
         treat_rank=22,
         signal="at each epoch's end, on up to {rows} training rows with the same weights: the loss with "
                "batch normalization's running statistics (evaluation mode) against the loss with each "
                "batch's own (training mode), dropout off in both; before the first step, each batch "
                "normalization's momentum",
         threshold="> {factor:g} x and more than {fitted:.0%} of a blind guess's loss (else the start's) "
                   "apart, once the running statistics have forgotten their initial values ((1 - "
                   "momentum)^steps < {forgotten:g}), never update them (momentum 0), or at the run's end "
                   "still have not; a momentum of 0 alone, before the first step",
         window="2 consecutive epochs (the momentum: before the first step)",
         why="validation and predictions normalize with the running statistics; statistics that do not "
             "describe the training batches (never updated, or batches unlike one another) make a model "
             "that trains well predict badly, on its own training data too",
         thresholds={"rows": TRAINING_ROWS, "factor": rules.UNSTABLE_FACTOR, "fitted": rules.FITTED_LEVEL,
                     "forgotten": rules.STATS_FORGOTTEN},
         causes=(P.OVERFITTING,)),
    Rule(P.OVERFITTING,
         (Detector("overfitting", "epoch", lambda e: rules.overfitting(
             e.epoch_logs[-rules.OVERFIT_EPOCHS:], e.samples, e.first_epoch, best=e.best,
             parameters=e.parameters, reference=e.chance_loss or _run_start(e)),
                   gate=_not_validating_on_training),
          Detector("overfitting (memorized)", "epoch", lambda e: rules.memorized(
              e.epoch_logs[-rules.OVERFIT_EPOCHS:], e.samples, parameters=e.parameters,
              chance_loss=e.chance_loss, majority=_majority_share(e)),
                   gate=_not_validating_on_training, unless=("overfitting",)),),
         ("dropout", "weight_decay", "early_stopping"),
         treat_rank=19,
         signal="validation loss by epoch, against its running minimum, while the training loss does not "
                "rise with it; the generalization gap (train accuracy - validation accuracy, else the "
                "validation loss's excess over the training loss, relative)",
         threshold="> {rise:.0%} above its minimum for {epochs} consecutive epochs, the training loss below "
                   "its value then + {rise:.0%} of that minimum (or the validation accuracy >= {swing:.1f} "
                   "and 3 x its noise below its best for {epochs} epochs, the training loss not rising over "
                   "them), the training loss not rising over the window by {rise:.0%} of it either, and over "
                   "those epochs a gap >= {gap:.2f} and >= twice the accuracies' sampling noise "
                   "(Agresti-Coull); never when the validation data is the training data, nor for a model "
                   "with fewer parameters than {capacity:.0%} of its training samples, nor while the "
                   "validation loss is at most {fitted:.0%} of a blind guess's (else of the start); or, for "
                   "{epochs} epochs, the training loss at most {fitted:.0%} of a blind guess's and the "
                   "validation loss at or above it, a validation accuracy (when logged) no better than the "
                   "commonest class's share (memorized)",
         window="{epochs} epochs",
         why="the network memorizes its training data instead of generalizing: it does better on what it "
             "has seen than on what it has not (a gap of a few points and a wobbling validation loss are "
             "ordinary in healthy runs)",
         thresholds={"rise": rules.OVERFIT_RISE, "epochs": rules.OVERFIT_EPOCHS, "gap": rules.OVERFIT_GAP,
                     "swing": rules.SWING, "capacity": rules.OVERFIT_CAPACITY, "fitted": rules.FITTED_LEVEL}),
    Rule(P.UNDERFITTING,
         (Detector("underfitting", "loss", lambda e: rules.underfitting(
             e.losses, e.update_ratios, e.start, chance_loss=e.chance_loss, batch_size=e.batch_size,
             epoch_logs=e.epoch_logs, samples=e.samples, attainable=e.attainable,
             attainable_error=e.attainable_error, steps_left=e.steps_left, step_fall=e.step_fall,
             diagnosed=e.recipe_problems),
                   gate=_dropout_not_near_total, unless=("unstable_loss", "exploding_gradients")),),
         ("widen", "train_longer"),
         treat_rank=20,
         signal="the training loss's trend; the training accuracy against a k-nearest-neighbour vote's "
                "(leave-one-out, on up to {rows} training rows), else the loss against a blind guess's "
                "(else its start); the largest update-to-weight ratio; the generalization gap",
         threshold="after {steps} steps (or at the end of a shorter run): stopped falling (< {fall:.0%} and"
                   " twice its noise over {plateau} steps, not rising; nor falling at >= {fall:.0%} per "
                   "{plateau} steps beyond twice its noise between the two halves of the last {steps} "
                   "steps, a pace that over the steps left would take it below {plateau_level:.0%} of where"
                   " it stands), having been below {plateau_level:.0%} of its start; ratios in {slow:g} - "
                   "{ratio:g} (below {slow:g} too once they have shrunk to {converged:g} of the first "
                   "probed ones: a stationary point, unless dead units or a diverged loss were diagnosed "
                   "first); no gap >= {gap:.2f}; and the training (or validation, if higher) accuracy >= "
                   "{gap:.2f} and twice the noise below a nearest-neighbour vote's on the training rows (a "
                   "classification whose inputs and targets the doctor has); for a regression under a "
                   "squared error, once the halves of the last {steps} steps are within {fall:.0%} of each "
                   "other, the loss over the targets' variance >= {factor:g} x and >= {fitted:.2f} and "
                   "twice the noise above a nearest-neighbour average's leave-one-out error on the training"
                   " rows; else the loss > {level:.0%} of a blind guess's; or, once stalled (or falling "
                   "only toward a blind guess's loss, from above it), the vote and the model both within "
                   "twice the vote's noise of guessing the commonest class (the labels are unpredictable); "
                   "not under dropout >= {dropout:.1f} (dropout_too_high's)",
         window="{plateau} steps; 2 probes; the latest epoch",
         why="gradients and steps are healthy yet the model fits its own data no better than unseen data "
             "and far from a fit: too little capacity or too few steps (or labels too noisy to fit)",
         thresholds={"steps": rules.UNDERFIT_WINDOWS * rules.PLATEAU_STEPS, "fall": rules.PLATEAU_FALL,
                     "plateau": rules.PLATEAU_STEPS, "level": rules.UNDERFIT_LEVEL,
                     "plateau_level": rules.PLATEAU_LEVEL, "slow": rules.SLOW_UPDATE,
                     "ratio": rules.EXPLODING_UPDATE_RATIO, "gap": rules.OVERFIT_GAP,
                     "converged": rules.CONVERGED_STEP,
                     "rows": checks.ATTAINABLE_ROWS, "dropout": rules.DROPOUT_RATE,
                     "factor": rules.UNSTABLE_FACTOR, "fitted": rules.FITTED_LEVEL}),
    Rule(P.SLOW_CONVERGENCE,
         (Detector("slow_convergence", "loss", lambda e: rules.slow_convergence(
             e.losses, e.start, batch_size=e.batch_size, chance_loss=e.chance_loss, steps_left=e.steps_left),
              gate=_stall_unexplained, gate_after=True),
          Detector("slow_convergence (steps)", "loss", lambda e: rules.slow_steps(
              e.losses, e.update_ratios, e.start), gate=_stall_unexplained, gate_after=True,
              unless=("slow_convergence",)),
          Detector("slow_convergence (unfinished)", "loss", lambda e: rules.unfinished(
              e.losses, e.start, movement=e.movement, steps_left=e.steps_left, chance_loss=e.chance_loss,
              batch_size=e.batch_size), gate=_stall_unexplained, gate_after=True,
              unless=("slow_convergence",)),
          Detector("slow_convergence (rate decayed)", "loss", lambda e: rules.rate_decayed(
              e.losses, e.rates, e.recent_update_ratios, e.start, batch_size=e.batch_size,
              chance_loss=e.chance_loss, epoch_logs=e.epoch_logs, samples=e.samples, attainable=e.attainable),
              gate=_no_other_cause, gate_after=True, unless=("slow_convergence",)),
          Detector("slow_convergence (ended short)", "loss", lambda e: rules.ended_short(
              e.losses, e.steps_left, e.start, batch_size=e.batch_size, chance_loss=e.chance_loss,
              epoch_logs=e.epoch_logs, samples=e.samples, attainable=e.attainable),
              gate=_no_other_cause, gate_after=True, unless=("slow_convergence",)),
          Detector("slow_convergence (steps not taken)", "stop", lambda e: rules.steps_not_taken(
              e.backward_passes, e.steps))),
         ("higher_lr", "adam", "batchnorm"),
         treat_rank=21,
         signal="relative fall of the loss moving average over the last {plateau} steps, and the loss "
                "against its starting value; or the largest update-to-weight ratio of any layer (a fixed "
                "learning rate) and the loss against its start; or, against the steps the run has left "
                "(at its end, or as fit plans it), the weights' total movement (the largest update ratio "
                "summed over the steps) or the loss's pace against a blind guess's loss",
         threshold="< {fall:.0%} fall (and no rise beyond {fall:.0%} and twice its noise, over the window "
                   "or since the start) while still > {level:.0%} of the starting loss, never below it "
                   "since, unless it still falls beyond twice its noise at a pace that, kept over the "
                   "steps the run has left, would take it below {level:.0%}; or every layer's ratio < "
                   "{slow:g} while the loss is still (and always was) > "
                   "{level:.0%} of its start; or the loss still (and always) > {level:.0%} of its start "
                   "while the weights, at their pace, will have moved by < {moved:.0%} of their size by the "
                   "run's end; or the loss above a blind guess's (ln C; a regression's: predicting the "
                   "targets' mean), its fall over the last quarter of the run >= {pace:.0%} of its mean "
                   "per quarter, and that pace kept to the run's end still leaving it above (at the end "
                   "of a run too short for one window, read on its >= {short} steps); not named when "
                   "dropout >= {dropout:.1f} or a problem that lowers the rate explains the stall; "
                   "or the learning rate cut to <= 1/{decayed:g} of its start, the last 2 probes' "
                   "ratios < {slow:g} and the loss stalled short of a fit (as underfitting judges it); "
                   "or, at the run's end, the loss still falling and the training accuracy short of a "
                   "nearest-neighbour vote's by {gap:.0%} and twice their noise; "
                   "or, at the run's end, >= {stepless} losses back-propagated outside the optimizer's "
                   "steps and at most one step in all (a hand-written loop's count); or, in a PyTorch loop, "
                   "no tensor the optimizer holds with a gradient at any of its first {gradless} steps "
                   "(case steps_without_gradients)",
         window="{plateau} steps; or 2 probes; or the whole run",
         why="a plateau: steps too small (or gradients too weak) to move the loss; at 1e-4 of the weights "
             "per step (healthy runs: 1e-3 to 1e-2), 1000 steps change them by 10 % at most; or a run "
             "too short for its steps: it ends before the weights could move, or still descending at "
             "full pace far above any fit",
         thresholds={"plateau": rules.PLATEAU_STEPS, "fall": rules.PLATEAU_FALL, "level": rules.PLATEAU_LEVEL,
                     "slow": rules.SLOW_UPDATE, "dropout": rules.DROPOUT_RATE,
                     "moved": rules.UNFINISHED_MOVEMENT, "pace": rules.PACE_KEPT,
                     "stepless": rules.STEPLESS_BACKWARDS, "short": rules.SHORT_RUN_STEPS,
                     "decayed": rules.RATE_DECAYED, "gap": rules.OVERFIT_GAP,
                     "gradless": rules.CARRY_CHECKS + 1}),
)
del P

PROBLEMS: tuple[str, ...] = tuple(rule.problem.value for rule in TABLE)
CAUSAL_ORDER = PROBLEMS  # the table's order: causes before their consequences
TREATMENT_ORDER: dict[str, tuple[str, ...]] = {rule.problem.value: rule.remedies for rule in TABLE}
CONSEQUENCES: dict[str, tuple[str, ...]] = {rule.problem.value: tuple(p.value for p in rule.causes)
                                            for rule in TABLE if rule.causes}
# the setup's problems: rows whose first detector runs before the first step (their other detectors, if
# any, watch the run for the same fault); a run problem that a static check can also see early (a hidden
# softmax's vanishing gradients) lists that check after its own
SETUP_PROBLEMS: tuple[str, ...] = tuple(rule.problem.value for rule in TABLE
                                        if rule.detectors[0].family == "setup")
TREATMENT_PRIORITY: tuple[str, ...] = tuple(rule.problem.value
                                            for rule in sorted(TABLE, key=lambda rule: rule.treat_rank))
RULES: list[dict[str, str]] = [rule.doc() for rule in TABLE]
HELD_UNTIL_HARM: frozenset[str] = frozenset(rule.problem.value for rule in TABLE if rule.until_harm)


def held_until(finding: Finding) -> str | None:
    """How a setup finding waits for the run to show its cost before it is named: ``"scale"`` (a row
    held until harm: released when the losses show what the scale costs, ``rules.scale_cost``, dropped
    when they show none), ``"consequence"`` (a finding whose cost depends on the run, marked
    ``until_consequence`` in its evidence: released when one of its consequences, ``CONSEQUENCES``, is
    found, and never named otherwise), or None (named at the first step)."""
    if finding.problem in HELD_UNTIL_HARM:
        return "scale"
    return "consequence" if finding.evidence.get("until_consequence") else None
_BY_FAMILY: dict[str, tuple[Detector, ...]] = {
    family: tuple(d for rule in TABLE for d in rule.detectors if d.family == family) for family in FAMILIES}


def rule_for(problem: str) -> Rule:
    """The table's row for ``problem`` (an id or a ``Problem``)."""
    return TABLE[PROBLEMS.index(Problem(problem).value)]


def detectors(family: str) -> tuple[Detector, ...]:
    """The detectors a check of ``family`` runs, in table order."""
    if family not in _BY_FAMILY:
        raise ValueError(f"rules table: unknown family {family!r}; expected one of {FAMILIES}")
    return _BY_FAMILY[family]


def _call(detector: Detector, evidence: Evidence) -> list[Finding]:
    return detector.detect(evidence)


def run(family: str, evidence: Evidence,
        call: Callable[[Detector, Evidence], list[Finding]] = _call) -> list[Finding]:
    """One check: the findings of every detector of ``family`` on ``evidence``, in table order.
    ``call(detector, evidence)`` runs one detector (the doctor's skips one that raised before)."""
    found: list[Finding] = []
    for detector in detectors(family):
        if detector.unless and any(f.problem in detector.unless for f in found):
            continue
        if detector.gate is not None and not detector.gate_after and not detector.gate(evidence, found):
            continue
        new = call(detector, evidence)
        if new and detector.gate is not None and detector.gate_after and not detector.gate(evidence, found):
            continue
        if detector.final and new:
            return found + list(new)  # what earlier rows (causes) found stands; later ones are skipped
        found += new
    return found


def _markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def rules_markdown() -> list[str]:
    """The rules table's rows as Markdown (docs/doctor.md's table of problems and signals)."""
    return [_markdown_row([f"`{row['problem']}`", row["signal"], row["threshold"], row["window"], row["why"]])
            for row in RULES]


def remedies_markdown(descriptions: Mapping[str, str]) -> list[str]:
    """Each problem's remedies, in the order tried, as Markdown rows (| problem | remedies |)."""
    return [_markdown_row([f"`{rule.problem.value}`", "; ".join(f"`{r}`: {descriptions[r]}"
                                                                  for r in rule.remedies)])
            for rule in TABLE]
