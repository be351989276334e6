"""What the doctor says: the ``Diagnosis`` record and the remedies, in plain words."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PROBLEMS = (
    "vanishing_gradients", "exploding_gradients", "dead_relu", "saturated_activations", "non_finite",
    "unstable_loss", "slow_convergence", "overfitting", "dropout_too_high",
)

# What each problem can cause, by mechanism: steps too large (exploding updates) push units into their
# flat or silent regions and make the loss climb or overflow; units in their flat regions pass almost no
# gradient, so it vanishes; too little gradient (dead or saturated units, vanishing) or too little signal
# (dropout near 1) stalls the loss. A problem found while one of its causes is diagnosed in the same
# recipe is reported as that cause's consequence (``Diagnosis.caused_by``), and the cause is treated.
CONSEQUENCES: dict[str, tuple[str, ...]] = {
    "exploding_gradients": ("non_finite", "unstable_loss", "saturated_activations", "vanishing_gradients",
                            "dead_relu", "slow_convergence"),
    "non_finite": ("unstable_loss",),
    "saturated_activations": ("vanishing_gradients", "slow_convergence"),
    "dead_relu": ("vanishing_gradients", "slow_convergence"),
    "vanishing_gradients": ("slow_convergence",),
    "dropout_too_high": ("slow_convergence",),
}
# causes before their consequences: the order in which problems found together are reported and treated
CAUSAL_ORDER = ("exploding_gradients", "non_finite", "saturated_activations", "dead_relu",
                "vanishing_gradients", "unstable_loss", "dropout_too_high", "overfitting", "slow_convergence")

# remedy id -> one line a learner can act on
REMEDIES: dict[str, str] = {
    "relu": "use ReLU activations: their derivative is 1 for active units, so gradients do not shrink",
    "he_init": "initialize weights with He (Kaiming) scaling, which keeps activations' variance per layer",
    "batchnorm": "insert BatchNorm1d after the linear layers to keep pre-activations centred and scaled",
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
}

# the course page's cure first where it names one
TREATMENT_ORDER: dict[str, tuple[str, ...]] = {
    "vanishing_gradients": ("relu", "he_init", "batchnorm"),
    "exploding_gradients": ("batchnorm", "lower_lr", "clip_gradients", "he_init"),
    "dead_relu": ("lower_lr", "leaky_relu", "he_init"),
    "saturated_activations": ("relu", "batchnorm", "standardize_inputs", "he_init"),
    "non_finite": ("roll_back", "lower_lr", "clip_gradients"),
    "unstable_loss": ("lower_lr", "clip_gradients", "adam"),
    "slow_convergence": ("higher_lr", "adam", "batchnorm"),
    "overfitting": ("dropout", "weight_decay", "early_stopping"),
    "dropout_too_high": ("lower_dropout",),
}


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
        if self.caused_by is not None:
            cause = self.caused_by
            place = cause.get("layer_label") or "the whole model"
            return (f"{text} It follows from {cause['problem']} in {place} (step {cause['step'] + 1}): "
                    "treat that first.")
        return f"{text} Try first: {self.remedies[0][1]}."
