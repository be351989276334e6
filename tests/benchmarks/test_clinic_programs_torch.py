"""The clinic's programs as torch twins (benchmarks/clinic/programs/_torch_twin.py), without the doctor.

A few representative programs are trained for their first steps both plainly in torch and by ``rp.fit``
(``doctor=False``): every step's loss must agree to 1e-3 relative (float32 on the same weights, batches
and Dropout masks differs by summation order only, ~1e-7). Together they cover fit's loss names, the
Keras-semantics and hand-written TensorFlow losses, a loss given as a function, Dropout whose masks and
shuffles share fit's generator across epochs, BatchNorm, a fixed custom output layer, a program fit
seeds itself and one it does not, and SGD (Nesterov), Adam and RMSprop. The converter must refuse what
it cannot reproduce rather than change it. The doctor is never run on the programs here (the lead's
measurement is their unseen test): the watched loop's plumbing is checked on a made-up program only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

import retroprop as rp  # noqa: E402
from retroprop.callbacks import Callback  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.clinic.programs import Program, load_programs  # noqa: E402
from benchmarks.clinic.programs import _torch_run as runner  # noqa: E402
from benchmarks.clinic.programs import _torch_twin as twins  # noqa: E402
from benchmarks.clinic.programs import run as clinic  # noqa: E402

PROGRAMS = load_programs("all")
STEPS = 20
RTOL = runner.PARITY_RTOL

REPRESENTATIVE = [
    ("deepchecker_basecnn_missing_softmax", "buggy"),  # hand-written clipped log loss, SGD + weight decay
    ("deepfd_31556268_xor_mae", "buggy"),  # a loss function, Nesterov SGD, Keras's binary accuracy
    ("deepfd_59278771_iris_sigmoid_output", "buggy"),  # Keras's categorical cross-entropy on sigmoids
    ("deeplocalize_48594888_few_epochs_large_batch", "fixed"),  # Dropout and shuffles over 7 epochs
    ("stackoverflow_binary_cnn_softmax", "buggy"),  # BatchNorm, LeakyReLU, softmax; fit not seeded
    ("deepchecker_regrnn_summed_loss", "fixed"),  # the fixed Rescale output layer, Adam + weight decay
    ("deeplocalize_golnn_adam_low_lr", "buggy"),  # Conv2d layers, Keras's binary cross-entropy
    ("autotrainer_case26_exponential_overflow", "buggy"),  # a program's own module (torch_twin): NaN at once
    ("deeplocalize_facialkeypoints_adam_lr01", "fixed"),  # a program's own optimizer (torch_twin)
    ("deepchecker_ips7_linear_output_logloss", "buggy"),  # naive binary cross-entropy: NaN at step 1
    ("deepchecker_ips7_linear_output_logloss", "fixed"),  # TensorFlow's sigmoid cross-entropy
    ("deepfd_51181393_rmsprop_default_lr", "buggy"),  # RMSprop
]


class StopAfter(Callback):
    """Stop ``rp.fit`` after ``steps`` steps."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps, self.seen = steps, 0

    def on_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen >= self.steps:
            self.model.stop_training = True


def fit_steps(program: Program, steps: int) -> list[float]:
    p = program
    with np.errstate(all="ignore"):
        history = rp.fit(p.model, p.x_train, p.y_train, loss=p.loss, optimizer=p.optimizer, epochs=p.epochs,
                         batch_size=p.batch_size, validation_data=(p.x_val, p.y_val), verbose=0, doctor=False,
                         callbacks=[StopAfter(steps)], **p.fit_options)
    return list(history._step_loss)


@pytest.mark.parametrize(("name", "version"), REPRESENTATIVE)
def test_first_steps_match_rp_fit(name, version):
    torch.set_num_threads(1)
    module = PROGRAMS[name]
    twin = twins.convert(getattr(module, version)(0))
    torch_losses = twins.train(twin, max_steps=STEPS).step_loss
    rp_losses = fit_steps(getattr(module, version)(0), STEPS)
    # both stop where fit stops (a non-finite loss), else after the steps asked for
    assert len(torch_losses) == len(rp_losses) >= 1
    assert len(rp_losses) == min(STEPS, twin.program.epochs * twin.steps_per_epoch) or not np.isfinite(
        rp_losses[-1])
    gaps = runner.relative_gaps(torch_losses, rp_losses)
    assert gaps.max() <= RTOL, f"{name} {version}: step {int(gaps.argmax()) + 1} differs by {gaps.max():.2e}"


@pytest.mark.slow
def test_every_program_converts_or_says_why():
    for name, module in PROGRAMS.items():
        for version in ("buggy", "fixed"):
            try:
                twin = twins.convert(getattr(module, version)(0))
            except twins.Unsupported as err:
                assert str(err), name
                continue
            assert twin.steps_per_epoch >= 1
            # the same initial weights, one for one
            for mine, theirs in zip(twin.program.model.parameters(), twin.model.parameters(), strict=True):
                np.testing.assert_array_equal(mine.data, theirs.detach().numpy())


@pytest.mark.parametrize("name", ["deepfd_50079585_one_sigmoid_three_classes",
                                  "deepchecker_regrnn_double_norm"])
def test_untrained_score_matches_run_score(name):
    """The torch model's score (fit's own metric functions on its outputs) equals ``run.score`` on the
    retroprop model it copies: a classification with a program's own metric, and a regression."""
    program = PROGRAMS[name].buggy(0)
    twin = twins.convert(program)
    assert twins.score(twin) == pytest.approx(clinic.score(program, program.model), rel=1e-5)


def test_fit_dropout_draws_retroprops_masks():
    x = np.ones((64, 50), dtype=np.float32)
    rp_layer, torch_layer = rp.nn.Dropout(0.3), twins.FitDropout(0.3, np.random.default_rng(5))
    rp.manual_seed(5)
    for _ in range(3):  # successive draws from one generator
        mine = rp_layer(rp.tensor(x)).data
        theirs = torch_layer(torch.from_numpy(x)).numpy()
        np.testing.assert_array_equal(mine, theirs)
    torch_layer.eval()
    np.testing.assert_array_equal(torch_layer(torch.from_numpy(x)).numpy(), x)


def _tiny(model: rp.nn.Module, **options) -> Program:
    x = np.zeros((8, 3), dtype=np.float32)
    y = np.zeros(8, dtype=np.int64)
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.1), x, y, x, y, loss="cross_entropy",
                   epochs=1, batch_size=4, fit_options=options)


def test_unsupported_module_option_and_loss_are_refused():
    with pytest.raises(twins.Unsupported, match="GELU"):
        twins.convert(_tiny(rp.nn.Sequential(rp.nn.Linear(3, 2), rp.nn.GELU())))
    with pytest.raises(twins.Unsupported, match="scheduler"):
        model = rp.nn.Sequential(rp.nn.Linear(3, 2))
        twins.convert(_tiny(model, scheduler=object()))
    program = _tiny(rp.nn.Sequential(rp.nn.Linear(3, 2)))
    program.loss = lambda output, target: output.sum()
    with pytest.raises(twins.Unsupported, match="loss"):
        twins.convert(program)


def test_relative_gaps_treat_equal_non_finite_values_as_equal():
    gaps = runner.relative_gaps([1.0, float("nan"), float("inf"), 2.0, float("nan")],
                                [1.0, float("nan"), float("inf"), 2.002, 1.0])
    assert gaps[:3].tolist() == [0.0, 0.0, 0.0]
    assert gaps[3] == pytest.approx(0.002 / 2.002)
    assert gaps[4] == np.inf


def _synthetic(lr: float) -> Program:
    """Not one of the clinic's programs (the doctor is never run on those here): three blobs, an MLP."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 240)
    x = (rng.normal(size=(240, 4)) + y[:, None]).astype(np.float32)
    rp.manual_seed(0)
    model = rp.nn.Sequential(rp.nn.Linear(4, 16), rp.nn.ReLU(), rp.nn.Dropout(0.2), rp.nn.Linear(16, 3))
    return Program(model, rp.optim.SGD(model.parameters(), lr=lr), x[:180], y[:180], x[180:], y[180:],
                   loss="cross_entropy", epochs=3, batch_size=20, fit_options={"seed": 0})


@pytest.mark.parametrize(("lr", "repair"), [(0.05, False), (1e6, True)])
def test_the_watched_loop_runs_end_to_end_on_a_synthetic_program(lr, repair):
    """The measurement's plumbing (watch, observe, end_epoch, finish, treatments, score) on a made-up
    program: a healthy one, and one whose updates blow up under a repairing doctor."""
    outcome = runner.watched(twins.convert(_synthetic(lr)), repair=repair)
    assert outcome.error is None
    assert 0.0 <= outcome.score <= 1.0
    assert set(outcome.first_step) == set(outcome.fired)
