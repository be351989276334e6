"""Learning-rate schedulers: the lr sequences match torch's, state_dict round trips, validation."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import optim
from retroprop.optim import lr_scheduler

LRS = (0.1, 0.02)
SCHEDULERS: list[tuple[str, dict[str, Any], int]] = [  # (name, options, steps)
    ("StepLR", {"step_size": 3}, 30),
    ("StepLR", {"step_size": 1, "gamma": 0.5}, 30),
    ("ExponentialLR", {"gamma": 0.9}, 30),
    ("CosineAnnealingLR", {"T_max": 10}, 30),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}, 21),
    ("CosineAnnealingLR", {"T_max": 1}, 6),
    ("LinearLR", {}, 30),
    ("LinearLR", {"start_factor": 0.5, "end_factor": 0.1, "total_iters": 8}, 30),
]
# Plateaus, improvements smaller than the threshold, and recoveries.
METRICS = [1.0, 0.9, 0.9, 0.9, 0.9, 0.8, 0.79999, 0.8, 0.8, 0.8, 0.8, 0.5, 0.5, 0.5, 0.6, 0.7, 0.4,
           0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.39, 0.39, 0.39, 0.39, 0.39, 0.39, 0.39]
PLATEAU = [
    {"patience": 2},
    {"patience": 1, "cooldown": 2, "factor": 0.5},
    {"mode": "max", "patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
    {"mode": "max", "patience": 0, "threshold_mode": "rel", "cooldown": 1},
    {"mode": "min", "patience": 0, "threshold": 0.1, "threshold_mode": "abs", "min_lr": [0.01, 0.001]},
    {"patience": 0, "factor": 0.5, "min_lr": 0.015, "eps": 1e-3},
]


def _rp_optimizer() -> optim.SGD:
    return optim.SGD([{"params": [rp.tensor(np.zeros(2), requires_grad=True)], "lr": lr} for lr in LRS],
                     momentum=0.9)


def _torch_optimizer(torch: Any) -> Any:
    return torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS],
                           momentum=0.9)


def _lr_sequence(optimizer: Any, scheduler: Any, steps: int, metrics: list[float] | None = None,
                 ) -> list[list[float]]:
    lrs = [scheduler.get_last_lr()]
    for t in range(steps):
        optimizer.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[t])
        assert scheduler.get_last_lr() == [g["lr"] for g in optimizer.param_groups]
        lrs.append(scheduler.get_last_lr())
    return lrs


def _ids(case: Any) -> str:
    return f"{case[0]}{case[1]}" if isinstance(case, tuple) else str(case)


# ---------------------------------------------------------------------------------------------
# Parity with torch
# ---------------------------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("case", SCHEDULERS, ids=_ids)
def test_matches_torch(case: tuple[str, dict[str, Any], int]) -> None:
    torch = pytest.importorskip("torch")
    name, options, steps = case
    opt, topt = _rp_optimizer(), _torch_optimizer(torch)
    ours = _lr_sequence(opt, getattr(lr_scheduler, name)(opt, **options), steps)
    theirs = _lr_sequence(topt, getattr(torch.optim.lr_scheduler, name)(topt, **options), steps)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)


@pytest.mark.torch
@pytest.mark.parametrize("options", PLATEAU, ids=_ids)
def test_reduce_lr_on_plateau_matches_torch(options: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    opt, topt = _rp_optimizer(), _torch_optimizer(torch)
    ours = lr_scheduler.ReduceLROnPlateau(opt, **options)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **options)
    lrs = _lr_sequence(opt, ours, len(METRICS), METRICS)
    np.testing.assert_allclose(lrs, _lr_sequence(topt, theirs, len(METRICS), METRICS), rtol=1e-12, atol=0)
    assert len({tuple(x) for x in lrs}) > 1  # the lr did change
    for key in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
        assert getattr(ours, key) == getattr(theirs, key)


def test_cosine_annealing_matches_closed_form() -> None:
    opt = _rp_optimizer()
    scheduler = lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.01)
    for t, lrs in enumerate(_lr_sequence(opt, scheduler, 18)):
        expected = [0.01 + (lr - 0.01) * (1 + np.cos(np.pi * t / 6)) / 2 for lr in LRS]
        np.testing.assert_allclose(lrs, expected, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# state_dict
# ---------------------------------------------------------------------------------------------
FACTORIES: list[tuple[str, Callable[[optim.Optimizer], Any]]] = [
    ("StepLR", lambda o: lr_scheduler.StepLR(o, step_size=4, gamma=0.5)),
    ("ExponentialLR", lambda o: lr_scheduler.ExponentialLR(o, gamma=0.8)),
    ("CosineAnnealingLR", lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
    ("LinearLR", lambda o: lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=15)),
    ("ReduceLROnPlateau", lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=1, cooldown=1)),
]


@pytest.mark.parametrize(("name", "factory"), FACTORIES, ids=[n for n, _ in FACTORIES])
def test_state_dict_round_trip(name: str, factory: Callable[[optim.Optimizer], Any]) -> None:
    metrics = METRICS[:20] if name == "ReduceLROnPlateau" else None
    opt = _rp_optimizer()
    scheduler = factory(opt)
    _lr_sequence(opt, scheduler, 10, metrics)
    saved_opt, saved = opt.state_dict(), scheduler.state_dict()
    snapshot = copy.deepcopy(saved)
    text = json.dumps(saved)  # plain data
    assert "optimizer" not in saved
    expected = _lr_sequence(opt, scheduler, 10, metrics and metrics[10:])
    assert saved == snapshot  # later steps leave the saved state alone

    fresh = _rp_optimizer()
    restored = factory(fresh)  # constructing first may set the lr: the optimizer's state restores it
    fresh.load_state_dict(saved_opt)
    restored.load_state_dict(json.loads(text))
    assert restored.state_dict() == saved
    assert _lr_sequence(fresh, restored, 10, metrics and metrics[10:]) == expected


def test_load_state_dict_of_another_scheduler_is_refused() -> None:
    opt = _rp_optimizer()
    step = lr_scheduler.StepLR(opt, step_size=2)
    cosine = lr_scheduler.CosineAnnealingLR(_rp_optimizer(), T_max=3)
    with pytest.raises(ValueError, match=r"unexpected entries \['T_max', 'eta_min'\], missing entries "
                                         r"\['gamma', 'step_size'\]"):
        step.load_state_dict(cosine.state_dict())
    one_group = lr_scheduler.StepLR(optim.SGD([rp.tensor(np.zeros(1), requires_grad=True)]), step_size=2)
    with pytest.raises(ValueError, match="'base_lrs' has 1 entries, but the optimizer has 2"):
        step.load_state_dict(one_group.state_dict())


def test_resume_needs_initial_lr() -> None:
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(_rp_optimizer(), step_size=2, last_epoch=4)
    opt = _rp_optimizer()
    lr_scheduler.ExponentialLR(opt, gamma=0.5)
    resumed = lr_scheduler.ExponentialLR(opt, gamma=0.5, last_epoch=3)
    assert resumed.last_epoch == 4 and resumed.base_lrs == list(LRS)


def test_plateau_accepts_a_tensor_metric() -> None:
    opt = _rp_optimizer()
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    scheduler.step(rp.tensor(1.0))
    scheduler.step(rp.tensor(2.0))
    assert scheduler.get_last_lr() == pytest.approx([0.01, 0.002])


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
BAD = [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, r"^StepLR: step_size must be >= 1, got 0$"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2.5), TypeError, r"^StepLR: step_size must be an integer"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=-0.1), ValueError,
     r"^StepLR: gamma must be > 0, got -0.1$"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=0), ValueError,
     r"^ExponentialLR: gamma must be > 0, got 0$"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError,
     r"^CosineAnnealingLR: T_max must be >= 1, got 0$"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=-1), ValueError,
     r"^CosineAnnealingLR: eta_min must be >= 0, got -1$"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0), ValueError,
     r"^LinearLR: start_factor must be in \(0, 1\], got 0$"),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=1.5), ValueError,
     r"^LinearLR: end_factor must be in \[0, 1\], got 1.5$"),
    (lambda o: lr_scheduler.LinearLR(o, total_iters=0), ValueError,
     r"^LinearLR: total_iters must be >= 1, got 0$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="avg"), ValueError,
     r"^ReduceLROnPlateau: mode must be 'min' or 'max', got 'avg'$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError,
     r"^ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got 'pct'$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError,
     r"^ReduceLROnPlateau: factor must be in \[0, 1\), got 1.0$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), ValueError,
     r"^ReduceLROnPlateau: patience must be >= 0, got -1$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError,
     r"^ReduceLROnPlateau: min_lr has 1 values, but the optimizer has 2 parameter groups$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=-1e-3), ValueError,
     r"^ReduceLROnPlateau: min_lr must be >= 0, got -0.001$"),
    (lambda o: lr_scheduler.StepLR(object(), step_size=1), TypeError,
     r"^StepLR: expected an Optimizer, got object$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(object()), TypeError, "expected an Optimizer"),
]


@pytest.mark.parametrize(("make", "error", "match"), BAD, ids=[m for _, _, m in BAD])
def test_invalid_arguments(make: Callable[[optim.Optimizer], Any], error: type[Exception],
                           match: str) -> None:
    opt = _rp_optimizer()
    with pytest.raises(error, match=match):
        make(opt)
    assert [g["lr"] for g in opt.param_groups] == list(LRS)
