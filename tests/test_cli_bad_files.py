"""Every family of bad input, through the command line: a model file, a spec or a data file that
cannot be used is one line on stderr and exit status 2, never a traceback, and quickly."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.serialization import write_arrays
from tests.test_cli import cli, no_traceback


def refused(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    no_traceback(result)
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def safetensors(path: Path, header: dict | bytes, data: bytes = b"") -> Path:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    np.save(folder / "x.npy", np.zeros((3, 4)))
    return folder


MALFORMED_HEADERS = {
    "overflowing shape": {"w": {"dtype": "F32", "shape": [2**40, 2**40, 2**40], "data_offsets": [0, 16]}},
    "shape that wraps to 0": {"w": {"dtype": "F32", "shape": [2**32, 2**32], "data_offsets": [0, 0]}},
    "negative shape": {"w": {"dtype": "F32", "shape": [-1, 4], "data_offsets": [0, 16]}},
    "float shape": {"w": {"dtype": "F32", "shape": [1.5, 4], "data_offsets": [0, 16]}},
    "metadata of the wrong type": {"__metadata__": [1, 2], "w": {"dtype": "F32", "shape": [4],
                                                                 "data_offsets": [0, 16]}},
    "overlapping byte ranges": {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}},
    "unsupported dtype": {"w": {"dtype": "BF16", "shape": [8], "data_offsets": [0, 16]}},
}


@pytest.mark.parametrize("name", list(MALFORMED_HEADERS))
def test_malformed_safetensors_headers(inputs, tmp_path, name):
    path = safetensors(tmp_path / "m.safetensors", MALFORMED_HEADERS[name], b"\0" * 16)
    refused(cli("predict", str(path), "--input", str(inputs / "x.npy")), "m.safetensors")


def test_a_deeply_nested_header_and_a_truncated_file(inputs, tmp_path):
    deep = safetensors(tmp_path / "deep.safetensors", b"[" * 200_000 + b"]" * 200_000)
    refused(cli("predict", str(deep), "--input", str(inputs / "x.npy")), "deep.safetensors")
    rp.manual_seed(0)
    good = tmp_path / "good.safetensors"
    rp.save(nn.Sequential(nn.Linear(4, 3)), good)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-7])
    refused(cli("evaluate", str(cut), "--data", str(inputs / "x.npy")), "cut.safetensors")
    npz = tmp_path / "m.npz"
    npz.write_bytes(b"PK\x03\x04 not really a zip")
    refused(cli("predict", str(npz), "--input", str(inputs / "x.npy")), "m.npz")


def architecture(**config) -> dict:
    return {"class": "Sequential", "layers": [{"name": "0", "class": "Linear", "config": config}]}


@pytest.mark.parametrize("metadata", [
    {"kind": "model", "architecture": architecture(in_features=4, out_features=3, bias=True, colour="red"),
     "dtype": "float32"},  # an unknown constructor argument (with a valid checksum)
    {"kind": "model", "architecture": architecture(in_features=100_000, out_features=100_000, bias=True),
     "dtype": "float32"},  # 10**10 parameters declared over a few bytes
    {"kind": "model", "architecture": {"class": "Sequential"}, "dtype": "float32"},  # no layers
    {"kind": "checkpoint", "dtype": "float32"},  # a checkpoint without its fields
    {"kind": "spaceship", "architecture": architecture(in_features=4, out_features=3, bias=True)},
])
def test_model_files_with_missing_or_wrong_fields(inputs, tmp_path, metadata):
    path = tmp_path / "m.safetensors"
    arrays = {"0.weight": np.zeros((3, 4), np.float32), "0.bias": np.zeros(3, np.float32)}
    write_arrays(path, arrays, metadata)
    refused(cli("predict", str(path), "--input", str(inputs / "x.npy"), timeout=60), "m.safetensors")


# ---------------------------------------------------------------------------------------------
# specs
# ---------------------------------------------------------------------------------------------
def digits(**changes) -> dict:
    return {"data": {"name": "digits"}, "model": {"layers": [{"type": "linear", "units": 8}, "relu",
                                                              {"type": "linear"}]},
            "optimizer": {"name": "sgd", "lr": 0.1}, "epochs": 1, **changes}


@pytest.mark.parametrize("name, text, fragment", [
    ("huge-units.json", json.dumps(digits(model={"layers": [{"type": "linear", "units": 2**70},
                                                            {"type": "linear"}]})), "units"),
    ("billion-units.json", json.dumps(digits(model={"layers": [{"type": "linear", "units": 10**9},
                                                               {"type": "linear"}]})), "units"),
    ("deep.json", '{"data": ' + "[" * 200_000 + "]" * 200_000 + "}", "deep.json"),
    ("deep.yaml", "data: " + "[" * 200_000 + "]" * 200_000 + "\n", "deep.yaml"),
    ("laughs.yaml", "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
     + "data: *i\n", "laughs.yaml"),
    ("unknown.json", json.dumps(digits(optimiser={"name": "sgd"})), "optimiser"),
    ("text.json", json.dumps("digits"), "text.json"),
    ("binary.yaml", "\udcff", "binary.yaml"),
])
def test_bad_specs(tmp_path, name, text, fragment):
    path = tmp_path / name
    if text == "\udcff":
        path.write_bytes(b"\xff\xfe\x00binary")
    else:
        path.write_text(text)
    refused(cli("train" if name.endswith(".json") else "diagnose", str(path), timeout=60), fragment)


# ---------------------------------------------------------------------------------------------
# data files given to evaluate and predict
# ---------------------------------------------------------------------------------------------
def test_bad_data_files(tmp_path):
    rp.manual_seed(0)
    model = tmp_path / "m.safetensors"
    rp.save(nn.Sequential(nn.Linear(4, 3)), model)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    refused(cli("predict", str(model), "--input", str(tmp_path / "objects.npy")), "objects.npy",
            "never objects")
    (tmp_path / "empty.csv").write_text("")
    refused(cli("predict", str(model), "--input", str(tmp_path / "empty.csv")), "empty.csv")
    (tmp_path / "latin.csv").write_bytes(b"caf\xe9,1,2,3\n")
    refused(cli("predict", str(model), "--input", str(tmp_path / "latin.csv")), "not UTF-8")
    (tmp_path / "zero.npy").symlink_to("/dev/zero")
    zero = cli("predict", str(model), "--input", str(tmp_path / "zero.npy"), timeout=30)
    refused(zero, "not a regular file")
    (tmp_path / "fake.npz").write_bytes(b"not a zip archive")
    refused(cli("predict", str(model), "--input", str(tmp_path / "fake.npz")), "fake.npz")
    refused(cli("evaluate", str(model), "--data", str(tmp_path / "fake.npz")), "fake.npz")
    np.savez(tmp_path / "strings.npz", x=np.array([["a", "b", "c", "d"]]), y=np.array([0]))
    refused(cli("evaluate", str(model), "--data", str(tmp_path / "strings.npz")), "strings.npz")
    refused(cli("evaluate", str(model), "--data", str(tmp_path / "missing.csv")), "missing.csv")
