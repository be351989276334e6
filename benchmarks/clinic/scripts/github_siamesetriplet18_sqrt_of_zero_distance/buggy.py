# Port of adambielski/siamese-triplet issue #18 ("Siamese loss problem"): the repository's ContrastiveLoss
# takes distances.sqrt() of the squared pair distances with nothing added, and the reporter's gradients
# turned nan as soon as a pair's distance was exactly 0 (their data held exactly identical samples).
# The experiment is the repository's Siamese MNIST one: SiameseMNIST pairs (each image with a random other
# image of its class or an image of another class, with probability 1/2 each), SiameseNet over
# EmbeddingNet (two 5x5 convs with PReLU and max pooling, then 256-256-2 with PReLU), ContrastiveLoss with
# margin 1, Adam lr 1e-3, StepLR(8, gamma 0.1) stepped at the start of each epoch as the repository's
# trainer does, batches of 128; 10 epochs instead of 20 (CPU time).
# Stand-in data: scikit-learn's digits, binarized (pixel > 8) as low-resolution scans are, which leaves
# exactly identical images within some classes; each pixel repeated 3x3 and padded to 28x28 so that
# EmbeddingNet is unchanged; normalized by the mean and std; 75/25 split. The validation accuracy is a
# 5-nearest-neighbour vote on the 2-D embeddings (a non-finite embedding is read as 0).
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from torch.utils.data import DataLoader, Dataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
torch.set_num_threads(1)
pair_rng = np.random.RandomState(SEED)

digits = load_digits()
images = (digits.images > 8).astype(np.float32)
images = np.pad(np.kron(images, np.ones((3, 3), dtype=np.float32)), ((0, 0), (2, 2), (2, 2)))
images = (images - images.mean()) / images.std()
x_train, x_test, y_train, y_test = train_test_split(images, digits.target, test_size=0.25, random_state=42)
x_train, x_test = torch.from_numpy(x_train).unsqueeze(1), torch.from_numpy(x_test).unsqueeze(1)


class SiameseDigits(Dataset):
    """For each training image, a random positive or negative pair (as SiameseMNIST's training mode)."""

    def __init__(self, data, labels):
        self.data, self.labels = data, labels
        self.labels_set = set(labels.tolist())
        self.label_to_indices = {lb: np.where(labels == lb)[0] for lb in self.labels_set}

    def __getitem__(self, index):
        target = pair_rng.randint(0, 2)
        label1 = int(self.labels[index])
        if target == 1:
            siamese_index = index
            while siamese_index == index:
                siamese_index = pair_rng.choice(self.label_to_indices[label1])
        else:
            siamese_label = pair_rng.choice(sorted(self.labels_set - {label1}))
            siamese_index = pair_rng.choice(self.label_to_indices[siamese_label])
        return (self.data[index], self.data[siamese_index]), target

    def __len__(self):
        return len(self.data)


class EmbeddingNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.convnet = nn.Sequential(nn.Conv2d(1, 32, 5), nn.PReLU(), nn.MaxPool2d(2, stride=2),
                                     nn.Conv2d(32, 64, 5), nn.PReLU(), nn.MaxPool2d(2, stride=2))
        self.fc = nn.Sequential(nn.Linear(64 * 4 * 4, 256), nn.PReLU(), nn.Linear(256, 256), nn.PReLU(),
                                nn.Linear(256, 2))

    def forward(self, x):
        output = self.convnet(x)
        return self.fc(output.view(output.size(0), -1))


class SiameseNet(nn.Module):
    def __init__(self, embedding_net):
        super().__init__()
        self.embedding_net = embedding_net

    def forward(self, x1, x2):
        return self.embedding_net(x1), self.embedding_net(x2)


class ContrastiveLoss(nn.Module):
    def __init__(self, margin):
        super().__init__()
        self.margin = margin

    def forward(self, output1, output2, target):
        distances = (output2 - output1).pow(2).sum(1)  # squared distances
        losses = 0.5 * (target.float() * distances
                        + (1 - target).float() * F.relu(self.margin - distances.sqrt()).pow(2))
        return losses.mean()


loader = DataLoader(SiameseDigits(x_train, y_train), batch_size=128, shuffle=True)
model = SiameseNet(EmbeddingNet())
loss_fn = ContrastiveLoss(1.0)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 8, gamma=0.1, last_epoch=-1)


def embed(x):
    model.eval()
    with torch.no_grad():
        return np.nan_to_num(model.embedding_net(x).numpy(), nan=0.0, posinf=0.0, neginf=0.0)


def val_accuracy():
    knn = KNeighborsClassifier(n_neighbors=5).fit(embed(x_train), y_train)
    return float((knn.predict(embed(x_test)) == y_test).mean())


for epoch in range(10):
    scheduler.step()
    model.train()
    total = 0.0
    for (x1, x2), target in loader:
        optimizer.zero_grad()
        loss = loss_fn(*model(x1, x2), target)
        total += loss.item()
        loss.backward()
        optimizer.step()
    print(f'epoch {epoch + 1:2d}  train loss {total / len(loader):.4f}  val acc {val_accuracy():.3f}')

print(f"RESULT val_accuracy={val_accuracy():.4f}")
