# Fixed twin of buggy.py (StackOverflow question 54354465): the training DataLoader is built with
# shuffle=True, the only change the question made, so every epoch draws the samples in a new random
# order and every batch mixes the classes (the accepted answer: shuffling the order of the data the
# classifier is fit on matters because batches then differ between epochs).
# Stand-ins: scikit-learn's 8x8 digits (10 classes) stored sorted by class as an image folder lists
# them, standardized; the pretrained AlexNet is replaced by a small AlexNet-shaped network trained
# from scratch (conv-relu-pool features, Dropout-Linear-ReLU-Dropout-Linear classifier); the
# question does not show its optimizer: SGD lr 0.01, momentum 0.9 is assumed; batch 32, 10 epochs.
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


class SmallAlexNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(),
            nn.Linear(64 * 2 * 2, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(128, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)[:, None]
x_train, x_valid, y_train, y_valid = train_test_split(images, digits.target, test_size=0.2,
                                                      random_state=SEED, stratify=digits.target)
order = np.argsort(y_train, kind="stable")  # an image folder lists its samples class by class
x_train, y_train = x_train[order], y_train[order]
mean, std = x_train.mean(), x_train.std()
x_train, x_valid = (x_train - mean) / std, (x_valid - mean) / std
train_data = TensorDataset(torch.tensor(x_train), torch.tensor(y_train))
valid_data = TensorDataset(torch.tensor(x_valid), torch.tensor(y_valid))

trainloader = torch.utils.data.DataLoader(train_data, batch_size=32, shuffle=True)
validloader = torch.utils.data.DataLoader(valid_data, batch_size=32)

model = SmallAlexNet()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

for epoch in range(10):
    model.train()
    running_loss = 0.0
    for inputs, labels in trainloader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item() * len(labels)
    model.eval()
    correct = 0
    with torch.no_grad():
        for inputs, labels in validloader:
            correct += (model(inputs).argmax(1) == labels).sum().item()
    accuracy = correct / len(valid_data)
    print(f"epoch {epoch + 1} train loss {running_loss / len(train_data):.4f} "
          f"validation accuracy {accuracy:.4f}")
print(f"RESULT val_accuracy={accuracy:.4f}")
