"""The course page's demonstrations on PyTorch: ``retroprop demo --backend torch``.

Each network of ``retroprop.demos`` is built as retroprop builds it (the same seed, the same initial
weights), then copied into a torch ``nn.Sequential`` of the same layers with the torch optimizer of
the same kind and settings, and trained in a plain PyTorch loop under ``retroprop.torch.watch``:
the same shuffled batches as ``fit`` (drawn from the demo's seed), ``observe(loss)`` every step and
``end_epoch`` with the logs ``fit`` computes. The loop stops where ``fit`` stops: at a non-finite loss
or gradient (the doctor sees that step, then its update is undone). The trained weights are copied
back into the retroprop model, so the figures read the same network. Dropout masks come from torch's
generator. Importing this module imports torch.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn as tnn

import retroprop as rp
from retroprop import nn
from retroprop.history import History
from retroprop.torch import watch

__all__ = ["copy_back", "torch_optimizer", "torch_twin", "train_watched_torch"]

_ACTIVATIONS = {nn.ReLU: tnn.ReLU, nn.Sigmoid: tnn.Sigmoid, nn.Tanh: tnn.Tanh}


def torch_twin(model: nn.Sequential) -> tnn.Sequential:
    """A torch ``nn.Sequential`` of the same layers as the retroprop ``model``, holding a copy of its
    weights (and BatchNorm statistics), in float32."""
    layers: list[tnn.Module] = []
    for module in model:
        if isinstance(module, nn.Linear):
            layer: tnn.Module = tnn.Linear(module.in_features, module.out_features,
                                           bias=module.bias is not None)
        elif isinstance(module, nn.BatchNorm1d):
            layer = tnn.BatchNorm1d(module.num_features, eps=module.eps, momentum=module.momentum,
                                    affine=module.weight is not None,
                                    track_running_stats=module.running_mean is not None)
        elif isinstance(module, nn.LeakyReLU):
            layer = tnn.LeakyReLU(module.negative_slope)
        elif isinstance(module, nn.Dropout):
            layer = tnn.Dropout(module.p)
        elif type(module) in _ACTIVATIONS:
            layer = _ACTIVATIONS[type(module)]()
        else:
            raise ValueError(f"demo --backend torch: no torch layer for retroprop's {type(module).__name__}")
        _copy_tensors(module, layer, to_torch=True)
        layers.append(layer)
    return tnn.Sequential(*layers)


def copy_back(twin: tnn.Sequential, model: nn.Sequential) -> nn.Sequential:
    """Put the torch twin's current weights (and BatchNorm statistics) into the retroprop ``model``."""
    for module, layer in zip(model, twin, strict=True):
        _copy_tensors(module, layer, to_torch=False)
    return model


def _copy_tensors(module: nn.Module, layer: tnn.Module, *, to_torch: bool) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        mine, theirs = getattr(module, name, None), getattr(layer, name, None)
        if mine is None or theirs is None:
            continue
        array = mine.data if hasattr(mine, "data") and isinstance(mine.data, np.ndarray) else mine
        with torch.no_grad():
            if to_torch:
                theirs.copy_(torch.from_numpy(np.array(array, dtype=np.float32)))
            else:
                array[...] = theirs.detach().cpu().numpy()


def torch_optimizer(optimizer: Any, params: Any) -> torch.optim.Optimizer:
    """The torch optimizer of ``optimizer``'s kind (SGD, Adam, RMSprop) with its first group's
    settings, over ``params``."""
    group = optimizer.param_groups[0]
    kind = type(optimizer).__name__
    if kind == "SGD":
        return torch.optim.SGD(params, lr=group["lr"], momentum=group["momentum"],
                               dampening=group["dampening"], weight_decay=group["weight_decay"],
                               nesterov=group["nesterov"])
    if kind == "Adam":
        return torch.optim.Adam(params, lr=group["lr"], betas=tuple(group["betas"]), eps=group["eps"],
                                weight_decay=group["weight_decay"])
    if kind == "RMSprop":
        return torch.optim.RMSprop(params, lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                                   weight_decay=group["weight_decay"], momentum=group["momentum"])
    raise ValueError(f"demo --backend torch: no torch optimizer for retroprop's {kind}")


def _finite(values: Any) -> bool:
    return all(bool(torch.isfinite(v).all()) for v in values if v is not None)


def _accuracy(model: tnn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Cross-entropy loss and accuracy of ``model`` in eval mode."""
    model.eval()
    with torch.no_grad():
        out = model(x)
        return float(tnn.functional.cross_entropy(out, y)), float((out.argmax(dim=1) == y).float().mean())


def train_watched_torch(label: str, recipe: str, model: nn.Sequential, optimizer: Any,
                        data: tuple[np.ndarray, ...], *, epochs: int, seed: int, every: int | None = 5,
                        batch_size: int = 32) -> Any:
    """``demos.train_watched`` on PyTorch: the torch twin of ``model`` trained under ``watch``; returns
    the ``demos.RunSummary`` (its ``model`` is the retroprop model holding the trained weights)."""
    from retroprop import demos

    x_train, y_train, x_val, y_val = data
    twin = torch_twin(model)
    opt = torch_optimizer(optimizer, twin.parameters())
    xt, xv = (torch.tensor(np.asarray(a), dtype=torch.float32) for a in (x_train, x_val))
    yt, yv = (torch.tensor(np.asarray(a), dtype=torch.int64) for a in (y_train, y_val))
    loss_fn = tnn.CrossEntropyLoss()
    rp.manual_seed(seed)  # the batches: fit's shuffle from the same seed
    order_rng = rp.random.default_generator()
    torch.manual_seed(seed)  # the dropout masks
    n = len(xt)
    batch_norm = any(isinstance(m, tnn.BatchNorm1d) for m in twin)
    history = History(model=model, params={"epochs": epochs, "steps": -(-n // batch_size),
                                           "batch_size": batch_size, "samples": n})
    started = time.perf_counter()
    doctor = watch(twin, opt, every=every)
    for epoch in range(epochs):
        twin.train()
        order = order_rng.permutation(n)
        batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
        if batch_norm and len(batches) > 1 and len(batches[-1]) < max(2, batch_size // 2):
            batches[-2:] = [np.concatenate(batches[-2:])]  # as fit: BatchNorm cannot train on a tiny batch
        loss_sum, correct, seen, stop = 0.0, 0.0, 0, False
        for index in batches:
            rows = torch.from_numpy(index)
            xb, yb = xt[rows], yt[rows]
            opt.zero_grad()
            out = twin(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            value = float(loss.detach())
            history._step_loss.append(value)
            doctor.observe(loss)
            if math.isfinite(value) and _finite(p.grad for p in twin.parameters()):
                opt.step()
            else:  # as fit: the doctor sees the step (in its pre-hook), its update is undone, the run stops
                kept = {k: v.detach().clone() for k, v in twin.state_dict().items()}
                opt.step()
                twin.load_state_dict(kept)
                stop = True
            loss_sum += value * len(index)
            correct += float((out.detach().argmax(dim=1) == yb).sum())
            seen += len(index)
            if stop:
                break
        val_loss, val_accuracy = _accuracy(twin, xv, yv)
        logs = {"loss": loss_sum / seen, "accuracy": correct / seen, "val_loss": val_loss,
                "val_accuracy": val_accuracy, "lr": float(opt.param_groups[0]["lr"])}
        history.append(epoch, logs)
        doctor.end_epoch(epoch, logs)
        if stop:
            history.stop_reason = f"non-finite loss or gradients at step {len(history._step_loss)}"
            break
    doctor.finish()
    elapsed = time.perf_counter() - started
    history.wall_time = elapsed
    history.diagnoses = list(doctor.diagnoses)
    copy_back(twin, model)
    train = _accuracy(twin, xt, yt)[1]
    val = _accuracy(twin, xv, yv)[1]
    records = list(doctor.core.recorder.records) if doctor.core.recorder is not None else []
    losses = history.history.get("loss") or [math.nan]
    return demos.RunSummary(
        label=label, recipe=recipe, train_accuracy=train, val_accuracy=val,
        grad_first=demos._median_norm(records, 0), grad_last=demos._median_norm(records, -1),
        dead_share=demos._dead_share(records), problems=sorted({d.problem for d in doctor.diagnoses}),
        dead_layers=demos._dead_layers(records), train_loss=float(losses[-1]),
        diagnoses=list(doctor.diagnoses), history=history, records=records, model=model, wall_time=elapsed)
