"""What the command line concludes from a finished run: whether it trained at all, and the spec
that reproduces a repaired run's final recipe (``--save-spec``)."""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np


@functools.cache
def _spec_kinds() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """From the spec's own kinds: the layer type for each layer class a spec can build (and the
    doctor's remedies insert), the one option of a layer class that has one (Linear's units and
    init are handled apart), and the optimizer name for each optimizer class."""
    from retroprop.spec import LayerSpec, OptimizerSpec

    layer_types = {kind.builds.__name__: tag for tag, kind in LayerSpec._kinds.items()}
    layer_options = {}
    for tag, kind in LayerSpec._kinds.items():
        options = [name for name in kind.__dataclass_fields__ if name != LayerSpec._key]
        if tag != "linear" and len(options) == 1:
            layer_options[kind.builds.__name__] = options[0]
    optimizers = {kind.builds.__name__: tag for tag, kind in OptimizerSpec._kinds.items()}
    return layer_types, layer_options, optimizers


_LR_REMEDIES = ("lower_lr", "higher_lr", "adam")
_HE_REMEDIES = ("relu", "he_init")  # both leave every Linear layer with He (Kaiming) normal weights


# ---------------------------------------------------------------------------------------------
# Did the run train?
# ---------------------------------------------------------------------------------------------
def chance_loss(loss: str, n_classes: int) -> float | None:
    """The loss of a blind guess: ln C for C-class cross-entropy (and NLL), ln 2 for a binary loss,
    (C - 1) / C² for the squared error on one-hot targets (the uniform guess 1/C); None otherwise."""
    from retroprop.training import LOSSES

    kind = getattr(LOSSES.get(loss), "__name__", "")
    if kind in ("CrossEntropyLoss", "NLLLoss") and n_classes > 1:
        return math.log(n_classes)
    if kind == "BCEWithLogitsLoss":
        return math.log(2.0)
    if kind == "MSELoss" and n_classes > 1:
        return (n_classes - 1) / n_classes**2
    return None


def training_failure(history: Any, chance: float | None) -> str | None:
    """Why the run is not a trained model, or None when it may be one.

    A run failed when it stopped for any reason but early stopping or a Ctrl-C (non-finite values,
    an overflow, the doctor out of remedies, a broken learning rate); when its final training loss
    (the last epoch's mean) is NaN or Inf; or when that loss ended above where it started *and* above
    the chance level. The start is the first step's loss: the untrained model's, measured before any update (a
    mean over later steps would already include a divergence that began at the first update). The
    chance level is a blind guess's loss (``chance_loss``; skipped when unknown). A model whose loss
    is above both is worse than it was before training and worse than guessing: not trained,
    whatever its accuracy.
    """
    reason = getattr(history, "stop_reason", None)
    # early stopping and a Ctrl-C end a healthy run on purpose: their model is judged by its loss
    if reason and not reason.startswith(("early stopping", "interrupted")):
        return f"the run stopped: {reason}"
    final = history.history.get("loss", [])
    if not final:
        return "the run recorded no training loss"
    end = float(final[-1])
    if not math.isfinite(end):
        return f"the training loss ended at {end}: the run diverged"
    steps = np.asarray(history.step_loss, dtype=np.float64)
    if not steps.size or not math.isfinite(steps[0]):
        return "the untrained model's loss was not finite: the run diverged from its first step"
    start = float(steps[0])
    if end > start and (chance is None or end > chance):
        against = "" if chance is None else f" and above a blind guess's {chance:.4g}"
        return (f"the training loss ended at {end:.4g}, above the untrained model's {start:.4g}{against}: "
                "training made the model worse (it diverged)")
    return None


# ---------------------------------------------------------------------------------------------
# The spec of the repaired run
# ---------------------------------------------------------------------------------------------
def corrected_spec(spec: dict[str, Any], history: Any, treatments: Sequence[Any],
                   clip_grad_norm: float | None = None) -> tuple[dict[str, Any], list[str]]:
    """The spec (as ``spec.to_dict()`` gives it) with the applied treatments' remedies in it, and
    notes: what each treatment did, and what a spec cannot express.

    The layers and the optimizer are read from the run's final state (``history.model``,
    ``history.params``); the rest follows from which remedies were applied.
    """
    out = copy.deepcopy(spec)
    applied = [t for t in treatments if getattr(t, "applied", False) and getattr(t, "remedy", None)]
    remedies = [t.remedy for t in applied]
    notes = [f"{t.problem} -> {t.remedy}: {t.description}" for t in applied]
    if not applied:
        return out, notes
    layers, standardized = _layers(history.model, spec, he=any(r in _HE_REMEDIES for r in remedies))
    out["model"] = {**spec["model"], "layers": layers}
    if standardized:
        out["data"] = {**spec["data"], "standardize": True}
    optimizer = history.params.get("optimizer")
    if optimizer is not None and any(r in (*_LR_REMEDIES, "weight_decay") for r in remedies):
        out["optimizer"], note = _optimizer(spec["optimizer"], optimizer, history.params.get("scheduler"),
                                            remedies)
        notes += note
    if "early_stopping" in remedies:
        best = getattr(history, "best", None)
        if best is not None:
            out["epochs"] = int(best.epoch) + 1
            notes.append(f"epochs: {spec.get('epochs')} -> {out['epochs']}, the epoch whose weights early "
                         "stopping kept")
    if "clip_gradients" in remedies and clip_grad_norm is not None:
        notes.append(f"gradient clipping to a global norm of {clip_grad_norm:g} cannot be written in a spec "
                     "yet (no field for it): the re-run trains without it")
    return json.loads(json.dumps(out)), notes


def _layers(model: Any, spec: dict[str, Any], *, he: bool) -> tuple[list[Any], bool]:
    """The spec's layer list for the final model, and whether it starts with a Standardize layer
    (the doctor's standardize_inputs remedy: the spec's ``data.standardize``)."""
    original = list(spec["model"]["layers"])
    linears = [layer for layer in original if _type(layer) == "linear"]
    modules = list(model)
    standardized = bool(modules) and type(modules[0]).__name__ == "Standardize"
    if standardized:
        modules = modules[1:]
    if modules and getattr(modules[-1], "unstandardizes", False):
        raise ValueError("the repaired model maps standardized predictions back to the targets' units (the "
                         "doctor's standardize_targets), which a spec cannot describe yet; standardize the "
                         "targets in the data file instead")
    modules = [m for m in modules if type(m).__name__ != "Identity"]  # a removed output activation
    if modules and type(modules[-1]).__name__ == "LogSoftmax" and spec.get("loss") in ("nll", "nll_loss"):
        modules = modules[:-1]  # the spec adds it for an NLL loss
    layer_types, layer_options, _ = _spec_kinds()
    layers: list[Any] = []
    count = sum(type(m).__name__ == "Linear" for m in modules)
    seen = 0
    for module in modules:
        name = type(module).__name__
        if name not in layer_types:
            raise ValueError(f"the repaired model has a {name} layer, which a spec cannot describe")
        layer: dict[str, Any] = {"type": layer_types[name]}
        if name == "Linear":
            before = linears[seen] if seen < len(linears) and isinstance(linears[seen], dict) else {}
            seen += 1
            if seen < count:
                layer["units"] = int(module.out_features)
            elif before.get("units") is not None:
                layer["units"] = before["units"]
            init = "he_normal" if he else before.get("init")
            if init is not None:
                layer["init"] = init
        elif name in layer_options:
            value = getattr(module, layer_options[name])
            layer[layer_options[name]] = float(value) if isinstance(value, float) else value
        layers.append(layer)
    return layers, standardized


def _type(layer: Any) -> str:
    return layer if isinstance(layer, str) else layer.get("type", "")


def _optimizer(before: dict[str, Any], optimizer: Any, scheduler: Any,
               remedies: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The spec's optimizer section after learning-rate, optimizer and weight-decay remedies."""
    notes: list[str] = []
    group = optimizer.param_groups[0]
    name = _spec_kinds()[2].get(type(optimizer).__name__, before["name"])
    out = dict(before) if name == before["name"] else {"name": name, "lr": before["lr"]}
    if any(r in _LR_REMEDIES for r in remedies):
        if scheduler is None:
            out["lr"] = float(group["lr"])
        elif getattr(scheduler, "base_lrs", None):
            out["lr"] = float(scheduler.base_lrs[0])  # the schedule's base, which a treatment rescales
        else:  # ReduceLROnPlateau lowers the rate itself, so the final rate mixes both
            out["lr"] = float(group["lr"])
            notes.append("optimizer.lr: the rate the run ended with, which the plateau schedule had lowered "
                         "too; the treated starting rate was higher")
    if "weight_decay" in remedies and "weight_decay" in group:
        out["weight_decay"] = float(group["weight_decay"])
    return out, notes


def spec_text(spec: dict[str, Any], suffix: str, notes: Sequence[str], source: str) -> str:
    """The spec as YAML (with the notes as comments) or as JSON (``suffix`` ``.json``)."""
    if suffix == ".json":
        return json.dumps(spec, indent=2) + "\n"
    import yaml

    header = [f"# written by retroprop from {source}"]
    if notes:
        header.append("# the doctor's treatments, applied to the spec:")
        header += [f"#   {line}" for note in notes for line in note.splitlines()]
    return "\n".join(header) + "\n" + yaml.safe_dump(spec, sort_keys=False, default_flow_style=False)
