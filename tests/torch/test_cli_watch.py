"""``retroprop watch train.py``: unmodified PyTorch scripts, written here into a temporary folder, run
with the doctor attached to every optimizer they create (in-process through ``main``, and once in a
subprocess as users run it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop.cli import main  # noqa: E402
from retroprop.history import History  # noqa: E402
from retroprop.run_record import RunRecord  # noqa: E402
from retroprop.torch import watch  # noqa: E402

nn = torch.nn

PRELUDE = """\
import sys
import torch
from torch import nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)
x = torch.randn(256, 16, generator=torch.Generator().manual_seed(0))
y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
"""

DEEP_SIGMOID = """\
class DeepSigmoid(nn.Module):
    def __init__(self, depth=8, width=32):
        super().__init__()
        layers = []
        for i in range(depth):
            layers += [nn.Linear(16 if i == 0 else width, width), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 3)

    def forward(self, x):
        return self.head(self.body(x))
"""

LOOP = """\
loss_fn = nn.CrossEntropyLoss()
for epoch in range(EPOCHS):
    for i in range(0, 256, 32):
        optimizer.zero_grad()
        loss = loss_fn(model(x[i:i + 32]), y[i:i + 32])
        loss.backward()
        optimizer.step()
    AFTER_EPOCH
    print(f"epoch {epoch}: loss {loss.item():.4f}")
"""


def script(folder: Path, *parts: str, epochs: int = 2, after_epoch: str = "pass") -> Path:
    """A training script as people write one: no line of it knows about retroprop."""
    loop = LOOP.replace("EPOCHS", str(epochs)).replace("AFTER_EPOCH", after_epoch)
    path = folder / "train.py"
    text = "\n".join([PRELUDE, *parts, loop])
    path.write_text(text)
    return path


SIGMOID_SCRIPT = (DEEP_SIGMOID, "model = DeepSigmoid()\n"
                                "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n")


def run(*args: str | Path) -> int:
    return main(["watch", *map(str, args)])


def no_patches_left() -> None:
    """The optimizer class, autograd and the module hooks are as before the run."""
    from torch.nn.modules import module

    assert torch.optim.Optimizer.__init__.__qualname__ == "Optimizer.__init__"
    assert torch.autograd.backward.__module__ == "torch.autograd"
    assert torch.amp.GradScaler.scale.__qualname__ == "GradScaler.scale"
    assert not module._global_forward_pre_hooks


def test_a_deep_sigmoid_script_gets_vanishing_gradients_on_its_first_linear(tmp_path, capsys):
    path = script(tmp_path, *SIGMOID_SCRIPT)
    report = tmp_path / "run.html"
    assert run("--report", report, path) == 3
    out = capsys.readouterr().out
    assert "epoch 1: loss" in out  # the script ran as under python, printing as it goes
    assert "== model `model` (DeepSigmoid), optimizer `optimizer` (SGD): 16 steps ==" in out
    assert "vanishing_gradients  layer 1, Linear 16→32 (body.0)" in out
    assert "the loss rules did not run" not in out  # the loss was read from loss.backward()
    assert "the validation rules (overfitting, validation) did not run" in out
    assert out.rstrip().endswith("problems found: vanishing_gradients")
    assert report.is_file() and "vanishing_gradients" in report.read_text()
    no_patches_left()


def test_the_diagnoses_are_those_of_watch_with_observe_in_the_same_loop(tmp_path, capsys):
    """The global hooks see what ``watch(model, optimizer)`` plus ``observe(loss)`` see."""
    path = script(tmp_path, *SIGMOID_SCRIPT, epochs=3)
    record = tmp_path / "run.json"
    assert run("--json", "--report", tmp_path / "run.html", "--record", record, path) == 3
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # stdout is only the JSON: the script's prints went to stderr
    assert "epoch 2: loss" in captured.err
    (model_entry,) = result["models"]
    names = (model_entry["model"], model_entry["optimizer"], model_entry["steps"])
    assert names == ("model", "optimizer", 24)
    assert result["script_status"] == 0 and not result["healthy"]

    namespace: dict = {}
    exec(compile("\n".join([PRELUDE, *SIGMOID_SCRIPT]), "direct", "exec"), namespace)
    model, optimizer = namespace["model"], namespace["optimizer"]
    doctor = watch(model, optimizer)
    x, y, loss_fn = namespace["x"], namespace["y"], nn.CrossEntropyLoss()
    losses = []
    for _ in range(3):
        for i in range(0, 256, 32):
            optimizer.zero_grad()
            loss = loss_fn(model(x[i:i + 32]), y[i:i + 32])
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
            losses.append(loss.item())
    doctor.finish()
    saved = RunRecord.load(record)  # what the probes saw, from the first step on, and every step's loss
    assert list(saved.step_loss) == losses
    direct = RunRecord.from_run(History(), doctor.core)
    assert [(p.step, [(a.layer, a.mean) for a in p.activations]) for p in saved.probes] == [
        (p.step, [(a.layer, a.mean) for a in p.activations]) for p in direct.probes]
    assert saved.probes[0].step == 0 and len(saved.probes[0].activations) == 8
    expected = [(d.problem, d.layer, d.step, d.evidence) for d in doctor.diagnoses]
    assert expected and expected[0][:2] == ("vanishing_gradients", "body.0")
    got = [[d["problem"], d["layer"], d["step"], d["evidence"]] for d in model_entry["diagnoses"]]
    assert json.loads(json.dumps(expected, default=float)) == got
    passed = [d.to_dict() for d in doctor.passed]
    assert model_entry["passed"] == json.loads(json.dumps(passed, default=float))


def test_a_healthy_script_exits_0(tmp_path, capsys):
    model = ("model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), "
             "nn.Linear(32, 3))\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)\n")
    path = script(tmp_path, model, epochs=5)
    assert run("--report", tmp_path / "run.html", path) == 0
    out = capsys.readouterr().out
    assert "No problems found in 40 steps." in out and out.rstrip().endswith("healthy")
    assert (tmp_path / "run.html").is_file()


@pytest.mark.parametrize(("ending", "status", "said"), [
    ("raise RuntimeError('the data loader broke')", 1, "RuntimeError: the data loader broke"),
    ("raise KeyboardInterrupt", 130, "train.py was interrupted"),
    ("sys.exit(4)", 4, ""),
])
def test_a_script_that_stops_midway_still_gets_its_diagnoses_and_report(tmp_path, capsys, ending, status,
                                                                        said):
    path = script(tmp_path, *SIGMOID_SCRIPT, epochs=4, after_epoch=f"if epoch == 1:\n        {ending}")
    report = tmp_path / "run.html"
    assert run("--report", report, path) == status
    captured = capsys.readouterr()
    assert "epoch 0: loss" in captured.out and "epoch 1: loss" not in captured.out
    assert "16 steps ==" in captured.out and "vanishing_gradients" in captured.out
    assert report.is_file()
    assert said in captured.err
    if status == 1:  # the script's traceback, as Python prints it: from the script on
        assert "Traceback (most recent call last)" in captured.err and str(path) in captured.err
        assert "runpy" not in captured.err and "retroprop" not in captured.err.replace(str(tmp_path), "")
    no_patches_left()


def test_dead_units_behind_f_relu_in_a_custom_module(tmp_path, capsys):
    model = textwrap.dedent("""\
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1, self.fc2, self.out = nn.Linear(16, 64), nn.Linear(64, 64), nn.Linear(64, 3)

            def forward(self, x):
                return self.out(F.relu(self.fc2(F.relu(self.fc1(x)))))

        def build():
            net = Net()
            with torch.no_grad():
                net.fc1.bias[:48] = -50.0  # three quarters of fc1's units never fire
            return net

        model = build()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        """)
    path = script(tmp_path, model, epochs=10)
    assert run("--json", "--report", tmp_path / "run.html", path) == 3
    (entry,) = json.loads(capsys.readouterr().out)["models"]
    dead = [d for d in entry["diagnoses"] if d["problem"] == "dead_relu"]
    assert [d["layer"] for d in dead] == ["fc2[input]"]
    assert (dead[0]["evidence"]["dead_share"], dead[0]["evidence"]["dead_units"]) == (0.75, 48)


def test_two_optimizers_get_a_doctor_each(tmp_path, capsys):
    """GAN-style: each optimizer's model is found and diagnosed on its own; the loss of each step is
    the one back-propagated just before it."""
    models = (DEEP_SIGMOID, textwrap.dedent("""\
        def main():
            generator = DeepSigmoid()
            critic = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1))
            g_opt = torch.optim.SGD(generator.parameters(), lr=0.1)
            c_opt = torch.optim.Adam(critic.parameters(), lr=1e-3)
            for step in range(16):
                i = step % 8 * 32
                c_opt.zero_grad()
                c_loss = critic(generator(x[i:i + 32]).detach()).pow(2).mean()
                c_loss.backward()
                c_opt.step()
                g_opt.zero_grad()
                g_loss = nn.functional.cross_entropy(generator(x[i:i + 32]), y[i:i + 32])
                g_loss.backward()
                g_opt.step()

        if __name__ == "__main__":
            main()
        """))
    path = tmp_path / "gan.py"
    path.write_text("\n".join([PRELUDE, *models]))
    report = tmp_path / "run.html"
    assert run("--report", report, path) == 3
    out = capsys.readouterr().out
    generator, critic = out.split("== model `critic`")
    assert "== model `generator` (DeepSigmoid), optimizer `g_opt` (SGD): 16 steps ==" in generator
    assert "vanishing_gradients" in generator and "(body.0)" in generator
    assert critic.startswith(" (Sequential), optimizer `c_opt` (Adam): 16 steps ==")
    assert "No problems found in 16 steps." in critic
    assert report.is_file() and (tmp_path / "run-2.html").is_file()


def test_modules_called_one_after_the_other_are_watched_together(tmp_path, capsys):
    """One optimizer over an encoder and a decoder that no module holds: both are watched, as one."""
    parts = textwrap.dedent("""\
        def half(first):
            layers = []
            for i in range(4):
                layers += [nn.Linear(16 if first and i == 0 else 32, 32), nn.Sigmoid()]
            return nn.Sequential(*layers)

        encoder, decoder = half(True), nn.Sequential(half(False), nn.Linear(32, 3))
        optimizer = torch.optim.SGD([*encoder.parameters(), *decoder.parameters()], lr=0.1)
        model = lambda batch: decoder(encoder(batch))
        """)
    path = script(tmp_path, parts)
    record = tmp_path / "run.json"
    assert run("--json", "--report", tmp_path / "run.html", "--record", record, path) == 3
    (entry,) = json.loads(capsys.readouterr().out)["models"]
    assert entry["steps"] == 16
    # each encoder-then-decoder call is one pass: every probe sees the 8 sigmoids once, in order
    names = [f"encoder.{i}" for i in range(1, 8, 2)] + [f"decoder.0.{i}" for i in range(1, 8, 2)]
    probes = RunRecord.load(record).probes
    assert probes[0].step == 0 and not probes[0].activations  # attached at the first backward, after it
    assert len(probes) >= 3 and all([a.layer for a in p.activations] == names for p in probes[1:])
    first = entry["diagnoses"][0]
    assert (first["problem"], first["layer"]) == ("vanishing_gradients", "encoder.0")


@pytest.mark.parametrize("evaluate_first", [False, True])
def test_a_loop_calling_model_forward_gets_its_first_batch_read_before_the_doctor_attaches(
        tmp_path, capsys, evaluate_first):
    """``model.forward(x)`` calls no hook of the model's own: its Linear layers are found one by one
    and watched together from the first backward pass, after the first batch went by. The batch is
    read where it entered the first of them (in training, with gradients: an evaluation under
    no_grad first is passed over), so the raw heart rates (near 92) are named before the first step."""
    path = tmp_path / "heart.py"
    evaluation = "with torch.no_grad():\n    model.forward(torch.zeros(8, 1))\n" if evaluate_first else ""
    path.write_text(textwrap.dedent("""\
        import torch
        from torch import nn

        torch.manual_seed(0)
        x = torch.round(92.0 + 6.0 * torch.randn(400, 1, generator=torch.Generator().manual_seed(0)))
        y = (x > 91).float()

        class HeartRate(nn.Module):
            def __init__(self):
                super().__init__()
                self.linear, self.linear2 = nn.Linear(1, 4), nn.Linear(4, 1)

            def forward(self, x):
                return torch.sigmoid(self.linear2(torch.sigmoid(self.linear(x))))

        model = HeartRate()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        """) + evaluation + textwrap.dedent("""\
        for epoch in range(5):
            optimizer.zero_grad()
            loss = nn.BCELoss()(model.forward(x), y)
            loss.backward()
            optimizer.step()
        """))
    assert run("--json", "--report", tmp_path / "run.html", path) == 3
    (entry,) = json.loads(capsys.readouterr().out)["models"]
    (first,) = [d for d in entry["diagnoses"] if d["problem"] == "unscaled_inputs"]
    assert first["step"] == 0 and first["evidence"]["input_rms"] > 50
    # named as the script names the model, its layers as the model names them
    assert (entry["model"], entry["model_class"]) == ("model", "HeartRate")
    assert run("--report", tmp_path / "run.html", path) == 3
    assert ("== model `model` (HeartRate, watched through its modules `linear` (Linear) + `linear2` "
            "(Linear)), optimizer `optimizer` (Adam): 5 steps ==") in capsys.readouterr().out
    no_patches_left()


def test_the_loss_of_a_mixed_precision_loop_is_read_before_scaling(tmp_path, capsys):
    loop = textwrap.dedent("""\
        model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 16)
        losses = []
        for i in range(0, 256, 32):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.item())
        print("LOSSES", losses)
        """)
    path = tmp_path / "amp.py"
    path.write_text("\n".join([PRELUDE, loop]))
    record = tmp_path / "run.json"
    run("--record", record, "--report", tmp_path / "run.html", path)
    printed = capsys.readouterr().out.split("LOSSES ")[1].splitlines()[0]
    assert list(RunRecord.load(record).step_loss) == json.loads(printed)
    no_patches_left()


def test_the_script_runs_as_under_python(tmp_path, capsys):
    (tmp_path / "helper.py").write_text("VALUE = 42\n")
    seen = tmp_path / "seen.json"
    path = tmp_path / "show.py"
    path.write_text(textwrap.dedent(f"""\
        import json, sys
        import helper  # a module next to the script
        json.dump({{"argv": sys.argv, "name": __name__, "file": __file__, "path0": sys.path[0],
                   "value": helper.VALUE}}, open({str(seen)!r}, "w"))
        """))
    path.write_text(path.read_text() + "import os\nos.chdir(os.path.dirname(os.getcwd()))\n")
    argv, path_before, folder = sys.argv[:], sys.path[:], os.getcwd()
    status = run("--report", tmp_path / "run.html", path, "--epochs", "3", "-h")
    assert json.loads(seen.read_text()) == {"argv": [str(path), "--epochs", "3", "-h"], "name": "__main__",
                                            "file": str(path), "path0": str(tmp_path), "value": 42}
    assert sys.argv == argv and sys.path == path_before and os.getcwd() == folder
    assert status == 3 and "nothing was watched: the script created no optimizer" in capsys.readouterr().out
    assert not (tmp_path / "run.html").exists()


def test_usage_errors_exit_2_before_the_script_runs(tmp_path, capsys):
    assert run(tmp_path / "missing.py") == 2
    err = capsys.readouterr().err
    assert err.strip() == f"retroprop watch: error: {tmp_path / 'missing.py'}: no such file; expected the " \
                          "training script to run (a .py file)"
    marker = tmp_path / "ran"
    path = tmp_path / "train.py"
    path.write_text(f"open({str(marker)!r}, 'w').close()\n")
    assert run("--report", tmp_path / "run.txt", path) == 2
    assert "run.txt" in capsys.readouterr().err and not marker.exists()
    with pytest.raises(SystemExit) as exit_info:
        run("--every", "0", path)
    assert exit_info.value.code == 2 and not marker.exists()


def test_in_a_subprocess_as_users_run_it(tmp_path):
    script(tmp_path, *SIGMOID_SCRIPT)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "retroprop", "watch", "train.py"], capture_output=True,
                            text=True, timeout=300, check=False, cwd=tmp_path, env=env)
    assert result.returncode == 3, result.stderr
    assert "vanishing_gradients  layer 1, Linear 16→32 (body.0)" in result.stdout
    assert "report written to retroprop-watch.html" in result.stdout
    assert (tmp_path / "retroprop-watch.html").is_file()


def test_an_optimizer_built_on_a_model_created_again_is_named_on_the_model_trained(tmp_path, capsys):
    """spro/practical-pytorch issue 9: the optimizer holds the first instance's parameters, the loop
    trains a second. No module holding the optimizer's parameters is ever called; once that has lasted
    ``GIVE_UP_BACKWARDS`` backward passes, the called module the loss reaches is watched with it."""
    from retroprop.cli.watch import GIVE_UP_BACKWARDS

    setup = ("model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3))\n"
             "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
             "model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3))  # created again\n")
    epochs = GIVE_UP_BACKWARDS // 8 + 4
    assert run("--json", "--report", tmp_path / "run.html", script(tmp_path, setup, epochs=epochs)) == 3
    found = json.loads(capsys.readouterr().out)
    (model,) = found["models"]
    first = model["diagnoses"][0]
    assert (first["problem"], first["evidence"]["case"]) == ("unregistered_parameters",
                                                            "optimizer_holds_none")
    assert first["remedies"][0]["id"] == "build_optimizer"
    assert model["steps"] == epochs * 8 - GIVE_UP_BACKWARDS + 1
    assert found["not_watched"] == []
    no_patches_left()
    # the optimizer over the model trained: nothing of the kind
    fixed = setup.replace("model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3))  # created "
                          "again\n", "")
    run("--json", "--report", tmp_path / "fixed.html", script(tmp_path, fixed, epochs=epochs))
    (model,) = json.loads(capsys.readouterr().out)["models"]
    assert "unregistered_parameters" not in model["problems"]
