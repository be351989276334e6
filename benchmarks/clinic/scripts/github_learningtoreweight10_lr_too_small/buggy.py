# Port of the baseline in danieltan07/learning-to-reweight-examples (issue #10): the LeNet
# baseline for the class-imbalance experiment is trained with the notebook's
# hyperparameters['lr'] = 1e-3 (plain SGD; the 'momentum' entry is never used), and "under this
# setting the baseline is quite low with acc around chance level (50%)".
# Kept: LeNet(n_out=1) (conv 6@5x5, ReLU, maxpool; conv 16@5x5, ReLU, maxpool; conv 120@5x5, ReLU;
# Linear 120-84, ReLU, Linear 84-1, squeezed), F.binary_cross_entropy_with_logits, SGD on all
# parameters, batch 100 drawn by next(iter(data_loader)) from a shuffled loader each iteration,
# images resized to 32x32 and normalized (0.1307, 0.3081) as the MNISTImbalanced transform does,
# label 1 for the dominating class 9 and 0 for 4, 5 examples per class held back as the (unused)
# clean validation set, a balanced test set scored with sigmoid(output) > 0.5.
# Cut: scikit-learn's 8x8 digits (pixels / 16, bilinear resize to 32x32) in place of MNIST, so the
# training set is the digits' 9s and 4s outside the test set with proportion 0.9 (the loader's
# default; the notebook's 0.995 would leave no 4 at this size); 1000 iterations instead of 8000.
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)

hyperparameters = {
    'lr': 1e-3,
    'momentum': 0.9,
    'batch_size': 100,
    'num_iterations': 1000,
}


class LeNet(nn.Module):
    def __init__(self, n_out):
        super(LeNet, self).__init__()
        layers = []
        layers.append(nn.Conv2d(1, 6, kernel_size=5))
        layers.append(nn.ReLU(inplace=True))
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        layers.append(nn.Conv2d(6, 16, kernel_size=5))
        layers.append(nn.ReLU(inplace=True))
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        layers.append(nn.Conv2d(16, 120, kernel_size=5))
        layers.append(nn.ReLU(inplace=True))
        self.main = nn.Sequential(*layers)
        layers = []
        layers.append(nn.Linear(120, 84))
        layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Linear(84, n_out))
        self.fc_layers = nn.Sequential(*layers)

    def forward(self, x):
        x = self.main(x)
        x = x.view(-1, 120)
        return self.fc_layers(x).squeeze()


def transform(images):
    """transforms.Resize([32, 32]), ToTensor(), Normalize((0.1307,), (0.3081,))."""
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(32, 32), mode='bilinear', align_corners=False)
    return (x - 0.1307) / 0.3081


def imbalanced(images, targets, classes, n_items, proportion, n_val):
    """MNISTImbalanced: floor(n_items * proportion) of classes[0], the rest of classes[1]."""
    n_class = [int(np.floor(n_items * proportion)), 0]
    n_class[1] = n_items - n_class[0]
    data, labels, data_val, labels_val = [], [], [], []
    for i, c in enumerate(classes):
        tmp_idx = np.where(targets == c)[0]
        np.random.shuffle(tmp_idx)
        data.append(images[tmp_idx[:n_class[i] - n_val]])
        labels.append(np.full(n_class[i] - n_val, float(c == classes[0])))
        data_val.append(images[tmp_idx[n_class[i] - n_val:n_class[i]]])
        labels_val.append(np.full(n_val, float(c == classes[0])))
    return (transform(np.concatenate(data)), torch.tensor(np.concatenate(labels), dtype=torch.float32),
            transform(np.concatenate(data_val)), torch.tensor(np.concatenate(labels_val), dtype=torch.float32))


digits = load_digits()
classes = [9, 4]
test_idx, train_idx = [], []
for c in classes:  # a balanced test set of 45 per class, the rest for training
    idx = np.where(digits.target == c)[0]
    np.random.shuffle(idx)
    test_idx.extend(idx[:45])
    train_idx.extend(idx[45:])
train_idx, test_idx = np.array(train_idx), np.array(test_idx)
n_nines = int((digits.target[train_idx] == 9).sum())
x_train, y_train, val_data, val_labels = imbalanced(digits.images[train_idx], digits.target[train_idx], classes,
                                                    n_items=int(n_nines / 0.9), proportion=0.9, n_val=5)
x_test = transform(digits.images[test_idx])
y_test = torch.tensor((digits.target[test_idx] == classes[0]).astype(np.float32))

data_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=hyperparameters['batch_size'], shuffle=True)
test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=hyperparameters['batch_size'], shuffle=True)
print(f"train: {int(y_train.sum())} nines, {int((1 - y_train).sum())} fours; test: {len(y_test)} balanced")


def build_model():
    net = LeNet(n_out=1)
    opt = torch.optim.SGD(net.parameters(), lr=hyperparameters["lr"])
    return net, opt


net, opt = build_model()
net_losses = []
plot_step = 100
net_l = 0
smoothing_alpha = 0.9
accuracy_log = []
for i in range(hyperparameters['num_iterations']):
    net.train()
    image, labels = next(iter(data_loader))
    y = net(image)
    cost = F.binary_cross_entropy_with_logits(y, labels)
    opt.zero_grad()
    cost.backward()
    opt.step()
    net_l = smoothing_alpha * net_l + (1 - smoothing_alpha) * cost.item()
    net_losses.append(net_l / (1 - smoothing_alpha ** (i + 1)))
    if i % plot_step == 0 or i == hyperparameters['num_iterations'] - 1:
        net.eval()
        acc = []
        with torch.no_grad():
            for itr, (test_img, test_label) in enumerate(test_loader):
                output = net(test_img)
                predicted = (torch.sigmoid(output) > 0.5).int()
                acc.append((predicted.int() == test_label.int()).float())
        accuracy = torch.cat(acc, dim=0).mean().item()
        accuracy_log.append((i, accuracy))
        if i % 500 == 0 or i == hyperparameters['num_iterations'] - 1:
            print(f"iteration {i} loss {net_losses[-1]:.4f} test accuracy {accuracy:.4f}")

print(f"RESULT val_accuracy={accuracy:.4f}")
