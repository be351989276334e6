# Fixed twin of buggy.py (Borda/kaggle_image-classify PR #12, "fix dataset shuffle"): the labels are read
# from the table after it is shuffled and split, so every image keeps the label of its own row.
import sys

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, Dataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
torch.set_num_threads(1)

LABEL_NAMES = ('healthy', 'scab', 'frog_eye_leaf_spot', 'rust', 'complex', 'powdery_mildew')
digits = load_digits()
keep = digits.target < len(LABEL_NAMES)
pixels = digits.images[keep].astype(np.float32)
pixels = (pixels - pixels.mean()) / pixels.std()
IMAGES = {f'{i:05d}.jpg': img for i, img in enumerate(pixels)}
TABLE = {'image': list(IMAGES), 'labels': [LABEL_NAMES[t] for t in digits.target[keep]]}


class PlantPathologyDataset(Dataset):
    """The table's images with one-hot encoded labels."""

    def __init__(self, table, mode='train', split=0.8, uq_labels=None, random_state=42):
        self.data = {k: list(v) for k, v in table.items()}
        self.raw_labels = list(self.data['labels'])
        if uq_labels:
            self.labels_unique = uq_labels
        else:
            labels_all = [lb for lbs in self.raw_labels for lb in lbs.split(' ')]
            self.labels_unique = sorted(set(labels_all))
        self.labels_lut = {lb: i for i, lb in enumerate(self.labels_unique)}
        self.num_classes = len(self.labels_unique)

        # shuffle data
        order = np.random.RandomState(random_state).permutation(len(self.data['image']))
        self.data = {k: [v[i] for i in order] for k, v in self.data.items()}

        # split dataset
        frac = int(split * len(self.data['image']))
        self.data = {k: (v[:frac] if mode == 'train' else v[frac:]) for k, v in self.data.items()}
        self.img_names = list(self.data['image'])
        self.raw_labels = list(self.data['labels'])
        self.labels = [torch.tensor(self.to_onehot_encoding(lb)) for lb in self.raw_labels]

    def to_onehot_encoding(self, labels):
        one_hot = [0] * len(self.labels_unique)
        for lb in labels.split(' '):
            one_hot[self.labels_lut[lb]] = 1
        return tuple(one_hot)

    def __getitem__(self, idx):
        img = torch.from_numpy(IMAGES[self.img_names[idx]]).unsqueeze(0)
        return img, self.labels[idx]

    def __len__(self):
        return len(self.img_names)


train_ds = PlantPathologyDataset(TABLE, mode='train')
valid_ds = PlantPathologyDataset(TABLE, mode='valid', uq_labels=train_ds.labels_unique)
print(f'training dataset: {len(train_ds)}, validation dataset: {len(valid_ds)}')

net = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
    nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    nn.Linear(64, train_ds.num_classes),
)


def forward(x):
    return torch.sigmoid(net(x))


EPOCHS = 30
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, EPOCHS, 0)
loader = DataLoader(train_ds, batch_size=128, shuffle=True)

# the validation images with the labels their own rows of the table give them
val_x = torch.stack([torch.from_numpy(IMAGES[n]).unsqueeze(0) for n in valid_ds.data['image']])
val_y = torch.tensor([train_ds.labels_lut[lb] for lb in valid_ds.data['labels']])


def val_accuracy():
    net.eval()
    with torch.no_grad():
        pred = forward(val_x).argmax(1)
    return (pred == val_y).float().mean().item()


for epoch in range(EPOCHS):
    net.train()
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(forward(x), y.to(torch.float32))
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)
    scheduler.step()
    if epoch % 5 == 0 or epoch == EPOCHS - 1:
        print(f'epoch {epoch:2d}  train loss {total / len(train_ds):.4f}  valid acc {val_accuracy():.3f}')

print(f"RESULT val_accuracy={val_accuracy():.4f}")
