# Port of yz93/LAVT-RIS issue #25 ("About zero initialization"): the gate on LAVT's language-aware residual,
# res_gate = Linear(dim, dim, bias=False) - ReLU - Linear(dim, dim, bias=False) - Tanh, has both of its
# weight matrices set to 0 ("initialize the gate to 0"), and the block computes
# x = x + res_gate(x_residual) * x_residual. With both layers at 0 the first layer's output is ReLU(0) = 0,
# so the second layer gets no gradient, and the second layer's zero weights pass none back to the first:
# the gate stays 0 and the language-aware features never reach the visual stream.
# Stand-in task (referring segmentation needs images and sentences): an 8x8 digit (scikit-learn digits,
# pixels / 16) and a query word (the one-hot of a digit class); the target is whether the image shows the
# queried digit (half of the pairs match). Visual features come from a Linear-ReLU encoder, the fusion is a
# pixel-word style product of the projected visual and language features (PWAM's element-wise
# multiplication), the gated residual is LAVT's, and a linear head with BCEWithLogitsLoss reads the fused
# visual features. AdamW with LAVT's weight_decay=0.01 (lr 1e-3 instead of its 5e-5), mini-batches of 64.
import sys

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


def make_pairs(images, labels, rng):
    """Each image twice: once with its own class as the query, once with another class."""
    other = (labels + rng.randint(1, 10, size=len(labels))) % 10
    queries = np.concatenate([labels, other])
    imgs = np.concatenate([images, images])
    target = np.concatenate([np.ones(len(labels)), np.zeros(len(labels))]).astype(np.float32)
    words = np.eye(10, dtype=np.float32)[queries]
    return torch.tensor(imgs), torch.tensor(words), torch.tensor(target)


digits = load_digits()
X = (digits.data / 16.0).astype(np.float32)
X_tr, X_val, y_tr, y_val = train_test_split(X, digits.target, test_size=0.25, random_state=SEED,
                                            stratify=digits.target)
rng = np.random.RandomState(SEED)
train_set = TensorDataset(*make_pairs(X_tr, y_tr, rng))
val_imgs, val_words, val_target = make_pairs(X_val, y_val, rng)


class PWAMFusion(nn.Module):
    """Pixel-word fusion: project both modalities to dim and multiply them element-wise."""

    def __init__(self, dim, l_in):
        super().__init__()
        self.vis_project = nn.Sequential(nn.Linear(dim, dim), nn.GELU())
        self.lang_project = nn.Sequential(nn.Linear(l_in, dim), nn.GELU())
        self.project_mm = nn.Sequential(nn.Linear(dim, dim), nn.GELU())

    def forward(self, x, l):
        return self.project_mm(self.vis_project(x) * self.lang_project(l))


class GatedFusionBlock(nn.Module):
    def __init__(self, dim, l_in):
        super().__init__()
        self.fusion = PWAMFusion(dim, l_in)
        self.res_gate = nn.Sequential(
            nn.Linear(dim, dim, bias=False),
            nn.ReLU(),
            nn.Linear(dim, dim, bias=False),
            nn.Tanh()
        )
        # initialize the gate to 0
        nn.init.zeros_(self.res_gate[0].weight)
        nn.init.zeros_(self.res_gate[2].weight)

    def forward(self, x, l):
        # PWAM fusion
        x_residual = self.fusion(x, l)
        # apply a gate on the residual
        x = x + (self.res_gate(x_residual) * x_residual)
        return x


class Referrer(nn.Module):
    def __init__(self, dim=64):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(64, dim), nn.ReLU())
        self.block = GatedFusionBlock(dim, 10)
        self.head = nn.Linear(dim, 1)

    def forward(self, img, word):
        x = self.encoder(img)
        x = self.block(x, word)
        return self.head(x).squeeze(1)


model = Referrer()
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
loader = DataLoader(train_set, batch_size=64, shuffle=True)

for epoch in range(40):
    model.train()
    for img, word, target in loader:
        optimizer.zero_grad()
        loss = criterion(model(img, word), target)
        loss.backward()
        optimizer.step()
    if epoch % 10 == 0 or epoch == 39:
        model.eval()
        with torch.no_grad():
            acc = ((model(val_imgs, val_words) > 0).float() == val_target).float().mean().item()
        gate = model.block.res_gate[2].weight.abs().max().item()
        print(f'epoch {epoch:2d}  loss {loss.item():.4f}  val acc {acc:.4f}  max |gate weight| {gate:.4f}')

model.eval()
with torch.no_grad():
    acc = ((model(val_imgs, val_words) > 0).float() == val_target).float().mean().item()
print(f"RESULT val_accuracy={acc:.4f}")
