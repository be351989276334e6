"""DeepLocalize GitHub case 3 (ShyamPoovaiah/FacialKeypointsDetection): linear 9216-50-100-30, Adam lr 0.1.

SOURCE: DeepLocalize's benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/GitHub/Benchmark.xlsx row 3:
ShyamPoovaiah/FacialKeypointsDetection, fix commit 6543925; Buggy Model/.../src/1_single_hidden_layer.py and
Correct Model/.../src/1_single_hidden_layer.py). The program regresses the 30 coordinates of 15 facial
keypoints from a 96x96 grey image: pixels divided by 255 (in [0, 1]), targets ``(y - 48) / 48`` (in
[-1, 1]), the 2,140 complete rows of Kaggle's facial-keypoints training set, shuffled. The network:
``Dense(50)``, ``Dense(100)``, ``Dense(30)``, no activation (Keras's Glorot-uniform weights, zero biases);
mean squared error; batch 32 (Keras's default). The buggy program compiles it with ``Adam(lr=0.1)`` and
trains on all rows for 100 epochs. Kaggle's set needs a download: here 2,140 generated faces of the same
shape and scale stand in for it (a mean face's 15 keypoints, moved by a random shift, scale and per-point
jitter, drawn as dark Gaussian spots on a grey, noisy background), and both versions hold out the last 20 %
for validation (the fixed program's ``validation_split=.2``). Cut: 15 epochs instead of 100.
SYMPTOM: (the benchmark records the fix, not the buggy run's numbers) the loss explodes: Adam moves
every weight by about 0.1 a step, against Glorot weights of about 0.025 in the first layer, so the outputs
of the three stacked linear layers grow by orders of magnitude in the first steps and the loss jumps to
millions, then keeps jumping far above a blind guess's.
FIX: the project's fix commit: SGD at lr 0.01 with Nesterov momentum 0.9 and ``clipnorm=1`` (each
gradient tensor's norm clipped to 1, as Keras does; its decay of 1e-6 per step is left out); same network,
loss, batch and epochs.
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 2.1e5 / 254 / 297 (first-epoch training loss
1e7-2e7, then jumping between tens and thousands); fixed version 0.066 / 0.069 / 0.077. Each run about
6 s.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.nn.utils import clip_grad_norm_

from . import Program
from ._keras import dense

SOURCE = ("DeepLocalize benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/GitHub: "
          "ShyamPoovaiah/FacialKeypointsDetection, src/1_single_hidden_layer.py, buggy and correct); "
          "Kaggle facial keypoints -> generated 96x96 faces with 15 keypoints, same shape and scale")
SYMPTOM = "the loss explodes: Adam's steps of 0.1 throw the stacked linear layers' outputs far off"
FIX = "SGD at lr 0.01, Nesterov momentum 0.9, clipnorm 1 instead of Adam at lr 0.1 (the fix commit)"
SPLIT = "heldout"
ROUND = 5
EXPECTED = frozenset({"exploding_gradients"})
ALLOWED = frozenset({"unstable_loss", "non_finite", "missing_nonlinearity"})

N_ROWS, SIDE = 2140, 96
EPOCHS, BATCH = 15, 32

# the mean positions (x, y, in pixels) of the 15 keypoints in Kaggle's training set, in its column order
MEAN_FACE = np.array([
    [66.4, 37.7], [30.3, 37.6], [59.2, 37.9], [73.3, 37.7], [36.7, 38.0], [22.4, 38.0],
    [56.1, 29.3], [79.5, 29.9], [39.3, 29.6], [15.9, 30.4], [48.4, 62.7],
    [63.3, 76.0], [33.0, 76.2], [48.0, 72.9], [48.6, 79.0]], dtype=np.float64)


def _faces(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generated faces: keypoints = the mean face scaled about the centre, shifted and jittered; the image a
    grey background with pixel noise and a dark Gaussian spot (sigma 2.5 px) on each keypoint."""
    rng = np.random.default_rng(seed)
    scale = rng.normal(1.0, 0.06, (N_ROWS, 1, 1))
    shift = rng.normal(0.0, 3.0, (N_ROWS, 1, 2))
    points = (MEAN_FACE - 48.0) * scale + 48.0 + shift + rng.normal(0.0, 1.0, (N_ROWS, 15, 2))
    grid = np.arange(SIDE, dtype=np.float64)
    gx = np.exp(-((grid - points[:, :, :1]) ** 2) / (2 * 2.5 ** 2))  # (N, 15, 96) along x
    gy = np.exp(-((grid - points[:, :, 1:]) ** 2) / (2 * 2.5 ** 2))  # (N, 15, 96) along y
    spots = np.einsum("nky,nkx->nyx", gy, gx)
    background = rng.uniform(0.35, 0.75, (N_ROWS, 1, 1))
    image = background - 0.4 * spots + rng.normal(0.0, 0.05, (N_ROWS, SIDE, SIDE))
    x = np.clip(image, 0.0, 1.0).reshape(N_ROWS, SIDE * SIDE).astype(np.float32)
    y = ((points.reshape(N_ROWS, 30) - 48.0) / 48.0).astype(np.float32)
    return x, y


class ClipnormSGD(rp.optim.SGD):
    """Keras's ``SGD(..., clipnorm=c)``: each gradient tensor's norm clipped to ``c`` before the step."""

    def __init__(self, params, clipnorm: float, **options) -> None:
        super().__init__(params, **options)
        self.clipnorm = float(clipnorm)

    def step(self, *args, **kwargs):
        for group in self.param_groups:
            for p in group["params"]:
                clip_grad_norm_(p, self.clipnorm)
        return super().step(*args, **kwargs)

    def torch_twin(self) -> type:
        """The same optimizer's class in torch (``_torch_twin.convert_optimizer``), its clipping included."""
        import torch

        clipnorm = self.clipnorm

        class TorchClipnormSGD(torch.optim.SGD):
            def step(self, closure=None):
                for group in self.param_groups:
                    for p in group["params"]:
                        if p.grad is not None:
                            torch.nn.utils.clip_grad_norm_(p, clipnorm)
                return super().step(closure)

        return TorchClipnormSGD


def _program(seed: int, make_optimizer) -> Program:
    x, y = _faces(seed)
    n_train = int(N_ROWS * 0.8)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(SIDE * SIDE, 50), dense(50, 100), dense(100, 30))
    return Program(model, make_optimizer(model), x[:n_train], y[:n_train], x[n_train:], y[n_train:],
                   loss="mse", epochs=EPOCHS, batch_size=BATCH, metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, lambda model: rp.optim.Adam(model.parameters(), lr=0.1, eps=1e-7))


def fixed(seed: int) -> Program:
    return _program(seed, lambda model: ClipnormSGD(model.parameters(), clipnorm=1.0, lr=0.01, momentum=0.9,
                                                    nesterov=True))
