"""Model architectures as JSON: describe a model built from retroprop layers, check a saved
description before anything is allocated, rebuild it, and name the first difference between two.

``describe`` validates a description (known layer classes, known arguments of the right JSON
types, at most ``MAX_LAYERS`` layers) and computes the shape of every weight it implies without
building anything, so a file that claims ``Linear(100000, 100000)`` is refused by counting, not by
running out of memory: at most ``MAX_PARAMETERS`` values, and (checked by the loaders) no more
than the file really holds.
"""

from __future__ import annotations

import inspect
import math
from collections import OrderedDict
from typing import Any

import numpy as np

from retroprop.containers import FileFormatError, json_type

__all__ = ["LAYER_ARGUMENTS", "MAX_LAYERS", "MAX_PARAMETERS", "Layout", "build_model", "describe",
           "first_difference", "model_config"]

MAX_PARAMETERS = 2**31
MAX_LAYERS = 10_000
_MAX_NAME = 200  # characters of a layer's name: messages quote the path of names
_MAX_SHAPE = 8  # axes of a LayerNorm's normalized_shape

# The arguments each layer's get_config saves, with their JSON type. Nothing else is accepted from
# a file (Linear's dtype= or init=, for example, could make object arrays or run code).
LAYER_ARGUMENTS: dict[str, dict[str, str]] = {
    "Linear": {"in_features": "size", "out_features": "size", "bias": "bool"},
    "Flatten": {"start_dim": "int", "end_dim": "int"},
    "Identity": {}, "ReLU": {}, "SELU": {}, "Sigmoid": {}, "Tanh": {},
    "SiLU": {}, "Mish": {}, "Hardswish": {}, "Hardsigmoid": {}, "ReLU6": {}, "Softsign": {}, "LogSigmoid": {},
    "Hardtanh": {"min_val": "float", "max_val": "float"}, "Softplus": {"beta": "float", "threshold": "float"},
    "LeakyReLU": {"negative_slope": "float"},
    "ELU": {"alpha": "float"},
    "GELU": {"approximate": "str"},
    "Softmax": {"dim": "int"},
    "LogSoftmax": {"dim": "int"},
    "Dropout": {"p": "float"},
    **{name: {"num_features": "size", "eps": "float", "momentum": "float or null", "affine": "bool",
              "track_running_stats": "bool", "bias": "bool"} for name in ("BatchNorm1d", "BatchNorm2d")},
    "LayerNorm": {"normalized_shape": "shape", "eps": "non-negative float", "elementwise_affine": "bool",
                  "bias": "bool"},
    "GroupNorm": {"num_groups": "size", "num_channels": "size", "eps": "non-negative float", "affine": "bool",
                  "bias": "bool"},
    "Embedding": {"num_embeddings": "size", "embedding_dim": "size", "padding_idx": "int or null"},
    "Standardize": {"num_features": "size"},
    **{name: {"in_channels": "size", "out_channels": "size", "kernel_size": "sizes", "stride": "sizes",
              "padding": "padding", "dilation": "sizes", "groups": "size", "bias": "bool",
              "padding_mode": "str"}
       for name in ("Conv1d", "Conv2d")},
    **{name: {"kernel_size": "sizes", "stride": "sizes", "padding": "counts", "dilation": "sizes",
              "return_indices": "bool", "ceil_mode": "bool"} for name in ("MaxPool1d", "MaxPool2d")},
    "AvgPool1d": {"kernel_size": "sizes", "stride": "sizes", "padding": "counts", "ceil_mode": "bool",
                  "count_include_pad": "bool"},
    "AvgPool2d": {"kernel_size": "sizes", "stride": "sizes", "padding": "counts", "ceil_mode": "bool",
                  "count_include_pad": "bool", "divisor_override": "int or null"},
    "AdaptiveAvgPool1d": {"output_size": "output size"},
    "AdaptiveAvgPool2d": {"output_size": "output size"},
    **{name: {"in_channels": "size", "out_channels": "size", "kernel_size": "sizes", "stride": "sizes",
              "padding": "counts", "output_padding": "counts", "groups": "size", "bias": "bool",
              "dilation": "sizes"}
       for name in ("ConvTranspose1d", "ConvTranspose2d")},
    "Upsample": {"size": "sizes or null", "scale_factor": "scales or null", "mode": "str",
                 "align_corners": "bool or null", "recompute_scale_factor": "bool or null"},
}

# name -> (shape, kind): kind "float" is the model's dtype, "int64" a counter
Layout = OrderedDict[str, tuple[tuple[int, ...], str]]


def _state_layout(cls_name: str, args: dict[str, Any]) -> list[tuple[str, tuple[int, ...], str]]:
    """The parameters and buffers a layer with these (complete) arguments holds, in its order."""
    if cls_name == "Linear":
        out, inp = args["out_features"], args["in_features"]
        return [("weight", (out, inp), "float")] + ([("bias", (out,), "float")] if args["bias"] else [])
    if cls_name in ("BatchNorm1d", "BatchNorm2d"):
        n = args["num_features"]
        layout = [("weight", (n,), "float")] if args["affine"] else []
        layout += [("bias", (n,), "float")] if args["affine"] and args["bias"] else []
        if args["track_running_stats"]:
            layout += [("running_mean", (n,), "float"), ("running_var", (n,), "float"),
                       ("num_batches_tracked", (), "int64")]
        return layout
    if cls_name in ("LayerNorm", "GroupNorm"):
        affine = args["elementwise_affine" if cls_name == "LayerNorm" else "affine"]
        shape = _shape(args["normalized_shape"]) if cls_name == "LayerNorm" else (args["num_channels"],)
        return ([("weight", shape, "float")] if affine else []) + \
            ([("bias", shape, "float")] if affine and args["bias"] else [])
    if cls_name == "Embedding":
        return [("weight", (args["num_embeddings"], args["embedding_dim"]), "float")]
    if cls_name in ("Conv1d", "Conv2d"):
        kernel = args["kernel_size"]
        kernel = [kernel] * int(cls_name[-2]) if isinstance(kernel, int) else list(kernel)
        out, groups = args["out_channels"], args["groups"]
        shape = (out, args["in_channels"] // groups, *kernel)
        return [("weight", shape, "float")] + ([("bias", (out,), "float")] if args["bias"] else [])
    if cls_name in ("ConvTranspose1d", "ConvTranspose2d"):  # weight (in, out / groups, k...), as torch's
        kernel = args["kernel_size"]
        kernel = [kernel] * int(cls_name[-2]) if isinstance(kernel, int) else list(kernel)
        out, groups = args["out_channels"], args["groups"]
        shape = (args["in_channels"], out // groups, *kernel)
        return [("weight", shape, "float")] + ([("bias", (out,), "float")] if args["bias"] else [])
    if cls_name == "Standardize":
        n = args["num_features"]
        return [("mean", (n,), "float"), ("scale", (n,), "float")]
    return []


def _shape(value: int | list[int]) -> tuple[int, ...]:
    return (value,) if isinstance(value, int) else tuple(value)


def model_config(model: Any) -> dict[str, Any] | None:
    """The JSON architecture of a model built from retroprop layers, or None for custom Modules."""
    from retroprop.nn import LAYERS, Sequential

    cls_name = type(model).__name__
    if LAYERS.get(cls_name) is not type(model):
        return None
    if isinstance(model, Sequential):
        layers = []
        for name, child in model._modules.items():
            child_config = model_config(child)
            if child_config is None:
                return None
            layers.append({"name": name, **child_config})
        return {"class": "Sequential", "layers": layers}
    try:
        return {"class": cls_name, "config": model.get_config()}
    except NotImplementedError:
        return None


def _check_argument(value: Any, kind: str, where: str) -> None:
    if kind in ("sizes or null", "bool or null", "scales or null") and value is None:
        return
    if kind in ("sizes or null", "bool or null"):
        _check_argument(value, kind.split()[0], where)
        return
    if kind == "scales or null":  # a positive finite number or a list of 1 to 3 of them
        items = value if isinstance(value, list) and 1 <= len(value) <= 3 else [value]
        if not all(not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v > 0
                   for v in items):
            raise FileFormatError(f"{where} must be a positive number, a list of them or null, got "
                                  f"{str(value)[:80]}")
        return
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if kind in ("sizes", "counts", "padding", "output size"):  # an int or a short list of them
        if kind == "padding" and value in ("same", "valid"):
            return
        low = 1 if kind == "sizes" else 0
        items = value if isinstance(value, list) and 1 <= len(value) <= 3 else [value]
        if not all((isinstance(v, int) and not isinstance(v, bool) and low <= v <= 2**31)
                   or (v is None and kind == "output size" and isinstance(value, list)) for v in items):
            expected = {"sizes": "a positive integer or a list of them",
                        "counts": "a non-negative integer or a list of them",
                        "padding": "a non-negative integer, a list of them, 'same' or 'valid'",
                        "output size": "a non-negative integer or a list of them (null keeps a size)"}[kind]
            raise FileFormatError(f"{where} must be {expected}, got {str(value)[:80]}")
        return
    if kind == "shape":  # an int or a list of them, as LayerNorm's normalized_shape
        items = value if isinstance(value, list) and 1 <= len(value) <= _MAX_SHAPE else [value]
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 2**31 for v in items):
            raise FileFormatError(f"{where} must be a non-negative integer or a list of 1 to {_MAX_SHAPE} of "
                                  f"them, got {str(value)[:80]}")
        return
    if kind == "int or null":
        if value is not None and (not is_int or abs(value) > 2**31):
            raise FileFormatError(f"{where} must be an integer or null, got {value!r}"[:300])
        return
    if kind == "size":
        if not is_int or value < 1:
            raise FileFormatError(f"{where} must be a positive integer, got {value!r}"[:300])
    elif kind == "int":
        if not is_int or abs(value) > 2**31:
            raise FileFormatError(f"{where} must be an integer, got {value!r}"[:300])
    elif kind == "bool":
        if not isinstance(value, bool):
            raise FileFormatError(f"{where} must be true or false, got {json_type(value)}")
    elif kind == "str":
        if not isinstance(value, str):
            raise FileFormatError(f"{where} must be a string, got {json_type(value)}")
    elif value is not None or kind != "float or null":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise FileFormatError(f"{where} must be a finite number, got {value!r}"[:300])
        if kind == "non-negative float" and value < 0:
            raise FileFormatError(f"{where} must be a non-negative number, got {value!r}"[:300])


def _defaults(cls: type) -> dict[str, Any]:
    return {name: p.default for name, p in inspect.signature(cls).parameters.items()
            if p.default is not inspect.Parameter.empty}


class _Walk:
    def __init__(self) -> None:
        self.layout: Layout = OrderedDict()
        self.layers = 0
        self.values = 0


def describe(config: Any) -> tuple[dict[str, Any], Layout]:
    """Validate a saved architecture; return it normalized (every argument explicit) and the
    shape and kind of every weight it implies, without allocating any of them.

    Raises ``FileFormatError`` naming the layer and the argument (e.g. "layer 2 (Linear):
    unknown argument 'widht'"), or when the layers or weights exceed ``MAX_LAYERS`` or
    ``MAX_PARAMETERS``.
    """
    walk = _Walk()
    normalized = _describe(config, "", walk)
    return normalized, walk.layout


def _describe(config: Any, path: str, walk: _Walk) -> dict[str, Any]:
    from retroprop.nn import LAYERS

    label = f"layer {path}" if path else "the architecture"
    if not isinstance(config, dict):
        raise FileFormatError(f"{label} must be an object, got {json_type(config)}")
    walk.layers += 1
    if walk.layers > MAX_LAYERS:
        raise FileFormatError(f"the architecture has more than {MAX_LAYERS} layers "
                              "(retroprop.architecture.MAX_LAYERS)")
    cls_name = config.get("class")
    if not isinstance(cls_name, str) or cls_name not in LAYERS:
        raise FileFormatError(f"{label}: unknown layer class {str(cls_name)[:80]!r} (known: "
                              f"{', '.join(sorted(LAYERS))})")
    allowed = {"class", "config", "layers"} if cls_name == "Sequential" else {"class", "config"}
    if path:
        allowed.add("name")
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise FileFormatError(f"{label} ({cls_name}): unknown field {unknown[0][:80]!r}")
    args = config.get("config", {})
    if not isinstance(args, dict):
        raise FileFormatError(f"{label} ({cls_name}): config must be an object, got {json_type(args)}")
    if cls_name == "Sequential":
        return _describe_sequential(config, args, path, walk)
    if cls_name not in LAYER_ARGUMENTS:
        raise FileFormatError(f"{label}: layer class {cls_name} cannot be rebuilt from a file")
    known = LAYER_ARGUMENTS[cls_name]
    for key, value in args.items():
        if key not in known:
            expected = ", ".join(known) or "none"
            raise FileFormatError(f"{label} ({cls_name}): unknown argument {key[:80]!r} "
                                  f"(expected: {expected})")
        _check_argument(value, known[key], f"{label} ({cls_name}): argument {key!r}")
    complete = {**{k: v for k, v in _defaults(LAYERS[cls_name]).items() if k in known}, **args}
    missing = [key for key in known if key not in complete]
    if missing:
        raise FileFormatError(f"{label} ({cls_name}): missing argument {missing[0]!r}")
    _check_together(cls_name, complete, f"{label} ({cls_name})")
    prefix = f"{path}." if path else ""
    for name, shape, kind in _state_layout(cls_name, complete):
        walk.layout[prefix + name] = (shape, kind)
        walk.values += math.prod(shape)
    if walk.values > MAX_PARAMETERS:
        raise FileFormatError(f"the architecture describes more than {MAX_PARAMETERS:,} weights (reached at "
                              f"{label}, {cls_name}); refused (retroprop.architecture.MAX_PARAMETERS)")
    return {"class": cls_name, "config": complete}


def _check_together(cls_name: str, args: dict[str, Any], where: str) -> None:
    """The checks that involve two arguments of a layer."""
    if cls_name == "Embedding" and args["padding_idx"] is not None:
        rows = args["num_embeddings"]
        if not -rows <= args["padding_idx"] < rows:
            raise FileFormatError(f"{where}: padding_idx must be in [{-rows}, {rows - 1}] for {rows} "
                                  f"embeddings, got {args['padding_idx']}")
    if cls_name in ("Conv1d", "Conv2d") and args["padding_mode"] not in ("zeros", "reflect", "replicate",
                                                                          "circular"):
        raise FileFormatError(f"{where}: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', "
                              f"got {str(args['padding_mode'])[:40]!r}")
    if cls_name in ("ConvTranspose1d", "ConvTranspose2d"):
        for key in ("in_channels", "out_channels"):
            if args[key] % args["groups"]:
                raise FileFormatError(f"{where}: {key} ({args[key]}) must be divisible by groups "
                                      f"({args['groups']})")
    if cls_name == "Upsample" and (args["size"] is None) == (args["scale_factor"] is None):
        raise FileFormatError(f"{where}: exactly one of size and scale_factor must be given")
    if cls_name == "GroupNorm" and args["num_channels"] % args["num_groups"]:
        raise FileFormatError(f"{where}: num_channels ({args['num_channels']}) must be divisible by "
                              f"num_groups ({args['num_groups']})")


def _describe_sequential(config: dict[str, Any], args: dict[str, Any], path: str,
                         walk: _Walk) -> dict[str, Any]:
    label = f"layer {path}" if path else "the architecture"
    if args:
        raise FileFormatError(f"{label} (Sequential): unknown argument {next(iter(args))[:80]!r}")
    layers = config.get("layers")
    if not isinstance(layers, list):
        raise FileFormatError(f"{label} (Sequential): layers must be a list, got {json_type(layers)}")
    described, names = [], set()
    for index, layer in enumerate(layers):
        name = layer.get("name", str(index)) if isinstance(layer, dict) else str(index)
        if not isinstance(name, str) or not name or "." in name or len(name) > _MAX_NAME or name in names:
            problem = "appears twice" if isinstance(name, str) and name in names else \
                f"must be a non-empty string without dots, of at most {_MAX_NAME} characters"
            raise FileFormatError(f"{label} (Sequential): the name of its layer {index} {problem}, got "
                                  f"{str(name)[:80]!r}")
        names.add(name)
        entry = _describe(layer, f"{path}.{name}" if path else name, walk)
        described.append({"name": name, **entry})
    return {"class": "Sequential", "layers": described}


def build_model(config: Any) -> Any:
    """Rebuild a model from ``model_config``'s description, after ``describe`` has checked it.

    Building draws no random numbers from retroprop's generator (the weights are meant to be
    overwritten by saved ones).
    """
    normalized, _ = describe(config)
    return _build(normalized, "")


def _build(config: dict[str, Any], path: str) -> Any:
    from retroprop.nn import LAYERS, Sequential

    cls_name = config["class"]
    if cls_name == "Sequential":
        return Sequential(OrderedDict(
            (layer["name"], _build(layer, f"{path}.{layer['name']}" if path else layer["name"]))
            for layer in config["layers"]))
    args = dict(config["config"])
    if cls_name == "Linear":
        args["init"] = _keep  # no random draws: the saved weights replace them
    if cls_name in ("Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "Embedding"):
        args["generator"] = np.random.default_rng(0)  # draws that do not touch retroprop's generator
    try:
        layer = LAYERS[cls_name](**args)
    except (TypeError, ValueError) as err:
        raise FileFormatError(f"layer {path or '(the model)'} ({cls_name}): {str(err)[:300]}") from None
    if cls_name == "Linear":
        layer._init = None  # reset_parameters() draws PyTorch's default initialization, as for any Linear
    return layer


def _keep(weight: Any) -> None:
    """An initialization that leaves the (uninitialized) weight as it is."""


def _format(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) \
        else str(value)
    return text if len(text) <= 80 else text[:77] + "..."  # a file's strings may be any length


def first_difference(saved: dict[str, Any], current: dict[str, Any], path: str = "") -> str | None:
    """The first difference between two normalized architectures (``describe``'s output), in
    words: "layer 1: the checkpoint has Sigmoid, the model has ReLU", or None when they agree."""
    label = f"layer {path}" if path else "the model"
    if saved["class"] != current["class"]:
        return f"{label}: the checkpoint has {saved['class']}, the model has {current['class']}"
    if saved["class"] == "Sequential":
        for index, (a, b) in enumerate(zip(saved["layers"], current["layers"], strict=False)):
            if a["name"] != b["name"]:
                return (f"{label}: its layer {index} is named {a['name']!r} in the checkpoint, "
                        f"{b['name']!r} in the model")
            difference = first_difference(a, b, f"{path}.{b['name']}" if path else b["name"])
            if difference:
                return difference
        count_a, count_b = len(saved["layers"]), len(current["layers"])
        if count_a != count_b:
            return f"{label}: the checkpoint has {count_a} layers, the model has {count_b}"
        return None
    for key in saved["config"]:
        a, b = saved["config"][key], current["config"].get(key)
        if a != b or type(a) is not type(b):
            return (f"{label} ({saved['class']}): {key} {_format(a)} in the checkpoint, {_format(b)} in "
                    "the model")
    return None
