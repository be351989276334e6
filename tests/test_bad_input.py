"""Bad input gets a clear exception: the message names the argument or layer, what was received and
what was expected, and (for data given to fit) it comes before any training."""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.callbacks import LambdaCallback
from retroprop.serialization import FileFormatError


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def data(n: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype(np.float32), np.arange(n) % 3


def model(seed: int = 0) -> nn.Sequential:
    rp.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def fit(m: nn.Module, x: object, y: object, **kwargs: object) -> rp.History:
    kwargs.setdefault("loss", "cross_entropy")
    kwargs.setdefault("optimizer", rp.optim.SGD(m.parameters(), lr=0.1))
    kwargs.setdefault("verbose", 0)
    kwargs.setdefault("batch_size", 4)
    return rp.fit(m, x, y, **kwargs)


class Started:
    """A callback that records whether training began at all."""

    def __init__(self) -> None:
        self.began = False
        self.callback = LambdaCallback(on_train_begin=lambda logs: setattr(self, "began", True))


def assert_untouched(m: nn.Module, before: dict[str, np.ndarray]) -> None:
    after = m.state_dict()
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=key)


def message_of(info: pytest.ExceptionInfo) -> str:
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# Shapes: a Linear fed the wrong width
# ---------------------------------------------------------------------------------------------
def test_linear_wrong_width_names_the_layer_and_both_sizes() -> None:
    layer = nn.Linear(4, 8)
    with pytest.raises(rp.ShapeError) as info:
        layer(rp.randn(2, 5))
    message = message_of(info)
    assert "Linear 4→8" in message
    assert "4" in message and "5 features" in message
    assert "(2, 5)" in message


def test_linear_wrong_width_inside_sequential_names_the_layer_path() -> None:
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(5, 3))
    with pytest.raises(rp.ShapeError) as info:
        net(rp.randn(2, 4))
    message = message_of(info)
    assert "layer '2'" in message
    assert "Linear 5→3" in message
    assert "expects 5" in message and "6 features" in message


def test_linear_wrong_width_in_a_nested_sequential_names_the_dotted_path() -> None:
    net = nn.Sequential(OrderedDict(
        encoder=nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(7, 3)),
        head=nn.Linear(3, 2),
    ))
    with pytest.raises(rp.ShapeError) as info:
        net(rp.randn(2, 4))
    message = message_of(info)
    assert "layer 'encoder.2'" in message
    assert "Linear 7→3" in message and "6 features" in message


def test_linear_wrong_width_through_fit_and_predict() -> None:
    x, y = data()
    m = model()
    before = m.state_dict()
    with pytest.raises(rp.ShapeError, match=r"layer '0'.*Linear 4→8.*3 features"):
        fit(m, x[:, :3], y)
    assert_untouched(m, before)
    with pytest.raises(rp.ShapeError, match=r"Linear 4→8.*6 features"):
        rp.predict(m, np.zeros((2, 6)))


# ---------------------------------------------------------------------------------------------
# Class labels
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [3, 7, -1])
def test_labels_outside_the_class_range_in_fit(bad: int) -> None:
    x, y = data()
    y = y.copy()
    y[5] = bad
    with pytest.raises(ValueError) as info:
        fit(model(), x, y)
    message = message_of(info)
    assert "[0, 3)" in message
    assert f"got {bad}" in message


@pytest.mark.parametrize("where", ["y", "validation_data"])
def test_labels_outside_the_class_range_are_refused_before_training(where: str) -> None:
    x, y = data(40)
    y = y.copy()
    bad_y = y.copy()
    bad_y[37] = 3
    m = model()
    before = m.state_dict()
    started = Started()
    if where == "y":
        args = {"x": x, "y": bad_y}
    else:
        args = {"x": x, "y": y, "validation_data": (x, bad_y)}
    with pytest.raises(ValueError) as info:
        rp.fit(m, args["x"], args["y"], loss="cross_entropy", optimizer=rp.optim.SGD(m.parameters(), lr=0.1),
               batch_size=4, validation_data=args.get("validation_data"), callbacks=[started.callback],
               verbose=0)
    message = message_of(info)
    assert re.search(rf"\b{where.split('_')[0]}", message)
    assert "37" in message and "3" in message
    assert not started.began
    assert_untouched(m, before)


@pytest.mark.parametrize("loss", [rp.F.cross_entropy, nn.CrossEntropyLoss(), rp.F.nll_loss, nn.NLLLoss()],
                         ids=["F.cross_entropy", "CrossEntropyLoss", "F.nll_loss", "NLLLoss"])
def test_labels_outside_the_class_range_in_the_loss(loss: object) -> None:
    logits = rp.randn(4, 3)
    with pytest.raises(ValueError) as info:
        loss(logits, np.array([0, 1, 5, 2]))
    message = message_of(info)
    assert "[0, 3)" in message and "got 5" in message and "position 2" in message
    with pytest.raises(ValueError, match=r"got -2"):
        loss(logits, np.array([0, -2, 1, 2]))


def test_non_integer_float_labels_in_fit() -> None:
    x, _ = data()
    y = np.zeros(20)
    y[3] = 0.5
    m = model()
    before = m.state_dict()
    with pytest.raises(TypeError) as info:
        fit(m, x, y)
    message = message_of(info)
    assert "fit" in message and "y" in message
    assert "integer" in message and "0.5" in message
    assert_untouched(m, before)


def test_integer_valued_float_labels_are_accepted_by_fit() -> None:
    x, y = data()
    history = fit(model(), x, y.astype(np.float64), epochs=1)
    assert np.isfinite(history.step_loss).all()


@pytest.mark.parametrize("loss", [rp.F.cross_entropy, nn.CrossEntropyLoss(), rp.F.nll_loss],
                         ids=["F.cross_entropy", "CrossEntropyLoss", "F.nll_loss"])
def test_float_labels_in_the_loss(loss: object) -> None:
    with pytest.raises(TypeError) as info:
        loss(rp.randn(2, 3), np.array([0.5, 1.0]))
    message = message_of(info)
    assert "integer" in message and "float64" in message


def test_column_vector_labels_for_cross_entropy_name_both_shapes() -> None:
    x, y = data()
    with pytest.raises(rp.ShapeError) as info:
        fit(model(), x, y[:, None])
    message = message_of(info)
    assert "cross_entropy" in message and "(4, 1)" in message and "(4,)" in message


def test_regression_target_shape_mismatch_names_both_shapes() -> None:
    x, _ = data()
    net = nn.Sequential(nn.Linear(4, 1))
    with pytest.raises(rp.ShapeError) as info:
        fit(net, x, np.zeros(20, dtype=np.float32), loss="mse")
    message = message_of(info)
    assert "mse_loss" in message and "(4, 1)" in message and "(4,)" in message


def test_string_labels_are_refused() -> None:
    x, _ = data(4)
    with pytest.raises(TypeError, match=r"fit: y.*dtype"):
        fit(model(), x, np.array(["a", "b", "c", "a"]))


# ---------------------------------------------------------------------------------------------
# Data given to fit
# ---------------------------------------------------------------------------------------------
def test_x_and_y_length_mismatch() -> None:
    x, y = data()
    with pytest.raises(ValueError) as info:
        fit(model(), x, y[:-3])
    message = message_of(info)
    assert "x has 20 samples" in message and "y has 17" in message
    with pytest.raises(ValueError, match="x_val has 20 samples but y_val has 5"):
        fit(model(), x, y, validation_data=(x, y[:5]))
    with pytest.raises(ValueError, match="x has 20 samples but y has 19"):
        rp.evaluate(model(), x, y[:19], loss="cross_entropy")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("where", ["x", "y", "x_val", "y_val"])
def test_nan_or_inf_in_the_data_is_refused_before_any_training(where: str, value: float) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4)).astype(np.float32)
    y = rng.normal(size=(20, 3)).astype(np.float32)  # regression targets: floats that can be NaN
    arrays = {"x": x.copy(), "y": y.copy(), "x_val": x.copy(), "y_val": y.copy()}
    arrays[where][7, 1] = value
    m = model()
    before = m.state_dict()
    started = Started()
    with pytest.raises(ValueError) as info:
        fit(m, arrays["x"], arrays["y"], loss="mse", validation_data=(arrays["x_val"], arrays["y_val"]),
            callbacks=[started.callback])
    message = message_of(info)
    assert "NaN or Inf" in message
    assert re.search(rf"\b{where}\b", message)
    assert "(7, 1)" in message
    assert not started.began
    assert_untouched(m, before)


def test_nan_in_x_is_refused_by_evaluate_and_predict() -> None:
    x, y = data()
    x[2, 0] = np.nan
    with pytest.raises(ValueError, match=r"evaluate: x contains NaN"):
        rp.evaluate(model(), x, y, loss="cross_entropy")
    with pytest.raises(ValueError, match=r"predict: x contains NaN"):
        rp.predict(model(), x)


def test_an_empty_dataset() -> None:
    m = model()
    with pytest.raises(ValueError, match=r"fit: x is empty"):
        fit(m, np.zeros((0, 4), dtype=np.float32), np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match=r"evaluate: x is empty"):
        rp.evaluate(m, np.zeros((0, 4)), np.zeros(0, dtype=np.int64), loss="cross_entropy")
    with pytest.raises(ValueError, match=r"predict: x must hold at least one sample.*\(0, 4\)"):
        rp.predict(m, np.zeros((0, 4)))
    with pytest.raises(ValueError, match=r"sample axis"):
        fit(m, np.float32(1.0), np.int64(0))


def test_non_numeric_x_is_refused() -> None:
    with pytest.raises(TypeError, match=r"fit: x.*numbers.*dtype"):
        fit(model(), [["a", "b", "c", "d"]] * 4, [0, 1, 2, 0])


# ---------------------------------------------------------------------------------------------
# fit's options
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [0, -1, -32])
def test_batch_size_must_be_positive(batch_size: int) -> None:
    x, y = data()
    with pytest.raises(ValueError) as info:
        fit(model(), x, y, batch_size=batch_size)
    message = message_of(info)
    assert "batch_size" in message and "> 0" in message and str(batch_size) in message


@pytest.mark.parametrize("batch_size", [2.5, "8", True, None])
def test_batch_size_must_be_an_integer(batch_size: object) -> None:
    x, y = data()
    with pytest.raises(TypeError, match=r"fit: batch_size must be an integer"):
        fit(model(), x, y, batch_size=batch_size)


@pytest.mark.parametrize("epochs", [-1, -10])
def test_epochs_must_not_be_negative(epochs: int) -> None:
    x, y = data()
    with pytest.raises(ValueError) as info:
        fit(model(), x, y, epochs=epochs)
    message = message_of(info)
    assert "epochs" in message and ">= 0" in message and str(epochs) in message


def test_epochs_must_be_an_integer() -> None:
    x, y = data()
    with pytest.raises(TypeError, match=r"fit: epochs must be an integer, got float"):
        fit(model(), x, y, epochs=2.0)


@pytest.mark.parametrize("split", [-0.1, 1.0, 1.5])
def test_validation_split_outside_0_1(split: float) -> None:
    x, y = data()
    with pytest.raises(ValueError) as info:
        fit(model(), x, y, validation_split=split)
    message = message_of(info)
    assert "validation_split" in message and "[0, 1)" in message and str(split) in message


def test_validation_split_that_leaves_no_validation_samples() -> None:
    x, y = data()
    with pytest.raises(ValueError, match=r"validation_split=0.01 leaves no .* 20"):
        fit(model(), x, y, validation_split=0.01)


def test_validation_split_and_validation_data_together() -> None:
    x, y = data()
    with pytest.raises(ValueError, match="not both"):
        fit(model(), x, y, validation_split=0.2, validation_data=(x, y))


def test_validation_data_must_be_a_pair() -> None:
    x, y = data()
    with pytest.raises(TypeError, match=r"validation_data must be a pair"):
        fit(model(), x, y, validation_data=(x, y, y))


@pytest.mark.parametrize("verbose", [3, -1, "yes"])
def test_verbose_must_be_0_1_or_2(verbose: object) -> None:
    x, y = data()
    with pytest.raises(ValueError, match=r"verbose must be 0, 1 or 2"):
        fit(model(), x, y, verbose=verbose)


@pytest.mark.parametrize("name", ["hinge", "crossentropyy", ""])
def test_unknown_loss_name(name: str) -> None:
    x, y = data()
    with pytest.raises(ValueError) as info:
        fit(model(), x, y, loss=name)
    message = message_of(info)
    assert repr(name) in message
    assert "cross_entropy" in message and "mse" in message


def test_loss_that_is_not_callable() -> None:
    x, y = data()
    with pytest.raises(TypeError, match=r"loss must be .*got int"):
        fit(model(), x, y, loss=3)


@pytest.mark.parametrize("call", ["evaluate-loss", "evaluate-batch_size", "predict-batch_size"])
def test_evaluate_and_predict_errors_name_their_own_function(call: str) -> None:
    x, y = data()
    with pytest.raises(ValueError) as info:
        if call == "evaluate-loss":
            rp.evaluate(model(), x, y, loss="hinge")
        elif call == "evaluate-batch_size":
            rp.evaluate(model(), x, y, loss="cross_entropy", batch_size=0)
        else:
            rp.predict(model(), x, batch_size=0)
    assert message_of(info).startswith(call.split("-")[0])


def test_model_and_optimizer_types() -> None:
    x, y = data()
    m = model()
    with pytest.raises(TypeError, match=r"fit: model must be a retroprop nn.Module, got function"):
        rp.fit(lambda t: t, x, y, loss="mse", optimizer=rp.optim.SGD(m.parameters(), lr=0.1))
    with pytest.raises(TypeError, match=r"fit: optimizer must be a retroprop optimizer.*got str"):
        rp.fit(m, x, y, loss="cross_entropy", optimizer="adam")


# ---------------------------------------------------------------------------------------------
# Optimizers and dropout
# ---------------------------------------------------------------------------------------------
OPTIMIZERS = [rp.optim.SGD, rp.optim.Adam, rp.optim.AdamW, rp.optim.RMSprop, rp.optim.Adagrad]


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("lr", [-0.1, -1e-9, math.nan, math.inf])
def test_negative_or_non_finite_learning_rate(cls: type, lr: float) -> None:
    with pytest.raises(ValueError) as info:
        cls(model().parameters(), lr=lr)
    message = message_of(info)
    assert message.startswith(f"{cls.__name__}: lr must be")
    assert str(lr) in message and ">= 0" in message


@pytest.mark.parametrize("momentum", [1.0, 1.5, -0.1])
def test_sgd_momentum_outside_0_1(momentum: float) -> None:
    with pytest.raises(ValueError) as info:
        rp.optim.SGD(model().parameters(), lr=0.1, momentum=momentum)
    message = message_of(info)
    assert "SGD: momentum must be in [0, 1)" in message and str(momentum) in message


@pytest.mark.parametrize("cls", [rp.optim.Adam, rp.optim.AdamW], ids=lambda c: c.__name__)
@pytest.mark.parametrize(("betas", "index", "bad"), [
    ((1.0, 0.999), 0, 1.0), ((0.9, 1.0), 1, 1.0), ((-0.1, 0.999), 0, -0.1), ((0.9, 1.5), 1, 1.5),
])
def test_adam_betas_outside_0_1(cls: type, betas: tuple, index: int, bad: float) -> None:
    with pytest.raises(ValueError) as info:
        cls(model().parameters(), lr=1e-3, betas=betas)
    message = message_of(info)
    assert f"{cls.__name__}: betas[{index}] must be in [0, 1)" in message and str(bad) in message


def test_adam_betas_must_be_a_pair() -> None:
    with pytest.raises(ValueError, match=r"Adam: betas must be a pair.*0.9"):
        rp.optim.Adam(model().parameters(), betas=(0.9,))


def test_optimizer_options_are_checked_when_set_through_a_param_group() -> None:
    m = model()
    with pytest.raises(ValueError, match=r"SGD: lr must be >= 0, got -1.*parameter group 0"):
        rp.optim.SGD([{"params": m.parameters(), "lr": -1}], lr=0.1)


@pytest.mark.parametrize("p", [-0.1, 1.5, math.nan])
def test_dropout_p_outside_0_1(p: float) -> None:
    with pytest.raises(ValueError) as info:
        nn.Dropout(p)
    message = message_of(info)
    assert message.startswith("Dropout: p") and "[0, 1]" in message and str(p) in message
    with pytest.raises(ValueError) as info:
        rp.F.dropout(rp.randn(3, 3), p=p)
    message = message_of(info)
    assert message.startswith("dropout: p") and "[0, 1]" in message and str(p) in message


@pytest.mark.parametrize("p", ["0.5", None, True])
def test_dropout_p_must_be_a_number(p: object) -> None:
    with pytest.raises(TypeError, match=r"Dropout: p must be a number"):
        nn.Dropout(p)
    with pytest.raises(TypeError, match=r"dropout: p must be a number"):
        rp.F.dropout(rp.randn(2, 2), p=p)


def test_dropout_edges_are_allowed() -> None:
    x = rp.randn(4, 4)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, x.data)
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, np.zeros((4, 4), dtype=np.float32))


# ---------------------------------------------------------------------------------------------
# Weights files
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "weights.safetensors"
    rp.save(model(), path)
    return path


def test_a_truncated_weights_file(saved: Path) -> None:
    raw = saved.read_bytes()
    saved.write_bytes(raw[:-4])
    with pytest.raises(FileFormatError) as info:
        rp.load(saved)
    message = message_of(info)
    assert str(saved) in message and "truncated" in message


def test_a_tampered_weights_file(saved: Path) -> None:
    raw = bytearray(saved.read_bytes())
    raw[-2] ^= 0xFF
    saved.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError) as info:
        rp.load(saved)
    message = message_of(info)
    assert str(saved) in message and "checksum mismatch" in message


def test_a_file_format_error_is_a_value_error(saved: Path) -> None:
    saved.write_bytes(b"nonsense")
    with pytest.raises(ValueError, match=re.escape(str(saved))):
        rp.load(saved)


def test_weights_loaded_into_a_different_architecture(saved: Path) -> None:
    other = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    before = other.state_dict()
    with pytest.raises(ValueError) as info:
        other.load_state_dict(rp.load_state_dict(saved))
    message = message_of(info)
    for expected in ("0.weight", "saved shape (8, 4)", "model shape (16, 4)",
                     "2.weight", "(3, 8)", "(3, 16)"):
        assert expected in message
    assert_untouched(other, before)
    renamed = nn.Sequential(OrderedDict(first=nn.Linear(4, 8), act=nn.ReLU(), last=nn.Linear(8, 3)))
    with pytest.raises(KeyError) as key_info:
        renamed.load_state_dict(rp.load_state_dict(saved))
    message = message_of(key_info)
    assert "missing keys: first.weight" in message and "unexpected keys: 0.weight" in message


def test_a_checkpoint_into_a_different_architecture(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.npz"
    m = model()
    rp.save_checkpoint(path, m, rp.optim.SGD(m.parameters(), lr=0.1), epoch=1)
    with pytest.raises(FileFormatError) as info:
        rp.load_checkpoint(path, nn.Sequential(nn.Linear(4, 3)))
    message = message_of(info)
    assert str(path) in message and "does not fit" in message and "0.weight" in message


def test_an_optimizer_built_for_another_model_is_refused() -> None:
    x, y = data()
    m, other = model(), model()
    before = m.state_dict()
    with pytest.raises(ValueError, match="optimizer updates none of this model's parameters"):
        fit(m, x, y, loss="cross_entropy", optimizer=rp.optim.SGD(other.parameters(), lr=0.1))
    assert_untouched(m, before)
