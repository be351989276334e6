"""The doctor under ``torch.distributed`` (DistributedDataParallel): every rank reaches the same
diagnoses at the same step and takes the same repair decisions.

How: the doctor's decisions are a deterministic function of what it is fed (the per-step losses, the
probe records, the learning rates, the epoch logs), so every rank is fed the same numbers, reduced
across ranks, and each rank's doctor then decides exactly what the others decide; no decision is
broadcast. What is exchanged, on the default process group:

* every step, one all-reduce of 4 numbers: the loss summed over the ranks that observed one (the doctor
  gets their mean; NaN/Inf on any rank makes it non-finite on all) and a fingerprint of each rank's
  doctor state (its step, diagnoses, treatments), whose spread shows ranks that have drifted apart:
  they then all turn their doctor off (listed in ``errors``), the same step, rather than wait on each
  other's collectives;
* on a probed step, one all-reduce of a tiny layout fingerprint and one of a single flattened tensor
  with every layer's and activation's numbers (``TorchProbe.collect``); on the step after, one of the
  update ratios; when the ranks measured different activations (a kind inferred from one rank's batch
  only), one ``all_gather_object`` of the layouts, and they keep what all of them measured;
* at ``end_epoch``, one ``all_gather_object`` of the logs (their mean over the ranks);
* after a remedy is applied, a broadcast of the model's tensors from rank 0 (a re-initialization draws
  from each rank's own generator).

A model wrapped in ``DistributedDataParallel`` (or ``DataParallel``) is watched through its ``.module``:
layers are named without the ``module.`` prefix.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import torch
from torch import nn

__all__ = ["Ranks", "agree_layout", "reduce_record", "unwrap"]

WRAPPERS = (nn.DataParallel, nn.parallel.DistributedDataParallel)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside ``DistributedDataParallel``/``DataParallel`` wrappers (else ``model``)."""
    while isinstance(model, WRAPPERS):
        model = model.module
    return model


def fingerprint(value: Any, bits: int = 20) -> int:
    """A small integer hash of ``repr(value)`` (exact in float64, as are sums of its square over ranks)."""
    return zlib.crc32(repr(value).encode()) & ((1 << bits) - 1)


class Ranks:
    """The ranks of the default process group, as the doctor exchanges numbers with them."""

    def __init__(self, group: Any = None) -> None:
        import torch.distributed as dist

        self.dist = dist
        self.group = group
        self.size = dist.get_world_size(group)
        self.rank = dist.get_rank(group)
        backend = str(dist.get_backend(group))
        # NCCL reduces CUDA tensors only; gloo (and the rest) tensors on the host
        self.device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" \
            else torch.device("cpu")

    @classmethod
    def current(cls) -> Ranks | None:
        """The ranks when ``torch.distributed`` is initialized with more than one, else None."""
        import torch.distributed as dist

        if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() < 2:
            return None
        return cls()

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` (1-d) summed over the ranks, in float64 on the host."""
        tensor = values.to(self.device, torch.float64)
        self.dist.all_reduce(tensor, op=self.dist.ReduceOp.SUM, group=self.group)
        return tensor.cpu()

    def agree(self, key: int) -> bool:
        """Whether every rank passed the same ``key`` (an integer below 2**53): one MAX all-reduce."""
        tensor = torch.tensor([key, -key], dtype=torch.float64, device=self.device)
        self.dist.all_reduce(tensor, op=self.dist.ReduceOp.MAX, group=self.group)
        high, low = tensor.cpu().tolist()
        return high == -low

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (picklable, small), in rank order."""
        values: list[Any] = [None] * self.size
        self.dist.all_gather_object(values, value, group=self.group)
        return values

    def step(self, loss: float | None, state: Any) -> tuple[float | None, bool]:
        """The loss of this step over the ranks (the mean over those that observed one; None when none
        did) and whether every rank's doctor is in the same ``state`` (fingerprinted)."""
        key = fingerprint(state, bits=16)
        known = loss is not None
        numbers = torch.tensor([loss if known else 0.0, float(known), key, float(key) ** 2],
                               dtype=torch.float64)
        total, count, keys, squares = self.sum(numbers).tolist()
        # equal keys exactly when sum(k^2) * n == (sum k)^2 (Cauchy-Schwarz); exact below 2**53, which
        # 16-bit keys keep for up to 1448 ranks
        same = squares * self.size == keys * keys
        return (total / count if count else None), same

    def mean_logs(self, logs: dict[str, float]) -> dict[str, float]:
        """The epoch logs averaged over the ranks (the keys every rank logged; rank 0's order)."""
        every = self.gather(dict(logs))
        keys = [k for k in every[0] if all(k in other for other in every)]
        return {k: math.fsum(other[k] for other in every) / self.size for k in keys}

    def broadcast_model(self, model: nn.Module) -> None:
        """Rank 0's parameters and buffers into every rank's own tensors (in place)."""
        with torch.no_grad():
            for tensor in model.state_dict().values():
                if tensor.device == self.device:
                    self.dist.broadcast(tensor, src=0, group=self.group)
                else:
                    moved = tensor.to(self.device)
                    self.dist.broadcast(moved, src=0, group=self.group)
                    tensor.copy_(moved)


def agree_layout(probe: Any) -> None:
    """Make every rank's layout (``TorchProbe._layout``) the same before the numbers are reduced: when
    they differ (an activation inferred from one rank's batch only), every rank keeps what all of them
    measured, in rank 0's order, and the union of the inferred activations (rank 0's kind first), so
    that the remedies see the same model on every rank."""
    layout = probe._layout()
    if probe.ranks.agree(fingerprint(layout)):
        return
    every = probe.ranks.gather(layout)
    first = every[0]
    probe.weighted_order = [n for n in first[0] if all(n in other[0] for other in every)]
    kept = [entry[0] for entry in first[1] if all(entry in other[1] for other in every)]
    probe._pending = {key: probe._pending[key] for key in kept}
    probe.order = kept
    inferred: dict[str, str] = {}
    for other in reversed(every):
        inferred.update(dict(other[2]))
    probe.inferred = inferred
    probe.sequence = list(first[3])


def reduce_record(probe: Any, layers: list[tuple[str, nn.Module, str]], scalars: list[torch.Tensor],
                  pending: list[Any], output_bias: bool = False) -> tuple[list[float], dict[str, Any]]:
    """The scalars of ``TorchProbe.collect`` over every rank, in one flattened all-reduce: a layer's
    norms from the mean of the ranks' sums of squares, its mean |g| from their mean (DDP's gradients
    and weights are the same on every rank: these are then its own numbers); an activation's counts
    and sums added (its mean and std are those of every rank's batch together), its firing masks
    OR-ed (a unit is dead when it fired on no rank); with ``output_bias``, the output layer's bias
    gradient norm (the last scalar) from the mean of its squares. Returns the values in the layout of
    the probe's ``_to_host`` and, per name, what replaces the local numbers (an activation's size, samples and
    firing mask; a layer's non-finite counts, reduced in a second all-reduce only when a norm is not
    finite)."""
    ranks, device = probe.ranks, probe.ranks.device
    numbers: list[torch.Tensor] = []
    for index in range(len(layers)):
        weight, grad, abs_sum = (s.to(device) for s in scalars[3 * index: 3 * index + 3])
        numbers += [weight * weight, grad * grad, abs_sum]
    offset = 3 * len(layers)
    for index, p in enumerate(pending):
        numbers += [s.to(device) for s in scalars[offset + 4 * index: offset + 4 * index + 4]]
        numbers.append(torch.tensor([p.size, p.samples], dtype=torch.float64, device=device))
    if output_bias:
        bias = scalars[-1].to(device)
        numbers.append(bias * bias)
    masks = [p.fired.to(device, torch.float64).flatten() for p in pending if p.fired is not None]
    parts = [n.reshape(-1).to(torch.float64) for n in numbers] + masks
    total = ranks.sum(torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64))
    sums = total.tolist()
    n = ranks.size
    values: list[float] = []
    reduced: dict[str, Any] = {"layers": {}, "activations": {}}
    for index in range(len(layers)):
        weight, grad, abs_sum = sums[3 * index: 3 * index + 3]
        values += [math.sqrt(weight / n), math.sqrt(grad / n), abs_sum / n]
    position = offset
    for p in pending:
        count, total_sum, squares, flat_count, size, samples = sums[position: position + 6]
        values += [count, total_sum, squares, flat_count]
        reduced["activations"][p.name] = [int(size), int(samples), None]
        position += 6
    bias_norm = None
    if output_bias:
        bias_norm = math.sqrt(sums[position] / n)
        position += 1
    for p in pending:
        if p.fired is not None:
            width = int(p.fired.numel())
            fired = total[position: position + width] > 0
            reduced["activations"][p.name][2] = fired.reshape(p.fired.shape).numpy()
            position += width
    if bias_norm is not None:
        values.append(bias_norm)
    broken = [index for index in range(len(layers))
              if not (math.isfinite(values[3 * index]) and math.isfinite(values[3 * index + 1]))]
    if broken:  # the same on every rank: the norms were reduced
        counts = []
        for index in broken:
            w, g = layers[index][1].weight.detach(), layers[index][1].weight.grad
            g = torch.zeros(0, device=w.device) if g is None else g.detach()
            counts += [w.numel() - torch.isfinite(w).sum(), g.numel() - torch.isfinite(g).sum()]
        mean = ranks.sum(torch.stack([c.to(device, torch.float64) for c in counts])).tolist()
        for slot, index in enumerate(broken):
            grad_count, weight_count = mean[2 * slot + 1] / n, mean[2 * slot] / n
            reduced["layers"][layers[index][0]] = (round(grad_count), round(weight_count))
    return values, reduced
