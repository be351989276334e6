"""The example experiment specs, one per built-in data set, as dicts (``retroprop.spec.SPEC_EXAMPLES``).

docs/spec.md shows the same specs as YAML; a test keeps the two equal. A bare type name is a layer
without options.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SPEC_EXAMPLES"]

SPEC_EXAMPLES: dict[str, dict[str, Any]] = {
    "digits": {
        "name": "digits-mlp",
        "data": {"name": "digits", "test_size": 0.25, "seed": 0},
        "model": {"layers": [
            {"type": "linear", "units": 128, "init": "he_normal"},
            "relu",
            {"type": "dropout", "p": 0.1},
            {"type": "linear"},
        ]},
        "loss": "cross_entropy",
        "optimizer": {"name": "adam", "lr": 0.001},
        "epochs": 15,
        "batch_size": 32,
        "seed": 0,
        "doctor": {"enabled": True},
    },
    "iris": {
        "name": "iris-sgd",
        "data": {"name": "iris", "test_size": 0.3},
        "model": {"layers": [
            {"type": "linear", "units": 16},
            "tanh",
            {"type": "linear", "units": 3},
        ]},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
        "schedule": {"name": "step", "step_size": 20, "gamma": 0.5},
        "epochs": 60,
        "batch_size": 16,
    },
    "breast_cancer": {
        "name": "breast-cancer-logistic",
        "data": {"name": "breast_cancer"},
        "model": {"layers": [
            {"type": "linear", "units": 32},
            "relu",
            {"type": "linear", "units": 1},
        ]},
        "loss": "bce_with_logits",
        "optimizer": {"name": "adamw", "lr": 0.003, "weight_decay": 0.01},
        "epochs": 30,
    },
    "wine": {
        "name": "wine-batchnorm",
        "data": {"name": "wine", "test_size": 0.25, "seed": 1},
        "model": {"layers": [
            {"type": "linear", "units": 32},
            "batchnorm",
            "relu",
            {"type": "linear"},
        ]},
        "optimizer": {"name": "rmsprop", "lr": 0.001},
        "epochs": 40,
        "batch_size": 16,
    },
    "mnist1d": {
        "name": "mnist1d-mlp",
        "data": {"name": "mnist1d", "n_train": 4000, "n_test": 1000},
        "model": {"layers": [
            {"type": "linear", "units": 256, "init": "he_normal"},
            "gelu",
            {"type": "linear", "units": 256, "init": "he_normal"},
            "gelu",
            {"type": "linear"},
        ]},
        "optimizer": {"name": "adam", "lr": 0.002, "weight_decay": 0.0001},
        "schedule": {"name": "cosine", "eta_min": 0.0001},
        "epochs": 50,
        "batch_size": 100,
    },
    "spiral": {
        "name": "spiral-leaky",
        "data": {"name": "spiral", "n_samples": 600, "n_classes": 3, "noise": 0.2},
        "model": {"layers": [
            {"type": "linear", "units": 64},
            {"type": "leaky_relu", "negative_slope": 0.05},
            {"type": "linear", "units": 64},
            {"type": "leaky_relu", "negative_slope": 0.05},
            {"type": "linear"},
        ]},
        "optimizer": {"name": "adam", "lr": 0.01},
        "schedule": {"name": "plateau", "factor": 0.5, "patience": 5},
        "epochs": 100,
    },
    "circles": {
        "name": "circles-nesterov",
        "data": {"name": "circles", "n_samples": 400, "noise": 0.1, "factor": 0.5},
        "model": {"layers": [{"type": "linear", "units": 16}, "tanh", {"type": "linear"}]},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
        "epochs": 50,
    },
    "xor": {
        "name": "xor-sigmoid",
        "data": {"name": "xor", "n_samples": 400, "noise": 0.05},
        "model": {"layers": [{"type": "linear", "units": 8}, "sigmoid", {"type": "linear"}]},
        "optimizer": {"name": "adam", "lr": 0.05},
        "schedule": {"name": "exponential", "gamma": 0.98},
        "epochs": 80,
        "doctor": {"enabled": True, "every": 10},
    },
    "gaussians": {
        "name": "gaussians-elu",
        "data": {"name": "gaussians", "n_samples": 500, "n_classes": 5, "noise": 0.6},
        "model": {"layers": [
            {"type": "linear", "units": 32},
            {"type": "elu", "alpha": 1.0},
            {"type": "linear"},
        ]},
        "optimizer": {"name": "adagrad", "lr": 0.05},
        "epochs": 30,
    },
    "moons": {
        "name": "moons-repair",
        "data": {"name": "moons", "n_samples": 400, "noise": 0.15, "standardize": True},
        "model": {"layers": [
            {"type": "linear", "units": 32, "init": "lecun_normal"},
            "selu",
            {"type": "linear", "units": 32, "init": "lecun_normal"},
            "selu",
            {"type": "linear"},
        ]},
        "optimizer": {"name": "sgd", "lr": 0.1},
        "schedule": {"name": "linear", "start_factor": 0.1, "total_iters": 10},
        "epochs": 60,
        "doctor": {"enabled": True, "repair": True},
    },
}
