# Fixed twin of buggy.py (DeepReinforcementLearning/DeepReinforcementLearningInAction PR #13, "Fix
# wrong indentation in the MNIST example training loop"): opt.step() is indented into the for loop, so
# the RelationalModule is updated after every batch.
# Kept from the book: add_spots and prepare_images (random translation of up to 6 pixels, noise spots,
# division by the image maximum), Listing 10.4's loop (Adam lr 1e-3, NLLLoss, random batches drawn with
# np.random.randint) and test_acc on augmented test images. The model trained is the chapter's own
# baseline CNN (Listing 10.6: five 4x4 convolutions, max pooling, two Linear layers, log_softmax)
# instead of the RelationalModule, whose attention over 256 nodes is too slow for the time budget.
# Cut: 600 iterations of batch 32 instead of 1000 of 300; the random rotation of prepare_images
# (torchvision's affine) is left out. MNIST is replaced by
# scikit-learn's digits, each 8x8 image enlarged 3x to 24x24 and padded to 28x28, with 0-255 pixels.
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)

digits = load_digits()
images = np.kron(digits.images * 255.0 / 16.0, np.ones((3, 3)))          # 24x24, 0-255
images = np.pad(images, ((0, 0), (2, 2), (2, 2))).astype(np.uint8)        # 28x28 like MNIST
x_train, x_test, y_train, y_test = train_test_split(images, digits.target, test_size=0.2,
                                                    random_state=SEED, stratify=digits.target)
train_data, train_labels = torch.tensor(x_train), torch.tensor(y_train)
test_data, test_labels = torch.tensor(x_test), torch.tensor(y_test)


def add_spots(x, m=20, std=5, val=1):
    mask = torch.zeros(x.shape)
    N = int(m + std * np.abs(np.random.randn()))
    ids = np.random.randint(np.prod(x.shape), size=N)
    mask.view(-1)[ids] = val
    return torch.clamp(x + mask, 0, 1)


def prepare_images(xt, maxtrans=6, rot=5, noise=10):
    out = torch.zeros(xt.shape)
    for i in range(xt.shape[0]):
        img = xt[i].float() / 255.0                                        # to_tensor
        xtrans, ytrans = np.random.randint(-maxtrans, maxtrans, 2)         # affine: translation only
        img = torch.roll(img, shifts=(int(ytrans), int(xtrans)), dims=(0, 1))
        if noise > 0:
            img = add_spots(img, m=noise)
        maxval = img.view(-1).max()
        if maxval > 0:
            img = img.float() / maxval
        else:
            img = img.float()
        out[i] = img
    return out


class CNN(torch.nn.Module):
    def __init__(self):
        super(CNN, self).__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=(4, 4))
        self.conv2 = nn.Conv2d(10, 16, kernel_size=(4, 4))
        self.conv3 = nn.Conv2d(16, 24, kernel_size=(4, 4))
        self.conv4 = nn.Conv2d(24, 32, kernel_size=(4, 4))
        self.maxpool1 = nn.MaxPool2d(kernel_size=(2, 2))
        self.conv5 = nn.Conv2d(32, 64, kernel_size=(4, 4))
        self.lin1 = nn.Linear(256, 128)
        self.out = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = nn.functional.relu(x)
        x = self.conv2(x)
        x = nn.functional.relu(x)
        x = self.maxpool1(x)
        x = self.conv3(x)
        x = nn.functional.relu(x)
        x = self.conv4(x)
        x = nn.functional.relu(x)
        x = self.conv5(x)
        x = nn.functional.relu(x)
        x = x.flatten(start_dim=1)
        x = self.lin1(x)
        x = nn.functional.relu(x)
        x = self.out(x)
        x = nn.functional.log_softmax(x, dim=1)
        return x


agent = CNN()
epochs = 600
batch_size = 32
lr = 1e-3
opt = torch.optim.Adam(params=agent.parameters(), lr=lr)
lossfn = nn.NLLLoss()
for i in range(epochs):
    opt.zero_grad()
    batch_ids = np.random.randint(0, len(train_data), size=batch_size)
    xt = train_data[batch_ids].detach()
    xt = prepare_images(xt, rot=30).unsqueeze(dim=1)
    yt = train_labels[batch_ids].detach()
    pred = agent(xt)
    pred_labels = torch.argmax(pred, dim=1)
    acc_ = 100.0 * (pred_labels == yt).sum() / batch_size
    correct = torch.zeros(batch_size, 10)
    rows = torch.arange(batch_size).long()
    correct[[rows, yt.detach().long()]] = 1.
    loss = lossfn(pred, yt)
    loss.backward()
    if i % 100 == 0:
        print(i, loss.item(), acc_.item())
    opt.step()


def test_acc(model):
    xt = test_data.detach()
    xt = prepare_images(xt, maxtrans=6, rot=30, noise=10).unsqueeze(dim=1)
    yt = test_labels.detach()
    with torch.no_grad():
        preds = model(xt)
    pred_ind = torch.argmax(preds.detach(), dim=1)
    acc = (pred_ind == yt).sum().float() / len(yt)
    return acc, xt, yt


acc2, xt2, yt2 = test_acc(agent)
print(f"RESULT val_accuracy={acc2.item():.4f}")
