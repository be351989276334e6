# Fixed twin of buggy.py (jaehyunnn/ViTPose_pytorch issue #20, commit 0a2848e): LayerDecayOptimizer applies
# the layer-decay factor to each param group's lr once, when it is built, instead of at every step(), so
# the learning rate follows the warm-up and the MultiStepLR schedule instead of shrinking by 0.75 per step.
# Training setup as in the repo (utils/train_valid_fn.py, configs/ViTPose_base_coco_256x192.py): AdamW over
# model.parameters() (lr 5e-4, betas (0.9, 0.999), weight decay 0.1), LayerDecayOptimizer(optimizer,
# [0.75] * 12), clip_grad_norm_(max_norm=1), linear warm-up from 0.001 x lr stepped per iteration,
# MultiStepLR(gamma=0.1) stepped per epoch, JointsMSELoss with target weights.
# Stand-ins: COCO keypoints -> generated 16x16 images of one Gaussian blob plus noise, target an 8x8 Gaussian
# heatmap of its position; ViT backbone + heatmap head -> a small conv backbone and a 1x1 conv head;
# 30 epochs of 47 batches of 64 instead of 210 epochs, milestones [170, 200] -> [24, 28], 500 warm-up
# iterations -> 10.
import sys

import numpy as np
import torch
import torch.nn as nn
from torch.optim import AdamW
from torch.optim.lr_scheduler import LambdaLR, MultiStepLR
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)  # noqa: NPY002
torch.set_num_threads(1)


class LayerDecayOptimizer:
    def __init__(self, optimizer, layerwise_decay_rate):
        self.optimizer = optimizer
        self.layerwise_decay_rate = layerwise_decay_rate
        self.param_groups = optimizer.param_groups

        # Apply layer-wise decay rate once at initialization
        for i, group in enumerate(self.optimizer.param_groups):
            group['lr'] *= layerwise_decay_rate[i]

    def step(self, *args, **kwargs):
        self.optimizer.step(*args, **kwargs)

    def zero_grad(self, *args, **kwargs):
        self.optimizer.zero_grad(*args, **kwargs)


class JointsMSELoss(nn.Module):
    def __init__(self, use_target_weight):
        super().__init__()
        self.criterion = nn.MSELoss(reduction='mean')
        self.use_target_weight = use_target_weight

    def forward(self, output, target, target_weight):
        batch_size, num_joints = output.size(0), output.size(1)
        heatmaps_pred = output.reshape(batch_size, num_joints, -1).split(1, 1)
        heatmaps_gt = target.reshape(batch_size, num_joints, -1).split(1, 1)
        loss = 0.0
        for idx in range(num_joints):
            pred, gt = heatmaps_pred[idx].squeeze(1), heatmaps_gt[idx].squeeze(1)
            if self.use_target_weight:
                w = target_weight[:, idx]
                loss = loss + 0.5 * self.criterion(pred * w, gt * w)
            else:
                loss = loss + 0.5 * self.criterion(pred, gt)
        return loss / num_joints


def make_data(n, rng):
    pos = rng.uniform(2.0, 13.0, size=(n, 2))
    grid = np.arange(16)[None, :]
    gx = np.exp(-((grid - pos[:, :1]) ** 2) / (2 * 1.5 ** 2))
    gy = np.exp(-((grid - pos[:, 1:]) ** 2) / (2 * 1.5 ** 2))
    images = gy[:, :, None] * gx[:, None, :] + rng.normal(0.0, 0.1, size=(n, 16, 16))
    hgrid = np.arange(8)[None, :]
    hx = np.exp(-((hgrid - pos[:, :1] / 2) ** 2) / 2.0)
    hy = np.exp(-((hgrid - pos[:, 1:] / 2) ** 2) / 2.0)
    heatmaps = hy[:, :, None] * hx[:, None, :]
    x = torch.tensor(images[:, None], dtype=torch.float32)
    y = torch.tensor(heatmaps[:, None], dtype=torch.float32)
    return x, y, torch.ones(n, 1, 1)


rng = np.random.default_rng(SEED)
x_train, y_train, w_train = make_data(3000, rng)
x_valid, y_valid, w_valid = make_data(1000, rng)
dataloader = DataLoader(TensorDataset(x_train, y_train, w_train), batch_size=64, shuffle=True)

model = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.GELU(),
    nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.GELU(),
    nn.Conv2d(32, 32, 3, padding=1), nn.GELU(),
    nn.Conv2d(32, 1, 1),
)
criterion = JointsMSELoss(use_target_weight=True)
optimizer = AdamW(model.parameters(), lr=5e-4, betas=(0.9, 0.999), weight_decay=0.1)
lr_mult = [0.75] * 12
layerwise_optimizer = LayerDecayOptimizer(optimizer, lr_mult)
scheduler = MultiStepLR(optimizer, [24, 28], 0.1)
num_warmup_steps, warmup_factor = 10, 0.001
warmup_scheduler = LambdaLR(
    optimizer, lr_lambda=lambda step: warmup_factor + (1.0 - warmup_factor) * step / num_warmup_steps)

total_epochs = 30
global_step = 0
for epoch in range(total_epochs):
    model.train()
    total_loss = 0.0
    for images, targets, target_weights in dataloader:
        layerwise_optimizer.zero_grad()
        outputs = model(images)
        loss = criterion(outputs, targets, target_weights)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0, norm_type=2)
        layerwise_optimizer.step()
        if global_step < num_warmup_steps:
            warmup_scheduler.step()
        global_step += 1
        total_loss += loss.item()
    scheduler.step()
    if epoch % 5 == 0 or epoch == total_epochs - 1:
        lr_now = optimizer.param_groups[0]['lr']
        print(f"epoch {epoch:3d}  loss {total_loss / len(dataloader):.6f}  lr {lr_now:.2e}")

model.eval()
with torch.no_grad():
    pred = model(x_valid)
val_error = ((pred - y_valid) ** 2).mean().item() / y_valid.var().item()
print(f"RESULT val_error={val_error:.4f}")
