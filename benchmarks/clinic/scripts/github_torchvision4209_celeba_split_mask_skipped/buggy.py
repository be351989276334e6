# Port of pytorch/vision issue #4209 ("CelebA dataset generates mismatched data and labels"): the CelebA
# dataset reads the partition file of every image (train, then valid, then test), builds the split mask, and
# slices the attribute labels with it, but keeps self.filename for all the images. __getitem__(i) then
# loads self.filename[i] with self.attr[i]: for split='train' (the first block) they still match; for
# split='valid' or 'test' image i is a training image and label i belongs to another image.
# The dataset class below does the same, on stand-in data: CelebA's face images in one folder are replaced
# by scikit-learn's 8x8 digits (pixels / 16) in a fixed shuffled "file" order, the partition file by
# 70% / 15% / 15% consecutive blocks (train, valid, test), and the 40 binary face attributes by 4 binary
# attributes of the digit (even, greater than 4, has a closed loop, prime).
# The issue shows no training program: a small CNN (conv 32 - pool - conv 64 - pool - fc 128 - fc 4, ReLU)
# trained on split='train' with BCEWithLogitsLoss, Adam lr 1e-3, batches of 64, 15 epochs, and evaluated on
# split='valid' (mean accuracy over the 4 attributes).
import sys

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, Dataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)  # noqa: NPY002
torch.set_num_threads(1)

# the "image folder" and its "annotation files", in one fixed order
digits = load_digits()
order = np.random.RandomState(SEED).permutation(len(digits.target))
IMAGES = (digits.images[order] / 16.0).astype(np.float32)
d = digits.target[order]
ATTR = np.stack([d % 2 == 0, d > 4, np.isin(d, [0, 4, 6, 8, 9]), np.isin(d, [2, 3, 5, 7])],
                axis=1).astype(np.float32)
n = len(d)
PARTITION = np.zeros(n, dtype=int)  # list_eval_partition: 0 train, 1 valid, 2 test, in consecutive blocks
PARTITION[int(0.70 * n):int(0.85 * n)] = 1
PARTITION[int(0.85 * n):] = 2


class CelebA(Dataset):
    def __init__(self, split):
        split_map = {"train": 0, "valid": 1, "test": 2, "all": None}
        split_ = split_map[split]
        splits = PARTITION
        mask = slice(None) if split_ is None else (splits == split_)
        self.filename = np.arange(n)
        self.attr = torch.from_numpy(ATTR[mask])

    def __getitem__(self, index):
        x = torch.from_numpy(IMAGES[self.filename[index]]).unsqueeze(0)
        return x, self.attr[index]

    def __len__(self):
        return len(self.attr)


train_set, val_set = CelebA("train"), CelebA("valid")
print('len(attr) =', len(val_set.attr), ' len(filename) =', len(val_set.filename))

model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64 * 2 * 2, 128), nn.ReLU(), nn.Linear(128, 4),
)
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
val_loader = DataLoader(val_set, batch_size=256, shuffle=False)


def evaluate(loader):
    model.eval()
    correct, total, loss = 0.0, 0, 0.0
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
            loss += criterion(out, y).item() * len(x)
            correct += ((out > 0).float() == y).float().mean(dim=1).sum().item()
            total += len(x)
    return loss / total, correct / total


for epoch in range(15):
    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    if epoch % 3 == 0 or epoch == 14:
        tr_loss, tr_acc = evaluate(train_loader)
        va_loss, va_acc = evaluate(val_loader)
        print(f'epoch {epoch:2d}  train loss {tr_loss:.4f} acc {tr_acc:.4f}  '
              f'val loss {va_loss:.4f} acc {va_acc:.4f}')

_, val_acc = evaluate(val_loader)
print(f"RESULT val_accuracy={val_acc:.4f}")
