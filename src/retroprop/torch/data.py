"""What a ``DataLoader`` tells the doctor's setup checks: its data, its batch size and its order.

``watch(model, optimizer, data=train_loader, validation_data=val_loader)``, the Lightning callback and
``retroprop watch train.py`` read the loaders the run trains and validates on, so that the checks made
before the first step (targets of one class, labels in runs of one class under ``shuffle=False``,
unscaled inputs, validation data unlike the training data) see the user's own data without being
handed arrays. Only what is already in memory is read, never a sample through ``__getitem__`` (a
dataset's transforms may draw random numbers or read files):

* ``TensorDataset(x, y)``: the inputs ``x`` and the targets ``y`` (a single tensor: the inputs only);
* a dataset with a ``targets`` attribute of one entry per sample (torchvision's): the targets only, as
  its stored data is what its transforms start from, not what the model sees;
* ``Subset`` and ``ConcatDataset`` of those, in their own order.

The targets come whole (the order of every sample matters to ``unshuffled_data``); of the inputs, at
most ``INPUT_ROWS`` evenly spaced rows are copied to the host. The order: ``shuffled`` is True for a
``RandomSampler`` (``shuffle=True``), ``SubsetRandomSampler`` or ``WeightedRandomSampler``, False for a
``SequentialSampler`` (the default), a ``DistributedSampler``'s own ``shuffle``, else unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils import data as tud

from retroprop.doctor.checks import SAMPLE_ROWS

__all__ = ["INPUT_ROWS", "MAX_TARGETS", "LoaderData", "host_rows", "loader_data", "setup_from_loaders"]

INPUT_ROWS = SAMPLE_ROWS  # the setup checks read no more rows of the inputs than this
MAX_TARGETS = 1 << 24  # target values copied at most (a target tensor larger than this is not read)


@dataclass(frozen=True)
class LoaderData:
    """What one loader holds, as far as it is known without reading a sample (None: unknown)."""

    inputs: np.ndarray | None  # at most INPUT_ROWS rows, evenly spaced, in the dataset's order
    targets: np.ndarray | None  # every target, in the dataset's order
    rows: int | None  # the samples in the dataset
    batch_size: int | None
    shuffled: bool | None


def _order(loader: tud.DataLoader) -> bool | None:
    sampler = loader.sampler
    batch_sampler = getattr(loader, "batch_sampler", None)
    if batch_sampler is not None and getattr(batch_sampler, "sampler", None) is not None:
        sampler = batch_sampler.sampler
    if isinstance(sampler, (tud.RandomSampler, tud.SubsetRandomSampler, tud.WeightedRandomSampler)):
        return True
    if isinstance(sampler, tud.SequentialSampler):
        return False
    if isinstance(sampler, tud.distributed.DistributedSampler):
        return bool(sampler.shuffle)
    return None


def _batch_size(loader: tud.DataLoader) -> int | None:
    size = loader.batch_size
    if size is None:
        size = getattr(getattr(loader, "batch_sampler", None), "batch_size", None)
    return int(size) if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None


def _tensor(value: Any, rows: int) -> torch.Tensor | None:
    """``value`` as a tensor of ``rows`` entries along its first axis, or None."""
    if isinstance(value, torch.Tensor):
        tensor = value
    elif isinstance(value, np.ndarray):
        tensor = torch.from_numpy(value) if value.dtype.kind in "biuf" else None
    elif isinstance(value, (list, tuple)) and value and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value[:64]):
        try:
            tensor = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError):
            return None
    else:
        return None
    if tensor is None or tensor.dim() == 0 or tensor.shape[0] != rows or tensor.is_complex():
        return None
    return tensor


def _parts(dataset: Any) -> tuple[torch.Tensor | None, torch.Tensor | None] | None:
    """The dataset's (inputs, targets) as tensors over its samples in its order (either may be None),
    or None when nothing is known."""
    try:
        rows = len(dataset)
    except TypeError:
        return None
    if isinstance(dataset, tud.TensorDataset):
        tensors = dataset.tensors
        inputs = _tensor(tensors[0], rows) if tensors else None
        targets = _tensor(tensors[1], rows) if len(tensors) == 2 else None
        return inputs, targets
    if isinstance(dataset, tud.Subset):
        parent = _parts(dataset.dataset)
        if parent is None:
            return None
        indices = dataset.indices
        index = torch.as_tensor(indices if isinstance(indices, (torch.Tensor, np.ndarray)) else list(indices),
                                dtype=torch.long)
        return tuple(None if t is None else t[index.to(t.device)] for t in parent)  # type: ignore[return-value]
    if isinstance(dataset, tud.ConcatDataset):
        parts = [_parts(d) for d in dataset.datasets]
        if any(p is None for p in parts):
            return None
        joined: list[torch.Tensor | None] = []
        for i in range(2):
            pieces = [p[i] for p in parts]  # type: ignore[index]
            same = pieces and all(t is not None and t.shape[1:] == pieces[0].shape[1:]
                                  and t.dtype == pieces[0].dtype for t in pieces)
            joined.append(torch.cat([t.to(pieces[0].device) for t in pieces]) if same else None)
        return joined[0], joined[1]
    targets = _tensor(getattr(dataset, "targets", None), rows)
    return (None, targets) if targets is not None else None


def host_rows(tensor: torch.Tensor, limit: int = INPUT_ROWS) -> np.ndarray:
    """At most ``limit`` evenly spaced rows of ``tensor``, taken on its device, as a NumPy array."""
    step = -(-tensor.shape[0] // limit)
    rows = tensor[::step].detach()
    if rows.dtype in (torch.bfloat16, torch.float16):
        rows = rows.float()
    return rows.cpu().numpy()


def loader_data(loader: Any) -> LoaderData | None:
    """What ``loader`` (a ``DataLoader``) tells the setup checks; None for anything else."""
    if not isinstance(loader, tud.DataLoader):
        return None
    try:
        parts = _parts(loader.dataset)
    except Exception:  # a dataset of an unforeseen kind (sparse, lazy, ...): its data stays unknown
        parts = None
    inputs = targets = None
    rows: int | None = None
    try:
        rows = len(loader.dataset)
    except TypeError:
        pass
    if parts is not None:
        x, y = parts
        try:
            if x is not None and x.dtype != torch.bool and not x.is_sparse:
                inputs = host_rows(x, INPUT_ROWS)
            if y is not None and y.numel() <= MAX_TARGETS and y.dtype != torch.bool and not y.is_sparse:
                targets = host_rows(y, max(y.shape[0], 1))
        except Exception:  # a dtype NumPy has no match for, ...: what could not be read stays unknown
            pass
    return LoaderData(inputs=inputs, targets=targets, rows=rows, batch_size=_batch_size(loader),
                      shuffled=_order(loader))


def setup_from_loaders(data: Any = None, validation_data: Any = None) -> dict[str, Any]:
    """``watch``'s setup arguments read from the training and validation loaders (the keys known)."""
    setup: dict[str, Any] = {}
    train = loader_data(data) if data is not None else None
    if data is not None and train is None:
        raise TypeError(f"watch: data must be a torch DataLoader (the loader the run trains on), got "
                        f"{type(data).__name__}")
    validation = loader_data(validation_data) if validation_data is not None else None
    if validation_data is not None and validation is None:
        raise TypeError(f"watch: validation_data must be a torch DataLoader (the loader the run is "
                        f"validated on), got {type(validation_data).__name__}")
    if train is not None:
        known = {"inputs": train.inputs, "targets": train.targets, "batch_size": train.batch_size,
                 "shuffled": train.shuffled}
        setup.update({k: v for k, v in known.items() if v is not None})
    if validation is not None:
        known = {"validation_inputs": validation.inputs, "validation_targets": validation.targets}
        setup.update({k: v for k, v in known.items() if v is not None})
    if train is not None and validation is not None and train.rows and validation.rows:
        setup["samples"] = (train.rows, validation.rows)
    return setup
