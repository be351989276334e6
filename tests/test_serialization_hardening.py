"""Hostile files: every malformed safetensors header, npz archive, checkpoint field and saved
architecture raises FileFormatError naming the file and the field; bombs are refused within a
time and memory bound; only regular files are read."""

from __future__ import annotations

import io
import json
import os
import struct
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import containers, nn
from retroprop.architecture import LAYER_ARGUMENTS, describe, model_config
from retroprop.containers import read_npy
from retroprop.serialization import FileFormatError, read_arrays, read_info, write_arrays


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def refused(load: Callable[[Path], Any], path: Path, *words: str) -> str:
    """The message of the FileFormatError (exactly that type) that loading ``path`` raises."""
    with pytest.raises(FileFormatError) as info:
        load(path)
    assert type(info.value) is FileFormatError
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message, (word, message)
    return message


@contextmanager
def bounded(seconds: float, megabytes: float) -> Iterator[None]:
    """Fail when the block takes longer or allocates more (Python and NumPy, via tracemalloc)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f} s"
    assert peak < megabytes * 2**20, f"allocated {peak / 2**20:.1f} MiB"


def safetensors_bytes(header: dict[str, Any] | bytes, data: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def small_model() -> nn.Sequential:
    rp.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def rewritten(tmp_path: Path, source: Path, name: str, edit: Callable[[dict[str, Any]], None],
              arrays_edit: Callable[[dict[str, np.ndarray]], None] | None = None) -> Path:
    """A copy of a retroprop file with edited metadata and a valid checksum (as an attacker can)."""
    arrays, metadata = read_arrays(source)
    edit(metadata)
    if arrays_edit:
        arrays_edit(arrays)
    path = tmp_path / name
    write_arrays(path, arrays, metadata)
    return path


# ---------------------------------------------------------------------------------------------
# safetensors headers
# ---------------------------------------------------------------------------------------------
F32_4 = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}
BAD_HEADERS = {
    "shape-overflows-int64": ({"x": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 16]}},
                              "'x'"),
    "shape-wraps-to-zero": ({"x": {"dtype": "F32", "shape": [2**32, 2**32, 0, 2**62],
                                   "data_offsets": [0, 0]}, "y": F32_4}, "'x'"),
    "shape-product-wraps-to-zero": ({"x": {"dtype": "U8", "shape": [2**32, 2**32], "data_offsets": [0, 0]},
                                     "y": F32_4}, "'x'"),
    "negative-shape": ({"x": {"dtype": "F32", "shape": [-1, -4], "data_offsets": [0, 16]}}, "shape"),
    "float-shape": ({"x": {"dtype": "F32", "shape": [4.0], "data_offsets": [0, 16]}}, "shape"),
    "bool-shape": ({"x": {"dtype": "F32", "shape": [True, 4], "data_offsets": [0, 16]}}, "shape"),
    "string-shape": ({"x": {"dtype": "F32", "shape": "4", "data_offsets": [0, 16]}}, "shape"),
    "object-shape": ({"x": {"dtype": "F32", "shape": {"n": 4}, "data_offsets": [0, 16]}}, "shape"),
    "too-many-dims": ({"x": {"dtype": "F32", "shape": [1] * 100, "data_offsets": [0, 4]}}, "dimensions"),
    "one-offset": ({"x": {"dtype": "F32", "shape": [4], "data_offsets": [16]}}, "data_offsets"),
    "three-offsets": ({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8, 16]}}, "data_offsets"),
    "string-offsets": ({"x": {"dtype": "F32", "shape": [4], "data_offsets": ["0", "16"]}}, "data_offsets"),
    "float-offsets": ({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0.0, 16.0]}}, "data_offsets"),
    "bool-offsets": ({"x": {"dtype": "F32", "shape": [1], "data_offsets": [False, True]}}, "data_offsets"),
    "negative-offsets": ({"x": {"dtype": "F32", "shape": [0], "data_offsets": [-4, -4]}}, "data_offsets"),
    "null-offsets": ({"x": {"dtype": "F32", "shape": [4], "data_offsets": None}}, "data_offsets"),
    "backwards-offsets": ({"x": {"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}}, "backwards"),
    "offsets-past-the-data": ({"x": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}, "truncated"),
    "offsets-too-short-for-shape": ({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]},
                                     "y": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}},
                                    "needs 16 bytes"),
    "overlapping-ranges": ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                            "y": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
                            "z": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}}, "overlap"),
    "same-range-twice": ({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                          "y": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, "overlap"),
    "gap-between-ranges": ({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                            "y": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, "belong to no"),
    "bytes-after-the-last-tensor": ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
                                    "belong to no"),
    "metadata-a-list": ({"__metadata__": ["format", "retroprop"], "x": F32_4}, "__metadata__"),
    "metadata-a-string": ({"__metadata__": "retroprop", "x": F32_4}, "__metadata__"),
    "metadata-number-value": ({"__metadata__": {"format": 1}, "x": F32_4}, "'format'"),
    "metadata-nested-value": ({"__metadata__": {"format": {"a": "b"}}, "x": F32_4}, "'format'"),
    "header-a-list": ([1, 2, 3], "JSON object"),
    "entry-a-number": ({"x": 4}, "'x'"),
    "entry-missing-dtype": ({"x": {"shape": [4], "data_offsets": [0, 16]}}, "missing ['dtype']"),
    "entry-unknown-field": ({"x": {**F32_4, "extra": 1}}, "unknown ['extra']"),
    "dtype-a-number": ({"x": {**F32_4, "dtype": 32}}, "dtype"),
    "dtype-unknown": ({"x": {**F32_4, "dtype": "F128"}}, "unknown dtype F128 for tensor 'x'"),
}


@pytest.mark.parametrize("case", list(BAD_HEADERS))
def test_a_malformed_safetensors_header_names_the_file_and_the_field(tmp_path: Path, case: str) -> None:
    header, word = BAD_HEADERS[case]
    path = write(tmp_path, f"{case}.safetensors", safetensors_bytes(json.dumps(header).encode(), bytes(16)))
    for load in (rp.load, rp.load_state_dict, read_info):
        refused(load, path, word)


@pytest.mark.parametrize("dtype", ["BF16", "F8_E4M3", "F8_E5M2"])
def test_an_unsupported_safetensors_dtype_is_named(tmp_path: Path, dtype: str) -> None:
    header = {"weight": {"dtype": dtype, "shape": [2], "data_offsets": [0, 4]}}
    path = write(tmp_path, "bf16.safetensors", safetensors_bytes(header, bytes(4)))
    refused(rp.load, path, f"unsupported dtype {dtype} for tensor 'weight' (retroprop reads F64, F32, F16,")


@pytest.mark.slow  # importing torch takes seconds
def test_a_bf16_file_made_by_torch_is_named_unsupported(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    path = tmp_path / "torch.safetensors"
    safetensors_torch.save_file({"w": torch.zeros(3, 2, dtype=torch.bfloat16)}, str(path))
    refused(rp.load, path, "unsupported dtype BF16 for tensor 'w'")


def test_duplicate_tensor_names_are_refused(tmp_path: Path) -> None:
    raw = (b'{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
           b'"x":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}')
    path = write(tmp_path, "dup.safetensors", safetensors_bytes(raw, bytes(16)))
    refused(rp.load, path, "'x' appears twice")


@pytest.mark.parametrize("raw", [b"\xff\xfe{}", b'{"x": ', b"{'x': 1}", b"NaN-ish"],
                         ids=["utf8", "cut", "quotes", "junk"])
def test_an_unparsable_header_is_refused(tmp_path: Path, raw: bytes) -> None:
    refused(rp.load, write(tmp_path, "bad.safetensors", safetensors_bytes(raw)), "safetensors header")


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_a_200k_deep_header_is_refused_quickly(tmp_path: Path, opener: str) -> None:
    raw = (opener * 200_000).encode()
    path = write(tmp_path, "deep.safetensors", safetensors_bytes(raw))
    with bounded(seconds=2.0, megabytes=40):
        refused(rp.load, path, "200000 levels deep")


def test_depth_is_measured_outside_strings_only() -> None:
    assert containers.json_depth(b'{"a": "[[[[[[", "b": [["\\"]]]"]]}') == 3
    assert containers.json_depth(b'["\\\\", [1]]') == 2
    assert containers.loads_json('{"k": "' + "[" * 5000 + '"}', "here") == {"k": "[" * 5000}


def test_a_header_length_beyond_the_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "long.safetensors", struct.pack("<Q", 2**63) + b"{}")
    refused(rp.load, path, "exceeds the file")


def test_a_header_above_the_size_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.safetensors"
    rp.save(small_model(), path)
    monkeypatch.setattr(containers, "MAX_HEADER_BYTES", 64)
    refused(rp.load, path, "above the limit")


# ---------------------------------------------------------------------------------------------
# npz archives
# ---------------------------------------------------------------------------------------------
def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_with_header(header: str, payload: bytes = b"", version: tuple[int, int] = (1, 0)) -> bytes:
    text = header.encode("latin1")
    return b"\x93NUMPY" + bytes(version) + struct.pack("<H", len(text)) + text + payload


def zip_of(tmp_path: Path, members: dict[str, bytes], name: str = "bad.npz",
           compression: int = zipfile.ZIP_STORED) -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return path


BAD_MEMBERS = {
    "not-npy": ({"w.txt": b"hello"}, "'w.txt' is not a .npy array"),
    "no-magic": ({"w.npy": b"just some bytes"}, "no NUMPY magic"),
    "object-dtype": ({"w.npy": npy_with_header("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
                                               bytes(16))}, "unsupported .npy dtype"),
    "structured-dtype": ({"w.npy": npy_with_header(
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", bytes(4))},
        "unsupported .npy dtype"),
    "header-not-a-dict": ({"w.npy": npy_with_header("[1, 2, 3]")}, "must be a dict"),
    "header-garbage": ({"w.npy": npy_with_header("{'descr': <f4")}, "unreadable .npy header"),
    "header-code": ({"w.npy": npy_with_header("__import__('os').system('true')")}, "unreadable .npy header"),
    "negative-shape": ({"w.npy": npy_with_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }")},
                       "non-negative"),
    "float-shape": ({"w.npy": npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }",
                                              bytes(8))}, "non-negative integers"),
    "huge-shape": ({"w.npy": npy_with_header(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", bytes(64))},
        "declares shape [1000000000000]"),
    "shape-overflow": ({"w.npy": npy_with_header(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }")}, "too large"),
    "short-payload": ({"w.npy": npy_bytes(np.zeros(4))[:-8]}, "holds 24 bytes"),
    "long-payload": ({"w.npy": npy_bytes(np.zeros(4)) + bytes(8)}, "holds 40 bytes"),
    "fortran-not-bool": ({"w.npy": npy_with_header("{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,), }",
                                                   bytes(4))}, "fortran_order"),
    "version-9": ({"w.npy": npy_with_header("{}", version=(9, 0))}, "version 9.0"),
}


@pytest.mark.parametrize("case", list(BAD_MEMBERS))
def test_a_malformed_npz_member_names_the_file_and_the_member(tmp_path: Path, case: str) -> None:
    members, words = BAD_MEMBERS[case]
    path = zip_of(tmp_path, members)
    for load in (rp.load, rp.load_state_dict, read_info):
        refused(load, path, words)


def test_duplicate_npz_members_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.npz"
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", npy_bytes(np.zeros(2)))
        archive.writestr("w.npy", npy_bytes(np.ones(2)))
    refused(rp.load, path, "'w.npy' appears twice")


def test_an_unsupported_compression_method_is_refused(tmp_path: Path) -> None:
    path = zip_of(tmp_path, {"w.npy": npy_bytes(np.zeros(2))}, compression=zipfile.ZIP_BZIP2)
    refused(rp.load, path, "compression method")


def test_a_renamed_member_of_a_retroprop_npz_is_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    rp.save(small_model(), good)
    members = {}
    with zipfile.ZipFile(good) as archive:
        for info in archive.infolist():
            members[info.filename.replace("0.weight", "0.weigth")] = archive.read(info)
    path = zip_of(tmp_path, members, "renamed.npz")
    refused(read_arrays, path, "checksum mismatch")
    refused(rp.load, path, "0.weight is missing")  # the layout is checked before anything is read


@pytest.mark.parametrize("cut", [10, 200, 1000])
def test_a_truncated_npz_is_refused(tmp_path: Path, cut: int) -> None:
    good = tmp_path / "good.npz"
    rp.save(small_model(), good)
    refused(rp.load, write(tmp_path, "cut.npz", good.read_bytes()[:-cut]))


def test_a_member_claiming_a_trillion_values_is_refused_without_allocating(tmp_path: Path) -> None:
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
    path = zip_of(tmp_path, {"w.npy": npy_with_header(header, bytes(4096))})
    with bounded(seconds=1.0, megabytes=4):
        refused(rp.load, path, "declares shape [1000000000000]")


def test_a_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    count = 8 * 2**20  # 8 MiB of zeros deflate to about 8 KiB
    header = npy_with_header(f"{{'descr': '|u1', 'fortran_order': False, 'shape': ({count},), }}")
    zeros = bytes(2**20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive, \
            archive.open("w.npy", "w") as member:
        member.write(header)
        for _ in range(8):
            member.write(zeros)
    assert path.stat().st_size < count / 900
    with bounded(seconds=1.0, megabytes=4):
        refused(rp.load, path, "ratio above 1000:1")


def test_the_total_uncompressed_size_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.npz"
    rp.save(small_model(), path)
    monkeypatch.setattr(containers, "MAX_NPZ_BYTES", 500)
    refused(rp.load, path, "uncompressed", "MAX_NPZ_BYTES")


def test_read_npy_checks_sizes_and_refuses_objects(tmp_path: Path) -> None:
    good = write(tmp_path, "good.npy", npy_bytes(np.arange(6.0).reshape(2, 3)))
    np.testing.assert_array_equal(read_npy(good), np.arange(6.0).reshape(2, 3))
    fortran = write(tmp_path, "f.npy", npy_bytes(np.asfortranarray(np.arange(6.0).reshape(2, 3))))
    np.testing.assert_array_equal(read_npy(fortran), np.arange(6.0).reshape(2, 3))
    huge = write(tmp_path, "huge.npy", npy_with_header(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", bytes(64)))
    with bounded(seconds=1.0, megabytes=4):
        refused(read_npy, huge, "declares shape")
    objects = write(tmp_path, "obj.npy", npy_with_header(
        "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", bytes(8)))
    refused(read_npy, objects, "never objects")


# ---------------------------------------------------------------------------------------------
# Only regular files, within a size limit
# ---------------------------------------------------------------------------------------------
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
def test_a_symlink_to_dev_zero_is_refused_at_once(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"zero.{fmt}"
    path.symlink_to("/dev/zero")
    with bounded(seconds=1.0, megabytes=4):
        refused(rp.load, path, "is a device, not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "pipe.safetensors"
    os.mkfifo(path)
    with bounded(seconds=1.0, megabytes=4):
        refused(rp.load, path, "FIFO")
        refused(rp.load_checkpoint, path, "FIFO")


def test_a_folder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    path.mkdir()
    refused(rp.load, path, "is a folder")


def test_a_file_above_the_size_limit_is_refused_before_reading(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.safetensors"
    rp.save(small_model(), path)
    monkeypatch.setattr(containers, "MAX_FILE_BYTES", 100)
    refused(rp.load, path, "above the limit", "MAX_FILE_BYTES")


# ---------------------------------------------------------------------------------------------
# Saved architectures
# ---------------------------------------------------------------------------------------------
def with_architecture(architecture: Any) -> Callable[[dict[str, Any]], None]:
    def edit(metadata: dict[str, Any]) -> None:
        metadata["architecture"] = architecture
    return edit


def linear(name: str = "0", **config: Any) -> dict[str, Any]:
    return {"name": name, "class": "Linear", "config": {"in_features": 3, "out_features": 4, "bias": True,
                                                        **config}}


def small_layers(replacement: dict[str, Any]) -> dict[str, Any]:
    """small_model's architecture with its layer 2 (a ReLU, no weights) replaced."""
    config = model_config(small_model())
    config["layers"][2] = replacement
    return config


BAD_ARCHITECTURES = {
    "unknown-class": ({"class": "Sequential", "layers": [{"name": "0", "class": "Conv9d", "config": {}}]},
                      "layer 0: unknown layer class 'Conv9d'"),
    "not-a-retroprop-class": ({"class": "Sequential", "layers": [{"name": "0", "class": "Module"}]},
                              "unknown layer class 'Module'"),
    "unknown-argument": ({"class": "Sequential", "layers": [linear(widht=3)]},
                         "layer 0 (Linear): unknown argument 'widht'"),
    "code-argument": ({"class": "Sequential", "layers": [linear(init="orthogonal")]},
                      "layer 0 (Linear): unknown argument 'init'"),
    "dtype-argument": ({"class": "Sequential", "layers": [linear(dtype="object")]},
                       "layer 0 (Linear): unknown argument 'dtype'"),
    "negative-size": ({"class": "Sequential", "layers": [linear(in_features=-3)]},
                      "argument 'in_features' must be a positive integer"),
    "string-size": ({"class": "Sequential", "layers": [linear(out_features="4")]},
                    "argument 'out_features' must be a positive integer"),
    "bool-bias": ({"class": "Sequential", "layers": [linear(bias=1)]},
                  "argument 'bias' must be true or false"),
    "missing-size": ({"class": "Sequential", "layers": [{"name": "0", "class": "Linear", "config": {}}]},
                     "missing argument 'in_features'"),
    "invalid-value": (small_layers({"name": "2", "class": "Dropout", "config": {"p": 1.5}}),
                      "layer 2 (Dropout): Dropout: p is the drop rate and must be in [0, 1], got 1.5"),
    "nan-argument": (small_layers({"name": "2", "class": "LeakyReLU",
                                   "config": {"negative_slope": float("nan")}}),
                     "layer 2 (LeakyReLU): argument 'negative_slope' must be a finite number"),
    "config-a-list": ({"class": "Sequential", "layers": [{"name": "0", "class": "ReLU", "config": [1]}]},
                      "config must be an object"),
    "layers-not-a-list": ({"class": "Sequential", "layers": {"0": "ReLU"}}, "layers must be a list"),
    "dotted-name": ({"class": "Sequential", "layers": [linear(name="a.b")]}, "without dots"),
    "duplicate-name": ({"class": "Sequential", "layers": [linear(), linear()]}, "appears twice"),
    "unknown-field": ({"class": "Sequential", "layers": [], "code": "x"}, "unknown field 'code'"),
    "not-an-object": ("Sequential", "must be an object"),
    "name-a-list": ({"class": "Sequential", "layers": [{"name": ["a"], "class": "ReLU"}]},
                    "must be a non-empty string"),
    "name-too-long": ({"class": "Sequential", "layers": [linear(name="x" * 100_000)]},
                      "at most 200 characters"),
    "value-too-long-to-quote": (small_layers({"name": "2", "class": "GELU",
                                              "config": {"approximate": "x" * 10**5}}),
                                "layer 2 (GELU): GELU: approximate must be"),
    "too-many-weights": ({"class": "Sequential",
                          "layers": [linear(in_features=100_000, out_features=100_000)]},
                         "MAX_PARAMETERS"),
}


@pytest.mark.parametrize("case", list(BAD_ARCHITECTURES))
@pytest.mark.parametrize("kind", ["model", "checkpoint"])
def test_a_malformed_architecture_names_the_layer_and_the_argument(tmp_path: Path, case: str,
                                                                   kind: str) -> None:
    architecture, words = BAD_ARCHITECTURES[case]
    source = tmp_path / "source.safetensors"
    model = small_model()
    if kind == "model":
        rp.save(model, source)
    else:
        rp.save_checkpoint(source, model, epoch=1)
    path = rewritten(tmp_path, source, "edited.safetensors", with_architecture(architecture))
    short = len(str(path)) + 500  # a value from the file is cut before it is quoted
    assert len(refused(rp.load, path, "the saved architecture", words)) < short
    if kind == "checkpoint":
        assert len(refused(rp.load_checkpoint, path, words)) < short
        # into a given model, a valid-looking layer the constructor would refuse is a difference
        given = ("does not fit",) if case in ("invalid-value", "value-too-long-to-quote") else (words,)
        assert len(refused(lambda p: rp.load_checkpoint(p, small_model()), path, *given)) < short


def test_weights_that_do_not_match_the_architecture_are_refused_before_building(tmp_path: Path) -> None:
    source = tmp_path / "m.npz"
    rp.save(small_model(), source)
    wider = {"class": "Sequential", "layers": [linear(out_features=5)]}
    path = rewritten(tmp_path, source, "wider.npz", with_architecture(wider))
    refused(rp.load, path, "weights do not fit the saved architecture")

    def swap(arrays: dict[str, np.ndarray]) -> None:
        arrays["1.running_mean"] = np.zeros(4, dtype=np.int64)

    path = rewritten(tmp_path, source, "ints.npz", lambda m: None, swap)
    refused(rp.load, path, "1.running_mean is int64")


def test_a_tiny_file_describing_a_huge_model_is_refused_fast_with_little_memory(tmp_path: Path) -> None:
    """The reported bomb: a few hundred bytes, a valid checksum, and Linear(100000, 100000)."""
    architecture = {"class": "Sequential", "layers": [linear(in_features=100_000, out_features=100_000)]}
    path = tmp_path / "bomb.safetensors"
    write_arrays(path, {}, {"kind": "model", "architecture": architecture, "dtype": "float32"})
    assert path.stat().st_size < 600
    with bounded(seconds=1.0, megabytes=4):
        refused(rp.load, path, "MAX_PARAMETERS")
    # under the absolute cap, the file's own size is the limit: it cannot describe more weights
    # than it holds
    architecture = {"class": "Sequential", "layers": [linear(in_features=20_000, out_features=10_000)]}
    write_arrays(path, {"0.weight": np.zeros((4, 3), np.float32)},
                 {"kind": "model", "architecture": architecture, "dtype": "float32"})
    with bounded(seconds=1.0, megabytes=4):
        refused(rp.load, path, "it needs 200,010,000 weights, the file holds 12")


def test_every_registered_layer_has_its_arguments_and_weights_described() -> None:
    from retroprop.nn import LAYERS

    assert set(LAYERS) - {"Sequential"} == set(LAYER_ARGUMENTS)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), nn.LeakyReLU(0.2), nn.ELU(0.5), nn.SELU(), nn.GELU("tanh"),
        nn.Identity(), nn.BatchNorm1d(8, affine=False), nn.BatchNorm1d(8), nn.Dropout(0.3),
        nn.Linear(8, 8, bias=False), nn.Sigmoid(), nn.Tanh(), nn.Softmax(-1), nn.LogSoftmax(1),
        nn.Standardize(8), nn.Sequential(nn.Linear(8, 2)),
    )
    for layer in model.modules():
        if type(layer).__name__ != "Sequential":
            assert set(layer.get_config()) <= set(LAYER_ARGUMENTS[type(layer).__name__])
    _, layout = describe(model_config(model))
    state = model.state_dict()
    assert list(layout) == list(state)
    for name, (shape, kind) in layout.items():
        assert state[name].shape == shape
        fixed = name in ("16.mean", "16.scale")  # Standardize's statistics stay float64
        assert state[name].dtype == (np.int64 if kind != "float" else np.float64 if fixed else np.float32)


def test_loading_a_model_does_not_draw_from_the_global_generator(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    rp.save(small_model(), path)
    rp.manual_seed(5)
    expected = rp.default_generator().random(3)
    rp.manual_seed(5)
    loaded = rp.load(path)
    np.testing.assert_array_equal(rp.default_generator().random(3), expected)
    # the loaded layers still initialize as any new Linear does
    rp.manual_seed(7)
    fresh = nn.Linear(3, 4)
    rp.manual_seed(7)
    loaded[0].reset_parameters()
    np.testing.assert_array_equal(loaded[0].weight.data, fresh.weight.data)
    np.testing.assert_array_equal(loaded[0].bias.data, fresh.bias.data)


# ---------------------------------------------------------------------------------------------
# Checkpoint fields
# ---------------------------------------------------------------------------------------------
def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(metadata: dict[str, Any]) -> None:
        metadata[key] = value
    return edit


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def edit(metadata: dict[str, Any]) -> None:
        del metadata[key]
    return edit


BAD_FIELDS = {
    "epoch-a-string": (_set("epoch", "3"), "field 'epoch'"),
    "epoch-a-float": (_set("epoch", 2.5), "field 'epoch'"),
    "epoch-negative": (_set("epoch", -1), "field 'epoch'"),
    "epoch-a-bool": (_set("epoch", True), "field 'epoch'"),
    "epoch-missing": (_drop("epoch"), "field 'epoch'"),
    "rng-a-string": (_set("rng", "PCG64"), "field 'rng'"),
    "rng-empty": (_set("rng", {}), "field 'rng'"),
    "rng-other-generator": (_set("rng", {"bit_generator": "MT19937", "state": {"key": [1], "pos": 0}}),
                            "field 'rng'"),
    "rng-bad-state": (_set("rng", {"bit_generator": "PCG64", "state": {"state": "x", "inc": 1},
                                   "has_uint32": 0, "uinteger": 0}), "field 'rng'"),
    "rng-missing": (_drop("rng"), "field 'rng'"),
    "optimizer-missing-array": (_set("optimizer", {"__array__": "optimizer/nowhere"}), "'optimizer/nowhere'"),
    "optimizer-model-array": (_set("optimizer", {"__array__": "model/0.weight"}), "'model/0.weight'"),
    "optimizer-unknown-marker": (_set("optimizer", {"__pickle__": "cos\nsystem"}), "unrecognized entry"),
    "optimizer-bad-pair": (_set("optimizer", {"__dict__": [[1]]}), "[key, value] pair"),
    "optimizer-object-scalar": (_set("optimizer", {"__scalar__": 1, "dtype": "object"}), "numeric dtype"),
    "optimizer-string-scalar": (_set("optimizer", {"__scalar__": "1", "dtype": "float32"}), "numeric dtype"),
    "optimizer-not-a-state": (_set("optimizer", {"__dict__": [["state", 1]]}), "field 'optimizer'"),
    "optimizer-wrong-shape": (_set("optimizer", {"__dict__": [["state", {"__dict__": [[0, {"__dict__": [
        ["momentum_buffer", [1.0, 2.0]]]}]]}], ["param_groups", [{"__dict__": [
            ["lr", 0.1], ["momentum", 0.9], ["dampening", 0], ["weight_decay", 0], ["nesterov", False],
            ["maximize", False], ["params", [0, 1, 2, 3, 4, 5]]]}]]]}), "field 'optimizer'"),
    "optimizer-other-kind": (_set("optimizer_class", "Adam"), "holds Adam optimizer state, not SGD state"),
    "history-a-string": (_set("history", "all good"), "field 'history'"),
    "history-text-loss": (_set("history", {"history": {"loss": ["low"]}, "epoch": [0], "step_loss": [],
                                           "wall_time": 1.0}), "field 'history': its 'history'"),
    "history-missing-part": (_set("history", {"history": {}, "epoch": []}), "field 'history'"),
    "history-float-epoch": (_set("history", {"history": {}, "epoch": [0.5], "step_loss": [],
                                             "wall_time": 1.0}), "field 'history': its 'epoch'"),
    "history-negative-time": (_set("history", {"history": {}, "epoch": [], "step_loss": [],
                                               "wall_time": -1}), "field 'history': its 'wall_time'"),
    "history-more-values-than-epochs": (_set("history", {"history": {"loss": [1.0, 2.0, 3.0]}, "epoch": [0],
                                                         "step_loss": [], "wall_time": 1.0}),
                                        "'loss' holds 3 values for 1 epochs"),
    "history-negative-epoch": (_set("history", {"history": {}, "epoch": [-3], "step_loss": [],
                                                "wall_time": 1.0}), "field 'history': its 'epoch'"),
    "dtype-object": (_set("dtype", "object"), "field 'dtype'"),
    "kind-other": (_set("kind", "pickle"), "not a checkpoint"),
}


@pytest.fixture
def checkpoint(tmp_path: Path) -> tuple[Path, nn.Sequential, rp.optim.SGD]:
    model = small_model()
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = np.random.default_rng(0).normal(size=(16, 3)), np.arange(16) % 2
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=optimizer, epochs=1, batch_size=8,
                     verbose=0)
    path = tmp_path / "ckpt.safetensors"
    rp.save_checkpoint(path, model, optimizer, epoch=1, history=history)
    return path, model, optimizer


def snapshot(model: nn.Module, optimizer: Any) -> tuple[dict[str, np.ndarray], Any, dict[str, Any]]:
    import copy

    return (dict(model.state_dict()), copy.deepcopy(optimizer.state_dict()),
            copy.deepcopy(rp.default_generator().bit_generator.state))


def assert_unchanged(before: tuple[Any, Any, Any], model: nn.Module, optimizer: Any) -> None:
    weights, opt_state, rng = before
    after = model.state_dict()
    for key, value in weights.items():
        assert after[key].tobytes() == value.tobytes(), key
    now = optimizer.state_dict()
    assert now["param_groups"] == opt_state["param_groups"]
    assert now["state"].keys() == opt_state["state"].keys()
    for index, entries in opt_state["state"].items():
        for name, value in entries.items():
            assert np.asarray(now["state"][index][name]).tobytes() == np.asarray(value).tobytes()
    assert rp.default_generator().bit_generator.state == rng


@pytest.mark.parametrize("case", list(BAD_FIELDS))
def test_a_malformed_checkpoint_field_is_named_and_changes_nothing(
        tmp_path: Path, checkpoint: tuple[Path, nn.Sequential, Any], case: str) -> None:
    source = checkpoint[0]
    edit, words = BAD_FIELDS[case]

    def drop_optimizer_arrays(arrays: dict[str, np.ndarray]) -> None:
        if case.startswith("optimizer-") and case != "optimizer-other-kind":
            for name in [n for n in arrays if n.startswith("optimizer/")]:
                del arrays[name]

    path = rewritten(tmp_path, source, "edited.safetensors", edit, drop_optimizer_arrays)
    rp.manual_seed(42)
    other = small_model()
    other_optimizer = rp.optim.SGD(other.parameters(), lr=0.5, momentum=0.5)
    other.train()
    rp.fit(other, np.ones((4, 3)), np.array([0, 1, 0, 1]), loss="cross_entropy", optimizer=other_optimizer,
           epochs=1, batch_size=2, verbose=0)  # some optimizer state to protect
    before = snapshot(other, other_optimizer)
    refused(lambda p: rp.load_checkpoint(p, other, other_optimizer), path, words)
    assert_unchanged(before, other, other_optimizer)
    if case != "optimizer-other-kind":
        refused(rp.load_checkpoint, path, words)


def test_an_array_that_belongs_to_no_field_is_refused(tmp_path: Path,
                                                      checkpoint: tuple[Path, Any, Any]) -> None:
    def add(arrays: dict[str, np.ndarray]) -> None:
        arrays["stowaway"] = np.zeros(3)

    path = rewritten(tmp_path, checkpoint[0], "extra.safetensors", lambda m: None, add)
    refused(rp.load_checkpoint, path, "'stowaway' belongs to no field")


def test_read_info_verifies_the_checksum(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    rp.save(small_model(), path, info={"loss": "mse"})
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    refused(read_info, path, "checksum mismatch")
