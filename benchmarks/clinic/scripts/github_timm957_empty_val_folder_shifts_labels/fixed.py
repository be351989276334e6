# Fixed twin of buggy.py (timm issue #957): both splits are built with one class map (the list of all class
# folder names, as timm's --class-map file added by commit ba65dfe2 'add class-map support to train (fix
# #957)'), so the empty validation folder '2' no longer shifts the indices of the classes sorted after it.
# The images are replaced by scikit-learn's 8x8 digits (pixels / 16) held in memory as class folders named
# '0'..'9' (80/20 stratified split); the validation folder of class '2' is empty. The user's model is not
# given: a small CNN (two 3x3 conv-BN-ReLU blocks, 2x2 max-pool, linear head), trained with timm's defaults
# of the time (SGD, Nesterov momentum 0.9, lr 0.05, weight decay 2e-5, cosine schedule, label smoothing 0.1,
# batches of 128) for 30 epochs instead of 300.
import re
import sys

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, Dataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)  # noqa: NPY002
torch.set_num_threads(1)

CLASS_MAP = '0,1,2,3,4,5,6,7,8,9'  # --class-map: every class folder name, in index order


def natural_key(string_):
    return [int(s) if s.isdigit() else s for s in re.split(r'(\d+)', string_.lower())]


def make_folders():
    """The two splits as folders: {folder name: [images]}; the validation folder '2' is empty."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    x_tr, x_va, y_tr, y_va = train_test_split(images, digits.target, test_size=0.2, stratify=digits.target,
                                              random_state=SEED)
    train = {str(c): list(x_tr[y_tr == c]) for c in range(10)}
    val = {str(c): list(x_va[y_va == c]) for c in range(10)}
    val['2'] = []
    return train, val


def find_images_and_targets(folders, class_to_idx=None):
    labels, files = [], []
    for name, images in folders.items():
        for image in images:
            files.append(image)
            labels.append(name)
    if class_to_idx is None:
        sorted_labels = sorted(set(labels), key=natural_key)
        class_to_idx = {c: idx for idx, c in enumerate(sorted_labels)}
    samples = [(f, class_to_idx[lab]) for f, lab in zip(files, labels, strict=True) if lab in class_to_idx]
    return samples, class_to_idx


def load_class_map(class_map):
    names = class_map.split(',')
    return {c: i for i, c in enumerate(names)}


class ImageFolderDataset(Dataset):
    def __init__(self, folders, class_map=''):
        class_to_idx = load_class_map(class_map) if class_map else None
        self.samples, self.class_to_idx = find_images_and_targets(folders, class_to_idx)

    def __getitem__(self, index):
        image, target = self.samples[index]
        return torch.from_numpy(image).unsqueeze(0), target

    def __len__(self):
        return len(self.samples)


train_folders, val_folders = make_folders()
dataset_train = ImageFolderDataset(train_folders, class_map=CLASS_MAP)
dataset_eval = ImageFolderDataset(val_folders, class_map=CLASS_MAP)
print('train classes:', dataset_train.class_to_idx)
print('eval classes: ', dataset_eval.class_to_idx)
loader_train = DataLoader(dataset_train, batch_size=128, shuffle=True)
loader_eval = DataLoader(dataset_eval, batch_size=128, shuffle=False)

model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
    nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
    nn.MaxPool2d(2), nn.Flatten(),
    nn.Linear(64 * 4 * 4, 10),
)
epochs = 30
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=2e-5)
lr_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
train_loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
validate_loss_fn = nn.CrossEntropyLoss()


def validate():
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for x, target in loader_eval:
            output = model(x)
            loss_sum += validate_loss_fn(output, target).item() * len(target)
            correct += (output.argmax(1) == target).sum().item()
            n += len(target)
    return loss_sum / n, correct / n


for epoch in range(epochs):
    model.train()
    losses = []
    for x, target in loader_train:
        loss = train_loss_fn(model(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    lr_scheduler.step()
    if epoch % 5 == 0 or epoch == epochs - 1:
        val_loss, top1 = validate()
        print(f'epoch {epoch:2d}  train loss {np.mean(losses):.4f}  eval loss {val_loss:.4f}  '
              f'eval top1 {top1:.4f}')

_, top1 = validate()
print(f"RESULT val_accuracy={top1:.4f}")
