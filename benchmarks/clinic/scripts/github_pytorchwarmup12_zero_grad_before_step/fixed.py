# Fixed twin of buggy.py (Tony-Y/pytorch_warmup issue #12): optimizer.zero_grad() is called before
# loss.backward(), as in the repository's example (examples/emnist/main.py) and the maintainer's answer ("Your
# code does not optimize model parameters at all because optimizer.zero_grad() is called after
# loss.backward()"), so AdamW steps on each batch's gradient.
# The program is the repository's example that the loop comes from: the LeNet-style CNN (conv 20@5x5 - pool -
# conv 50@5x5 - pool - fc 500 - fc, ReLU, log_softmax + NLL), AdamW(lr 0.01, betas (0.9, 0.999),
# weight_decay 0.01), batches of 64 (drop_last), a per-step cosine schedule down to 1e-5 and the untuned
# linear warmup.
# Stand-ins: EMNIST balanced (47 classes, 28x28) is replaced by scikit-learn's 8x8 digits (10 classes)
# enlarged to 28x28 and standardized with the training set's mean and std (as Normalize((0.1751,),
# (0.3332,)) does for EMNIST); 20 epochs of 22 steps instead of 10 epochs of 1762, and the warmup period
# (2 / (1 - beta2) = 2000 steps, 11% of the original run) kept at the same 11% of this run.
import math
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)  # noqa: NPY002
torch.set_num_threads(1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5, 1)
        self.conv2 = nn.Conv2d(20, 50, 5, 1)
        self.fc1 = nn.Linear(4 * 4 * 50, 500)
        self.fc2 = nn.Linear(500, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 2, 2)
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2, 2)
        x = x.view(-1, 4 * 4 * 50)
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def images(x):
    x = torch.from_numpy((x / 16.0).astype(np.float32)).view(-1, 1, 8, 8)
    return F.interpolate(x, size=(28, 28), mode='bilinear', align_corners=False)


digits = load_digits()
x_tr, x_te, y_tr, y_te = train_test_split(digits.data, digits.target, test_size=0.2, random_state=SEED)
x_tr, x_te = images(x_tr), images(x_te)
mean, std = x_tr.mean().item(), x_tr.std().item()
x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
y_tr, y_te = torch.from_numpy(y_tr), torch.from_numpy(y_te)

train_loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=64, shuffle=True, drop_last=True)
test_loader = DataLoader(TensorDataset(x_te, y_te), batch_size=1000, shuffle=False)

epochs, lr, lr_min, wd, beta2 = 20, 0.01, 1e-5, 0.01, 0.999
model = Net()
optimizer = optim.AdamW(model.parameters(), lr=lr, betas=(0.9, beta2), weight_decay=wd)
num_steps = len(train_loader) * epochs
warmup_period = max(1, round(num_steps * (2.0 / (1.0 - beta2)) / 17620))


def schedule(step):
    # cosine annealing over all steps down to lr_min, damped by the linear warmup
    cosine = lr_min + (lr - lr_min) * (1 + math.cos(math.pi * step / num_steps)) / 2
    return cosine / lr * min(1.0, (step + 1) / warmup_period)


lr_scheduler = optim.lr_scheduler.LambdaLR(optimizer, schedule)

for epoch in range(1, epochs + 1):
    model.train()
    for data, target in train_loader:
        cur_lr = optimizer.param_groups[0]['lr']
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        lr_scheduler.step()
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()
            correct += output.argmax(dim=1).eq(target).sum().item()
    print(f'epoch {epoch:2d}  train loss {loss.item():.4f}  lr {cur_lr:.5f}  '
          f'test loss {test_loss / len(y_te):.4f}  test acc {correct / len(y_te):.4f}')

print(f"RESULT val_accuracy={correct / len(y_te):.4f}")
