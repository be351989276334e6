"""What the doctor says: the ``Diagnosis`` record and the remedies, in plain words."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from retroprop.doctor.rules import Finding
from retroprop.doctor.table import CAUSAL_ORDER, CONSEQUENCES, PROBLEMS, SETUP_PROBLEMS, TREATMENT_ORDER

# the problems, their causal order, consequences and remedies: derived from the rules table
__all__ = ["CASE_CONSEQUENCES", "CASE_REMEDIES", "CAUSAL_ORDER", "CONSEQUENCES", "OUTPUT_CASE_REMEDY",
           "PROBLEMS", "REMEDIES", "SETUP_PROBLEMS", "TREATMENT_ORDER", "USER_REMEDIES", "Diagnosis",
           "consequences_of"]

# remedy id -> one line a learner can act on
REMEDIES: dict[str, str] = {
    "relu": "use ReLU activations: their derivative is 1 for active units, so gradients do not shrink",
    "he_init": "initialize weights with He (Kaiming) scaling, which keeps activations' variance per layer",
    "batchnorm": "insert a batch norm after the hidden Linear and Conv layers to keep pre-activations "
                 "centred and scaled",
    "lower_lr": "lower the learning rate (e.g. by 10x): smaller steps do not overshoot or push units "
                "below zero for good",
    "clip_gradients": "clip the global gradient norm (nn.utils.clip_grad_norm_) so one step cannot blow up",
    "leaky_relu": "use LeakyReLU: negative inputs still pass a small gradient, so units can recover",
    "standardize_inputs": "standardize the inputs (zero mean, unit variance per feature)",
    "roll_back": "roll back to the last healthy weights before the NaN/Inf appeared",
    "adam": "switch to Adam, which scales each parameter's step by its gradient history",
    "higher_lr": "raise the learning rate (e.g. by 3-10x): the loss is moving too slowly",
    "dropout": "add dropout (rate 0.2-0.5) before the hidden layers to regularize",
    "weight_decay": "add L2 weight decay (e.g. 1e-4) to the optimizer",
    "early_stopping": "stop at the best validation epoch (EarlyStopping with restore_best_weights)",
    "lower_dropout": "lower the dropout rate (e.g. to 0.1-0.3): at rates near 1.0 the network cannot "
                     "even fit its training data",
    "fix_output_loss": "make the output layer fit the loss: remove a softmax or sigmoid that the loss "
                       "applies itself, end with LogSoftmax for an NLL loss",
    "match_output_width": "give the output layer one unit per class for cross-entropy, or one unit for "
                          "a binary loss on 0/1 labels",
    "classification_loss": "use cross-entropy on class scores for class labels (a binary loss only for "
                           "two classes)",
    "multilabel_loss": "for several labels per sample, one sigmoid output per label with binary "
                       "cross-entropy (softmax and categorical cross-entropy score one class per sample)",
    "differentiable_loss": "compute the loss from the model's raw outputs with a library loss (cross-entropy "
                           "on logits, mse): one that clips, rounds, compares or detaches them passes no "
                           "gradient, and a log of outputs that are no probabilities is undefined",
    "per_sample_loss": "score each sample from its own outputs and target, then average (or sum) over the "
                       "batch: a softmax normalized over each row's class scores (axis=-1), outputs and "
                       "targets of the same shape",
    "regression_loss": "measure a regression with a loss that is smallest where the predictions equal the "
                       "targets (mse, l1, huber): a log loss or a clipped one on a regression's output "
                       "falls while the predictions stray from the targets",
    "linear_output": "end a regression with a linear output, or scale the targets into the output's range",
    "match_target_shape": "give the targets the output's shape (y.view(-1, 1) for one output, or "
                          "out.squeeze(1)): an elementwise loss broadcasts (N, 1) against (N,) to (N, N) and "
                          "scores every prediction against every target",
    "register_layers": "keep layers in nn.ModuleList, nn.ModuleDict or nn.Sequential (or as attributes), "
                       "not in a plain Python list or dict, and build the optimizer from model.parameters() "
                       "once the model is complete",
    "build_optimizer": "build the optimizer on model.parameters() of the model you train, after creating it "
                       "for the last time (an optimizer of an earlier instance, or of a copy, steps tensors "
                       "the model no longer uses)",
    "insert_activation": "insert a ReLU between Linear (or convolution) layers that have no activation "
                         "between them",
    "standardize_targets": "train on standardized regression targets ((y - mean) / std) and undo the "
                           "scaling at prediction time",
    "widen": "give the model more capacity (wider or more hidden layers)",
    "train_longer": "train for more steps (more epochs) before judging the model",
    "larger_batch": "raise the batch size (e.g. to 32): each step then follows the data, not a few samples",
    "match_validation": "preprocess the validation and test inputs exactly as the training inputs (the "
                        "same scaling, mean and std), and split shuffled data so that both sets hold the "
                        "same classes",
    "fix_targets": "build the training targets from the data's labels again (a scaling, cast or overwrite "
                   "made them one value): every class or value to predict must be among them",
    "align_labels": "check that each label stays with its own input (shuffle inputs and labels with one "
                    "permutation, read them from the same rows) and that they are the labels meant: the "
                    "inputs do not predict them",
    "slower_decay": "decay the learning rate more slowly (a smaller decay, a later or gentler schedule) "
                    "or not at all, so that it stays large enough to move the weights until the loss has "
                    "fitted the data",
    "lower_weight_decay": "lower the weight decay (e.g. 100x, to 1e-4 or less): the penalty should trim "
                          "the weights, not outweigh what the data asks of them",
    "shuffle": "draw the training samples in a new random order each epoch (fit's shuffle=True, a "
               "DataLoader's shuffle=True), so that every batch mixes the classes",
    "step_after_backward": "call optimizer.step() after each loss.backward(), inside the loop over batches "
                           "(and optimizer.zero_grad() before the next backward)",
    "descend": "step against the gradient: maximize=False in the optimizer, and a hand-written update "
               "subtracts the gradient (w -= lr * grad)",
    "update_batchnorm_statistics": "let batch normalization update its running statistics (momentum "
                                   "0.1, not 0; in TensorFlow 1, run the UPDATE_OPS with each step), and "
                                   "train on shuffled batches of more than a few samples, so that they "
                                   "describe the data",
    "connect_loss": "compute the loss from the model's outputs as they are (no .data, .detach(), .item() or "
                    "new tensor made from them, which cut the graph backward follows), and clear the "
                    "gradients before loss.backward(), not between it and optimizer.step()",
    "clear_gradients": "clear the gradients once per step: optimizer.zero_grad() before each "
                       "loss.backward(), inside the loop over batches (backward adds to what .grad holds)",
    "evaluation_mode": "evaluate the model in evaluation mode (model.eval() before the validation pass, "
                       "model.train() after it), with every dropout following the module's mode "
                       "(F.dropout(x, p, training=self.training), or nn.Dropout; no mode flag of the model's "
                       "own that eval() does not switch)",
    "recompute_batchnorm_statistics": "recompute batch normalization's running statistics on the training "
                                      "data after training (a forward pass over it in training mode, "
                                      "without gradients, averaging each batch's statistics: "
                                      "torch.optim.swa_utils.update_bn), so that evaluation normalizes "
                                      "as the trained weights expect",
}

# loss_output_mismatch's remedy by the case ``checks`` found (any other case: fix_output_loss)
OUTPUT_CASE_REMEDY: dict[str, tuple[str, ...]] = {
    "softmax_one_unit": ("fix_output_loss", "match_output_width"), "one_output": "match_output_width",
    "too_few_outputs": "match_output_width", "binary_output_width": "match_output_width",
    "binary_loss_multiclass": "classification_loss", "binary_targets_out_of_range": "classification_loss",
    "regression_on_labels": "classification_loss", "output_range": ("fix_output_loss", "linear_output"),
    "multilabel_categorical": "multilabel_loss", "no_gradient": "differentiable_loss",
    "loss_undefined": "differentiable_loss", "broadcast_targets": "match_target_shape",
    "rows_coupled": "per_sample_loss",
    "loss_not_fit": "regression_loss", "classes_not_fit": "classification_loss",
    "softmax_row_sums": ("fix_output_loss", "multilabel_loss"),
}
# the remedies of a problem's case, by problem and case (any other case: the rule's remedies)
CASE_REMEDIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("slow_convergence", "steps_not_taken"): ("step_after_backward",),
    ("slow_convergence", "rate_decayed"): ("slower_decay",),
    ("unregistered_parameters", "optimizer_holds_none"): ("build_optimizer",),
    ("underfitting", "unpredictable_labels"): ("align_labels",),
    ("exploding_gradients", "gradients_accumulate"): ("clear_gradients",),
    ("slow_convergence", "steps_without_gradients"): ("connect_loss",),
    ("validation_mismatch", "random_evaluation"): ("evaluation_mode",),
}

# the consequences of a problem's case, where the case causes fewer than its problem's row lists: a
# least-squares loss on class indicators slows learning, but saturates, kills or starves no layer
CASE_CONSEQUENCES: dict[tuple[str, str], tuple[str, ...]] = {
    ("loss_output_mismatch", "regression_on_labels"): ("slow_convergence", "underfitting"),
}


def consequences_of(diagnosis: Diagnosis | Finding) -> tuple[str, ...]:
    """The problems ``diagnosis`` (or a finding) can cause: its case's (``CASE_CONSEQUENCES``), else its
    problem's."""
    case = diagnosis.evidence.get("case") if isinstance(diagnosis.evidence, dict) else None
    return CASE_CONSEQUENCES.get((diagnosis.problem, case), CONSEQUENCES.get(diagnosis.problem, ()))


# remedies that only the user can make (``fit`` cannot change the loss, the targets or the plan for them)
USER_REMEDIES = ("match_output_width", "classification_loss", "linear_output", "multilabel_loss",
                 "match_target_shape", "differentiable_loss", "per_sample_loss", "regression_loss",
                 "train_longer", "larger_batch", "match_validation", "fix_targets", "step_after_backward",
                 "register_layers", "build_optimizer", "align_labels", "slower_decay", "connect_loss",
                 "evaluation_mode")

@dataclass
class Diagnosis:
    """One problem the doctor found: what, where, since when, on what evidence, and the cures.

    Records count from 0 (``step``, ``epoch`` and any step or epoch in ``evidence``, such as
    overfitting's ``best_epoch``); the texts shown to people (``explanation``, ``str``) count from 1.
    ``escalated_from``: set when this diagnosis continues an episode already diagnosed at a milder
    severity (a warning that became critical): the 0-based step of that earlier diagnosis.
    """

    problem: str
    layer: str | None  # dotted module name from named_modules(), or None for the whole model
    step: int  # 0-based step at which it was detected
    epoch: int  # 0-based
    severity: str  # "warning" or "critical"
    evidence: dict[str, Any]
    explanation: str
    layer_label: str | None = None  # e.g. "layer 1, Linear 64→128"
    remedies: list[tuple[str, str]] = field(default_factory=list)
    escalated_from: int | None = None
    # set when this problem follows from another diagnosed in the same run: the root cause's
    # ``problem``, ``layer``, ``layer_label`` and ``step`` (the problem to treat first)
    caused_by: dict[str, Any] | None = None
    # set when the run left this problem by itself, untreated (``Episodes.set_aside``): the step of the
    # run's end and what showed it (``rules.passed_by_itself``: the loss then and at the end)
    passed: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.problem not in PROBLEMS:
            raise ValueError(f"Diagnosis: unknown problem {self.problem!r}; expected one of {PROBLEMS}")
        if self.severity not in ("warning", "critical"):
            raise ValueError(f"Diagnosis: severity must be 'warning' or 'critical', got {self.severity!r}")
        if not self.remedies:
            self.remedies = [(rid, REMEDIES[rid]) for rid in TREATMENT_ORDER[self.problem]]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["remedies"] = [{"id": rid, "description": text} for rid, text in self.remedies]
        return data

    def __str__(self) -> str:
        where = self.layer_label or "the whole model"
        text = (f"[{self.severity}] {self.problem} in {where} (step {self.step + 1}, "
                f"epoch {self.epoch + 1}): {self.explanation}")
        if self.passed is not None:
            return f"{text} It passed by itself by step {self.passed['step'] + 1}, untreated."
        if self.caused_by is not None:
            cause = self.caused_by
            place = cause.get("layer_label") or "the whole model"
            return (f"{text} It follows from {cause['problem']} in {place} (step {cause['step'] + 1}): "
                    "treat that first.")
        return f"{text} Try first: {self.remedies[0][1]}."
