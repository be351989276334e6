"""The clinic's PyTorch scripts (benchmarks/clinic/scripts/): every folder follows the protocol, and the
runner scores a script pair as ``programs/run.py`` scores a program (on a tiny pair written here)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from retroprop.doctor.diagnosis import PROBLEMS

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.clinic.scripts import run as runner

FOLDERS = {folder.name: folder for folder in runner.folders()}


def test_the_held_out_scripts_are_there():
    assert len(FOLDERS) >= 4


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_each_folder_follows_the_protocol(name):
    case = runner.load_case(FOLDERS[name])
    for key in ("source", "symptom", "fix", "data"):
        assert isinstance(case.meta[key], str) and case.meta[key].strip(), f"{name}: {key} must be given"
    assert set(case.expected) <= set(PROBLEMS) and set(case.allowed) <= set(PROBLEMS), name
    assert not set(case.expected) & set(case.allowed), name
    for script in ("buggy.py", "fixed.py"):
        text = (case.folder / script).read_text()
        assert "retroprop" not in text, f"{name}/{script}: the scripts know nothing of retroprop"
        assert "RESULT val_" in text and "sys.argv" in text, f"{name}/{script}: a seed argument, a RESULT"


def test_the_result_line_is_the_last_one_printed():
    printed = "epoch 1\nRESULT val_accuracy=0.5\nRESULT val_accuracy=0.75\n"
    assert runner.parse_result(printed) == (0.75, False)
    assert runner.parse_result("RESULT val_error=1.5e-3") == (1.5e-3, True)
    assert runner.parse_result("RESULT val_accuracy=nan") is not None
    assert runner.parse_result("no result") is None


def test_a_folder_without_its_case_file_is_refused(tmp_path):
    (tmp_path / "broken").mkdir()
    with pytest.raises(runner.CaseError, match=r"no case\.toml"):
        runner.load_cases(tmp_path)
    (tmp_path / "broken" / "case.toml").write_text('source = "s"\n')
    with pytest.raises(runner.CaseError, match=r"missing symptom, fix, data, expected, allowed"):
        runner.load_cases(tmp_path)


SCRIPT = """\
import sys
import torch
from torch import nn

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
torch.set_num_threads(1)
x = torch.randn(320, 16)
y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
layers = []
for i in range(DEPTH):
    layers += [nn.Linear(16 if i == 0 else 32, 32), ACT()]
model = nn.Sequential(*layers, nn.Linear(32, 3))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(EPOCHS):
    for i in range(0, 256, 32):
        optimizer.zero_grad()
        loss = loss_fn(model(x[i:i + 32]), y[i:i + 32])
        loss.backward()
        optimizer.step()
with torch.no_grad():
    accuracy = (model(x[256:]).argmax(1) == y[256:]).float().mean().item()
print(f"RESULT val_accuracy={accuracy}")
"""


@pytest.mark.torch
def test_the_runner_scores_a_pair_end_to_end(tmp_path):
    pytest.importorskip("torch")
    folder = tmp_path / "deep_sigmoid"
    folder.mkdir()
    (folder / "buggy.py").write_text(SCRIPT.replace("DEPTH", "8").replace("ACT", "nn.Sigmoid")
                                     .replace("EPOCHS", "3"))
    (folder / "fixed.py").write_text(SCRIPT.replace("DEPTH", "2").replace("ACT", "nn.ReLU")
                                     .replace("EPOCHS", "10"))
    (folder / "case.toml").write_text(textwrap.dedent("""\
        source = "written for this test"
        symptom = "a deep sigmoid MLP does not learn"
        fix = "two ReLU layers"
        data = "generated"
        expected = ["vanishing_gradients"]
        allowed = ["slow_convergence", "underfitting"]
        """))
    result = runner.main(["--root", str(tmp_path), "--no-repair", "--json", str(tmp_path / "r.json")])
    case = result["cases"][0]
    assert case["name"] == "deep_sigmoid" and case["split"] == "heldout" and not case["regression"]
    assert "vanishing_gradients" in case["buggy"]["fired"] and case["buggy"]["error"] is None
    assert case["fixed"]["score"] > case["buggy"]["score"] and case["fixed"]["error"] is None
    assert result["splits"]["heldout"]["alarm"] == 1 and (tmp_path / "r.json").is_file()


def _case_file(folder: Path, extra: str = "") -> None:
    folder.mkdir()
    for script in ("buggy.py", "fixed.py"):
        (folder / script).write_text("")
    (folder / "case.toml").write_text('source = "s"\nsymptom = "s"\nfix = "f"\ndata = "d"\n'
                                      f'expected = ["underfitting"]\nallowed = []\n{extra}')


def test_a_folder_is_of_round_one_unless_its_case_file_says_otherwise(tmp_path):
    _case_file(tmp_path / "first")
    _case_file(tmp_path / "second", "round = 2\n")
    cases = runner.load_cases(tmp_path)
    assert (cases["first"].round, cases["second"].round) == (1, 2)
    _case_file(tmp_path / "third", 'round = "two"\n')
    with pytest.raises(runner.CaseError, match=r"round must be a whole number"):
        runner.load_cases(tmp_path)


def test_rounds_that_select_nothing_are_refused(tmp_path):
    _case_file(tmp_path / "first")
    with pytest.raises(SystemExit, match=r"no script folder of those rounds"):
        runner.main(["--root", str(tmp_path), "--rounds", "3"])
    with pytest.raises(SystemExit, match=r"expected round numbers"):
        runner.main(["--root", str(tmp_path), "--rounds", "x"])
