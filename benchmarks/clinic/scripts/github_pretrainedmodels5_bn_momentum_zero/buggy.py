# Port of Cadene/pretrained-models.pytorch inceptionv4.py as first released (issue #5): every
# BasicConv2d builds its BatchNorm with nn.BatchNorm2d(out_planes, eps=0.001, momentum=0,
# affine=True). In PyTorch momentum is the weight of the new batch in the running statistics, so
# momentum=0 means they are never updated: training normalizes with each batch's statistics,
# while eval() normalizes with running statistics that stay at their initial values. Training
# such a model on another data set, train and eval mode disagree badly.
# The model is the InceptionV4 stem as written there (BasicConv2d, Mixed_3a, Mixed_4a, Mixed_5a),
# cut before the Inception-A/B/C stacks, with global average pooling and last_linear over its 384
# channels. The repository ships models only; the training loop is a plain fine-tuning loop
# (SGD momentum 0.9, lr 0.01, batch 32, cross-entropy) and is evaluated in eval() mode.
# Data: scikit-learn's 8x8 digits, upsampled to 32x32 and repeated over 3 channels, normalized
# with the model's input settings (mean 0.5, std 0.5) -- no ImageNet weights or images here.
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


class BasicConv2d(nn.Module):

    def __init__(self, in_planes, out_planes, kernel_size, stride, padding=0):
        super(BasicConv2d, self).__init__()
        self.conv = nn.Conv2d(in_planes, out_planes, kernel_size=kernel_size, stride=stride, padding=padding, bias=False) # verify bias false
        self.bn = nn.BatchNorm2d(out_planes, eps=0.001, momentum=0, affine=True)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.conv(x)
        x = self.bn(x)
        x = self.relu(x)
        return x


class Mixed_3a(nn.Module):

    def __init__(self):
        super(Mixed_3a, self).__init__()
        self.maxpool = nn.MaxPool2d(3, stride=2)
        self.conv = BasicConv2d(64, 96, kernel_size=3, stride=2)

    def forward(self, x):
        x0 = self.maxpool(x)
        x1 = self.conv(x)
        out = torch.cat((x0, x1), 1)
        return out


class Mixed_4a(nn.Module):

    def __init__(self):
        super(Mixed_4a, self).__init__()

        self.branch0 = nn.Sequential(
            BasicConv2d(160, 64, kernel_size=1, stride=1),
            BasicConv2d(64, 96, kernel_size=3, stride=1)
        )

        self.branch1 = nn.Sequential(
            BasicConv2d(160, 64, kernel_size=1, stride=1),
            BasicConv2d(64, 64, kernel_size=(1,7), stride=1, padding=(0,3)),
            BasicConv2d(64, 64, kernel_size=(7,1), stride=1, padding=(3,0)),
            BasicConv2d(64, 96, kernel_size=(3,3), stride=1)
        )

    def forward(self, x):
        x0 = self.branch0(x)
        x1 = self.branch1(x)
        out = torch.cat((x0, x1), 1)
        return out


class Mixed_5a(nn.Module):

    def __init__(self):
        super(Mixed_5a, self).__init__()
        self.conv = BasicConv2d(192, 192, kernel_size=3, stride=2)
        self.maxpool = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        x0 = self.conv(x)
        x1 = self.maxpool(x)
        out = torch.cat((x0, x1), 1)
        return out


class InceptionV4Stem(nn.Module):
    """InceptionV4 cut after Mixed_5a (the Inception-A/B/C stacks removed for size)."""

    def __init__(self, num_classes=10):
        super(InceptionV4Stem, self).__init__()
        self.features = nn.Sequential(
            BasicConv2d(3, 32, kernel_size=3, stride=2),
            BasicConv2d(32, 32, kernel_size=3, stride=1),
            BasicConv2d(32, 64, kernel_size=3, stride=1, padding=1),
            Mixed_3a(),
            Mixed_4a(),
            Mixed_5a(),
        )
        self.last_linear = nn.Linear(384, num_classes)

    def logits(self, features):
        x = F.adaptive_avg_pool2d(features, 1)  # avg_pool(8) over 8x8 maps in the full model
        x = x.view(x.size(0), -1)
        x = self.last_linear(x)
        return x

    def forward(self, input):
        x = self.features(input)
        x = self.logits(x)
        return x


# ---- stand-in data ----
digits = load_digits()
images = torch.tensor((digits.images / 16.0).astype(np.float32))[:, None]
images = F.interpolate(images, size=(32, 32), mode='bilinear', align_corners=False).repeat(1, 3, 1, 1)
images = (images - 0.5) / 0.5  # the model's input settings: mean 0.5, std 0.5
x_tr, x_te, y_tr, y_te = train_test_split(images.numpy(), digits.target, test_size=0.2,
                                          random_state=SEED, stratify=digits.target)
x_tr, x_te = torch.tensor(x_tr), torch.tensor(x_te)
y_tr, y_te = torch.tensor(y_tr, dtype=torch.long), torch.tensor(y_te, dtype=torch.long)
train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_tr, y_tr),
                                           batch_size=32, shuffle=True)

model = InceptionV4Stem(num_classes=10)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

for epoch in range(4):
    model.train()
    for inputs, targets in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_te).argmax(1) == y_te).float().mean().item()
    print(f"epoch {epoch} loss {loss.item():.4f} val_accuracy {accuracy:.4f}")

print(f"RESULT val_accuracy={accuracy:.4f}")
