# Fixed twin of buggy.py (haofeixu/cs231n issue #2, fixed in commit "Fix #2"): the weights are drawn
# by the fix's kaiming_normal(), which reads fan_in = shape[1] for an nn.Linear weight of shape
# [out_feature, in_feature] (unlike random_weight(), whose [in, out] convention fits the barebones
# part only), so the final layer gets Kaiming weights scaled for its 16*32*32 inputs.
# Everything else is as in buggy.py: the notebook's Sequential three-layer ConvNet, SGD(1e-2, momentum
# 0.9, nesterov), batch 64, digits upsampled to 1 x 32 x 32 in place of CIFAR-10.
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
np.random.seed(SEED)
torch.set_num_threads(1)

device = torch.device('cpu')
dtype = torch.float32
print_every = 100

digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]       # ToTensor: [0, 1]
images = images.repeat(4, axis=2).repeat(4, axis=3)                      # 8x8 -> 32x32, as CIFAR-10
x_tr, x_val, y_tr, y_val = train_test_split(images, digits.target, test_size=0.2,
                                            random_state=SEED, stratify=digits.target)
mean, std = x_tr.mean(), x_tr.std()                                      # T.Normalize(mean, std)
x_tr, x_val = (x_tr - mean) / std, (x_val - mean) / std
loader_train = DataLoader(TensorDataset(torch.tensor(x_tr), torch.tensor(y_tr)), batch_size=64,
                          shuffle=True)
loader_val = DataLoader(TensorDataset(torch.tensor(x_val), torch.tensor(y_val)), batch_size=64)


def flatten(x):
    N = x.shape[0]  # batch size of an (N, C, H, W) tensor
    return x.view(N, -1)  # one row of C*H*W values per image


class Flatten(nn.Module):
    def forward(self, x):
        return flatten(x)


def kaiming_normal(shape):
    """Normal weights scaled by sqrt(2 / fan_in) (He)."""
    if len(shape) == 2:  # FC weight
        fan_in = shape[1]  # nn.Linear stores its weight as [out_features, in_features]
    else:
        fan_in = np.prod(shape[1:])  # conv: [out, in, kH, kW]
    w = torch.randn(shape, device=device, dtype=dtype) * np.sqrt(2. / fan_in)
    w.requires_grad = True
    return w


def zero_weight(shape):
    return torch.zeros(shape, device=device, dtype=dtype, requires_grad=True)


def check_accuracy_part34(loader, model):
    num_correct = 0
    num_samples = 0
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            x = x.to(device=device, dtype=dtype)
            y = y.to(device=device, dtype=torch.long)
            scores = model(x)
            _, preds = scores.max(1)
            num_correct += (preds == y).sum()
            num_samples += preds.size(0)
        acc = float(num_correct) / num_samples
        print('Got %d / %d correct (%.2f)' % (num_correct, num_samples, 100 * acc))
    return acc


def train_part34(model, optimizer, epochs=1):
    model = model.to(device=device)
    for e in range(epochs):
        for t, (x, y) in enumerate(loader_train):
            model.train()
            x = x.to(device=device, dtype=dtype)
            y = y.to(device=device, dtype=torch.long)

            scores = model(x)
            loss = F.cross_entropy(scores, y)

            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

            if t % print_every == 0:
                print('Iteration %d, loss = %.4f' % (t, loss.item()))
                check_accuracy_part34(loader_val, model)


channel_1 = 32
channel_2 = 16
learning_rate = 1e-2

model = nn.Sequential(
    nn.Conv2d(1, channel_1, kernel_size=5, padding=2),
    nn.ReLU(),
    nn.Conv2d(channel_1, channel_2, kernel_size=3, padding=1),
    nn.ReLU(),
    Flatten(),
    nn.Linear(channel_2 * 32 * 32, 10),
)

optimizer = optim.SGD(model.parameters(), lr=learning_rate,
                      momentum=0.9, nesterov=True)


def init_weights(m):
    if type(m) == nn.Conv2d or type(m) == nn.Linear:
        m.weight.data = kaiming_normal(m.weight.size())
        m.bias.data = zero_weight(m.bias.size())


model.apply(init_weights)

# One CIFAR-10 epoch is 766 iterations; 6 passes over the smaller training set are 138.
train_part34(model, optimizer, epochs=6)
val_accuracy = check_accuracy_part34(loader_val, model)
print(f"RESULT val_accuracy={val_accuracy:.4f}")
