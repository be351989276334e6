"""What a ``DataLoader`` tells the doctor's setup checks: its data, its batch size and its order.

``watch(model, optimizer, data=train_loader, validation_data=val_loader)``, the Lightning callback and
``retroprop watch train.py`` read the loaders the run trains and validates on, so that the checks made
before the first step (targets of one class, labels in runs of one class under ``shuffle=False``,
unscaled inputs, validation data unlike the training data) see the user's own data without being
handed arrays. Only what is already in memory is read, never a sample through ``__getitem__`` (a
dataset's transforms may draw random numbers or read files):

* ``TensorDataset(x, y)``: the inputs ``x`` and the targets ``y`` (a single tensor: the inputs only);
  inputs only when they are floating-point and the loader collates with torch's default (integer or
  boolean inputs, such as token ids or uint8 pixels, are cast, scaled or embedded before any layer sees
  them, and a collate function of the loop's own may turn them into anything);
* a dataset with a ``targets`` attribute of one entry per sample (torchvision's): the targets only, as
  its stored data is what its transforms start from, not what the model sees;
* ``Subset`` and ``ConcatDataset`` of those, in their own order.

The targets come whole (the order of every sample matters to ``unshuffled_data``); of the inputs, at
most ``INPUT_ROWS`` evenly spaced rows are gathered (through any ``Subset`` and ``ConcatDataset``, on
the tensors' device, before anything is copied) and brought to the host. The order: ``shuffled`` is True for a
``RandomSampler`` (``shuffle=True``), ``SubsetRandomSampler`` or ``WeightedRandomSampler``, False for a
``SequentialSampler`` (the default), a ``DistributedSampler``'s own ``shuffle``, else unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils import data as tud
from torch.utils.data._utils.collate import default_collate, default_convert

from retroprop.doctor.checks import SAMPLE_ROWS

__all__ = ["INPUT_ROWS", "MAX_TARGETS", "LoaderData", "host_rows", "loader_data", "setup_from_loaders",
           "to_host"]

INPUT_ROWS = SAMPLE_ROWS  # rows of the inputs read at most (the checks' statistics use fewer)
MAX_TARGETS = 1 << 24  # target values copied at most (a target tensor larger than this is not read)


@dataclass(frozen=True)
class LoaderData:
    """What one loader holds, as far as it is known without reading a sample (None: unknown)."""

    inputs: np.ndarray | None  # at most INPUT_ROWS rows, evenly spaced, in the dataset's order
    targets: np.ndarray | None  # every target, in the dataset's order
    rows: int | None  # the samples in the dataset
    batch_size: int | None
    shuffled: bool | None
    input_rows: np.ndarray | None = None  # the rows of the dataset (and of ``targets``) ``inputs`` holds


def _order(loader: tud.DataLoader) -> bool | None:
    sampler = loader.sampler
    batch_sampler = getattr(loader, "batch_sampler", None)
    if batch_sampler is not None and type(batch_sampler) is not tud.BatchSampler:
        return None  # a batch sampler of its own (bucketing, ...) may reorder the batches it draws
    if batch_sampler is not None:
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


def _index(indices: Any) -> torch.Tensor:
    return torch.as_tensor(indices if isinstance(indices, (torch.Tensor, np.ndarray)) else list(indices),
                           dtype=torch.long)


def _rows_at(dataset: Any, index: torch.Tensor) -> np.ndarray | None:
    """The inputs of ``dataset``'s samples at ``index`` (ascending), gathered on their device and
    brought to the host, or None when they are not known or not floating-point: integer or boolean
    inputs (token ids, uint8 pixels, masks) are cast, scaled or embedded by the model or the loop
    before any layer sees them, so their stored values are not what the model sees."""
    if isinstance(dataset, tud.TensorDataset):
        x = dataset.tensors[0] if dataset.tensors else None
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.is_sparse or x.dim() < 1:
            return None
        return to_host(x[index.to(x.device)])
    if isinstance(dataset, tud.Subset):
        return _rows_at(dataset.dataset, _index(dataset.indices)[index])
    if isinstance(dataset, tud.ConcatDataset):
        pieces, start = [], 0
        for part, end in zip(dataset.datasets, dataset.cumulative_sizes, strict=True):
            local = index[(index >= start) & (index < end)] - start
            if len(local):
                rows = _rows_at(part, local)
                if rows is None or (pieces and rows.shape[1:] != pieces[0].shape[1:]):
                    return None
                pieces.append(rows)
            start = end
        return np.concatenate(pieces) if pieces else None
    return None


def _targets(dataset: Any) -> torch.Tensor | None:
    """Every target of ``dataset``, in its order, or None when they are not known."""
    rows = len(dataset)
    if isinstance(dataset, tud.TensorDataset):
        return _tensor(dataset.tensors[1], rows) if len(dataset.tensors) == 2 else None
    if isinstance(dataset, tud.Subset):
        parent = _targets(dataset.dataset)
        return None if parent is None else parent[_index(dataset.indices).to(parent.device)]
    if isinstance(dataset, tud.ConcatDataset):
        parts = [_targets(d) for d in dataset.datasets]
        if any(p is None for p in parts) or any(p.shape[1:] != parts[0].shape[1:] or p.dtype != parts[0].dtype
                                                for p in parts):
            return None
        return torch.cat([p.to(parts[0].device) for p in parts])
    return _tensor(getattr(dataset, "targets", None), rows)


def to_host(rows: torch.Tensor) -> np.ndarray:
    """``rows`` (already cut down on their device) as a NumPy array; half precisions as float32."""
    rows = rows.detach()
    return (rows.float() if rows.dtype in (torch.bfloat16, torch.float16) else rows).cpu().numpy()


def host_rows(tensor: torch.Tensor, limit: int = INPUT_ROWS) -> np.ndarray:
    """At most ``limit`` evenly spaced rows of ``tensor``, taken on its device, as a NumPy array."""
    return to_host(tensor[::-(-tensor.shape[0] // limit)])


def loader_data(loader: Any) -> LoaderData | None:
    """What ``loader`` (a ``DataLoader``) tells the setup checks; None for anything else."""
    if not isinstance(loader, tud.DataLoader):
        return None
    inputs = targets = taken = None
    rows: int | None = None
    try:
        rows = len(loader.dataset)
    except TypeError:
        pass
    # a collate function of the loop's own may turn what is stored into anything: the inputs then stay
    # unknown (the targets are read: collate functions pass labels through as they are)
    default = loader.collate_fn in (default_collate, default_convert)
    if rows:
        try:  # a dataset of an unforeseen kind (sparse, lazy, a dtype NumPy lacks): it stays unknown
            if default:
                taken = torch.arange(0, rows, -(-rows // INPUT_ROWS))
                inputs = _rows_at(loader.dataset, taken)
        except Exception:
            inputs = None
        try:
            y = _targets(loader.dataset)
            if y is not None and y.numel() <= MAX_TARGETS and y.dtype != torch.bool and not y.is_sparse:
                targets = host_rows(y, rows)
        except Exception:
            targets = None
    return LoaderData(inputs=inputs, targets=targets, rows=rows, batch_size=_batch_size(loader),
                      shuffled=_order(loader),
                      input_rows=None if inputs is None or taken is None else taken.numpy())


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
                 "shuffled": train.shuffled, "input_rows": train.input_rows}
        setup.update({k: v for k, v in known.items() if v is not None})
    if validation is not None:
        known = {"validation_inputs": validation.inputs, "validation_targets": validation.targets}
        setup.update({k: v for k, v in known.items() if v is not None})
    if train is not None and validation is not None and train.rows and validation.rows:
        setup["samples"] = (train.rows, validation.rows)
    return setup
