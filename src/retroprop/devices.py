"""torch's device API as a no-op on the CPU, and torch's ``to(...)`` arguments (``rp.device`` is
the class here; this module is ``devices`` so that the class does not hide it).

retroprop computes with NumPy on the CPU, so the one device is ``rp.device("cpu")``. What torch
scripts write to pick and move to a device works unchanged: ``device=`` arguments on the factories,
``x.to(device)``, ``x.to(device, dtype)``, ``x.cpu()``, ``x.device``, ``rp.cuda.is_available()``,
``rp.backends.mps.is_available()`` and ``rp.accelerator.is_available()`` (all False),
``rp.set_default_device("cpu")``, ``rp.cuda.manual_seed_all`` (ignored, as torch ignores it without
CUDA). Naming an accelerator (``"cuda"``, ``"mps"``, an index) raises ``DeviceError`` at once, where
torch builds the device and raises at the first move: retroprop has nowhere to move to.
"""

from __future__ import annotations

import re
import sys
from types import ModuleType
from typing import Any

import numpy as np

from retroprop import ops
from retroprop.tensor import Tensor, as_array

# torch's device types (torch.device's error lists them): all but the CPU name hardware
# retroprop cannot use
_TORCH_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
                       "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                       "privateuseone")
_DEVICE_STRING = re.compile(r"([A-Za-z_]+)(?::(0|[1-9][0-9]*))?")


class DeviceError(ValueError, RuntimeError):
    """A device other than the CPU, or a device string torch would not read.

    A ``RuntimeError``, as torch raises for device strings, and a ``ValueError`` (retroprop's
    bad-argument errors)."""


def _cpu_only(name: str, where: str) -> DeviceError:
    return DeviceError(
        f"{where}: retroprop runs on the CPU only, so device {name!r} is not available "
        "(rp.cuda.is_available() and rp.backends.mps.is_available() are False); use 'cpu' "
        "or leave device out"
    )


class device:  # torch's name (torch.device)
    """torch's ``torch.device``: ``device("cpu")``, ``device("cpu:0")``, ``device("cpu", 0)``.

    Any other device type raises ``DeviceError`` naming that retroprop runs on the CPU only."""

    __slots__ = ("_index", "_type")

    def __init__(self, type: Any, index: int | None = None) -> None:
        if isinstance(type, device):
            if index is not None:
                raise TypeError("rp.device: give an index only with a device type string")
            self._type, self._index = type._type, type._index
            return
        if isinstance(type, (int, np.integer)) and not isinstance(type, (bool, np.bool_)):
            raise _cpu_only(f"accelerator {int(type)}", "rp.device")  # torch: an accelerator index
        if not isinstance(type, str):
            raise TypeError(f"rp.device: expected a device string such as 'cpu', got "
                            f"{_type_name(type)}")
        match = _DEVICE_STRING.fullmatch(type)
        if match is None:
            raise DeviceError(f"rp.device: invalid device string {type!r} (expected 'cpu' or "
                              "'cpu:<index>')")
        if match[1] not in _TORCH_DEVICE_TYPES:
            raise DeviceError(f"rp.device: expected one of {', '.join(_TORCH_DEVICE_TYPES)} device "
                              f"type at the start of device string {type!r}")
        if match[1] != "cpu":
            raise _cpu_only(type, "rp.device")
        if match[2] is not None:
            if index is not None:
                raise DeviceError(f"rp.device: device string {type!r} already names an index; "
                                  f"got index={index!r} too")
            index = int(match[2])
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise TypeError(f"rp.device: index must be an int, got {_type_name(index)}")
            if index < 0:
                raise DeviceError(f"rp.device: device index must not be negative, got {index}")
            index = int(index)
        self._type, self._index = "cpu", index

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self) -> int | None:
        return self._index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, device):
            return NotImplemented
        return (self._type, self._index) == (other._type, other._index)

    def __hash__(self) -> int:
        return hash((self._type, self._index))

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        index = "" if self._index is None else f", index={self._index}"
        return f"device(type={self._type!r}{index})"

    def __reduce__(self) -> Any:
        return (device, (self._type, self._index))


CPU = device("cpu")  # where every tensor lives (torch reports a CPU tensor's device without index)


def _type_name(value: Any) -> str:
    return type(value).__name__


def _names_device(value: Any) -> bool:
    """True for what torch reads as a device: a string, a device (``type`` a string, unlike a NumPy
    dtype's) or an accelerator index."""
    if isinstance(value, (str, device)) or isinstance(getattr(value, "type", None), str):
        return True
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def resolve_device(value: Any, where: str) -> device:
    """The device a ``device=`` argument names: None, 'cpu', ``rp.device('cpu')`` or an object
    with ``type == 'cpu'`` (a ``torch.device``); anything else raises ``DeviceError``."""
    if value is None or isinstance(value, device):
        return CPU
    if isinstance(value, str) or (_names_device(value) and not hasattr(value, "type")):
        try:
            device(value)
        except DeviceError as err:
            raise DeviceError(str(err).replace("rp.device", where, 1)) from None
        return CPU
    kind = getattr(value, "type", None)
    if isinstance(kind, str):  # torch.device and lookalikes
        if kind != "cpu":
            raise _cpu_only(str(value), where)
        return CPU
    raise TypeError(f"{where}: device must be a string such as 'cpu' or an rp.device, got "
                    f"{_type_name(value)}")


def resolve_dtype(value: Any, where: str) -> np.dtype:
    """A ``dtype=`` argument as a NumPy dtype (``rp.float32``, ``rp.long``, ``np.int64``, Python's
    ``float``/``int``/``bool``, a NumPy dtype); types a tensor cannot hold raise ``TypeError``."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"{where}: {value!r} is not a dtype (use rp.float32, rp.int64, rp.bool, ...)") \
            from None
    as_array(np.zeros(0, dtype), copy=False)  # raises retroprop's unsupported-dtype TypeError
    return dtype


_TO_FORMS = ("to(dtype, non_blocking=False, copy=False), to(device=None, dtype=None, "
             "non_blocking=False, copy=False) or to(other_tensor, non_blocking=False, copy=False)")


def parse_to(args: tuple[Any, ...], kwargs: dict[str, Any], where: str) -> tuple[np.dtype | None, bool]:
    """Read torch's ``to(...)`` arguments: the target dtype (None: keep it) and ``copy``.

    Devices are checked (the CPU only); ``non_blocking`` and ``memory_format`` are accepted and
    ignored, as on a CPU they change nothing."""
    kwargs = dict(kwargs)
    target_device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    flags = [kwargs.pop("non_blocking", None), kwargs.pop("copy", None)]
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"{where}() got an unexpected keyword argument {next(iter(kwargs))!r}; "
                        f"expected {_TO_FORMS}")
    rest = list(args)
    if rest and isinstance(rest[0], Tensor):
        if target_device is not None or dtype is not None:
            raise TypeError(f"{where}(): give a tensor or device/dtype, not both; expected {_TO_FORMS}")
        dtype = rest.pop(0).dtype
    elif rest and _names_device(rest[0]):
        if target_device is not None:
            raise TypeError(f"{where}(): device given twice; expected {_TO_FORMS}")
        target_device = rest.pop(0)
        if rest and not isinstance(rest[0], bool):
            if dtype is not None:
                raise TypeError(f"{where}(): dtype given twice; expected {_TO_FORMS}")
            dtype = rest.pop(0)
    elif rest:
        if dtype is not None:
            raise TypeError(f"{where}(): dtype given twice; expected {_TO_FORMS}")
        dtype = rest.pop(0)
    if len(rest) > 2 or not all(isinstance(flag, bool) for flag in rest):
        raise TypeError(f"{where}(): unexpected arguments {tuple(args)!r}; expected {_TO_FORMS}")
    for position, flag in enumerate(rest):
        if flags[position] is not None:
            raise TypeError(f"{where}(): {('non_blocking', 'copy')[position]} given twice")
        flags[position] = flag
    resolve_device(target_device, where)
    return (None if dtype is None else resolve_dtype(dtype, where)), bool(flags[1])


def cuda_error(where: str) -> DeviceError:
    """The error for ``.cuda()``: retroprop has no GPU to move to."""
    return _cpu_only("cuda", where)


# ---------------------------------------------------------------------------------------------
# Tensor methods (torch's names)
# ---------------------------------------------------------------------------------------------
def _to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """torch's ``Tensor.to``: this tensor itself when nothing changes (and ``copy`` is False), else a
    cast copy; a floating-point result stays in the graph, an integer or bool one does not."""
    dtype, copy = parse_to(args, kwargs, "Tensor.to")
    if dtype is None or dtype == self.dtype:
        if not copy:
            return self
        dtype = self.dtype
    if dtype.kind != "f":  # torch: integer and bool tensors carry no gradient
        return Tensor._make(self._data.astype(dtype))
    return ops.Cast.apply(self, dtype=dtype)


def _cpu(self: Tensor, memory_format: Any = None) -> Tensor:
    """This tensor itself: it is on the CPU already (torch returns ``self`` then too)."""
    return self


def _cuda(self: Tensor, device: Any = None, non_blocking: bool = False, memory_format: Any = None) -> Tensor:
    raise cuda_error("Tensor.cuda")


def _converter(dtype: Any, name: str) -> Any:
    def convert(self: Tensor, memory_format: Any = None) -> Tensor:
        return _to(self, dtype)

    convert.__name__ = convert.__qualname__ = name
    convert.__doc__ = f"``self.to({np.dtype(dtype).name})`` (torch's ``Tensor.{name}``)."
    return convert


_TENSOR_METHODS: dict[str, Any] = {
    "to": _to,
    "cpu": _cpu,
    "cuda": _cuda,
    "device": property(lambda self: CPU, doc="Where the tensor lives: always rp.device('cpu')."),
    "is_cuda": property(lambda self: False, doc="False: retroprop runs on the CPU only."),
    "is_cpu": property(lambda self: True, doc="True: retroprop runs on the CPU only."),
    "float": _converter(np.float32, "float"),
    "double": _converter(np.float64, "double"),
    "long": _converter(np.int64, "long"),
    "int": _converter(np.int32, "int"),
    "bool": _converter(np.bool_, "bool"),
    "half": _converter(np.float16, "half"),
}
for _name, _method in _TENSOR_METHODS.items():
    setattr(Tensor, _name, _method)


# ---------------------------------------------------------------------------------------------
# rp.cuda and rp.backends: torch's availability queries, answered for a CPU-only library
# ---------------------------------------------------------------------------------------------
def _false() -> bool:
    return False


def _ignored_seed(seed: int) -> None:
    """Ignored, as torch ignores CUDA seeds where CUDA is unavailable (seed with rp.manual_seed)."""


def _no_cuda() -> int:
    raise cuda_error("rp.cuda.current_device")


def _namespace(name: str, doc: str, **members: Any) -> ModuleType:
    module = ModuleType(name, doc)
    for key, value in members.items():
        setattr(module, key, value)
    sys.modules.setdefault(name, module)  # `import retroprop.backends.cudnn as cudnn` works too
    return module


cuda = _namespace(
    "retroprop.cuda", "torch.cuda's queries: no CUDA device is available to retroprop.",
    is_available=_false, is_initialized=_false, device_count=lambda: 0, current_device=_no_cuda,
    manual_seed=_ignored_seed, manual_seed_all=_ignored_seed,
)
mps = _namespace("retroprop.backends.mps", "torch.backends.mps's queries: no MPS device.",
                 is_available=_false, is_built=_false)
cudnn = _namespace("retroprop.backends.cudnn",
                   "torch.backends.cudnn's switches: accepted, with no effect on the CPU.",
                   is_available=_false, enabled=True, deterministic=False, benchmark=False)
backends = _namespace("retroprop.backends", "torch.backends's queries for a CPU-only library.",
                      mps=mps, cudnn=cudnn)
accelerator = _namespace(
    "retroprop.accelerator", "torch.accelerator's queries: no accelerator is available to retroprop.",
    is_available=_false, device_count=lambda: 0,
    current_accelerator=lambda check_available=False: None,
)


def set_default_device(device: Any) -> None:
    """torch's ``set_default_device``: the CPU (or None) is accepted and changes nothing; any other
    device raises ``DeviceError``."""
    resolve_device(device, "rp.set_default_device")


def get_default_device() -> device:
    """Where factories put tensors: always ``rp.device('cpu')``."""
    return CPU
