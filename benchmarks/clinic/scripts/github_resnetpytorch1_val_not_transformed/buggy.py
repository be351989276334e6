# Port of JeasunLok/ResNet-pytorch (issue #1, fixed in commit ecc4991 "fix: transform bugs"):
# main.py builds the training set with the ToTensor transform (pixels 0..255 -> 0..1) but the
# validation and test sets with transform=None, so MyDataset hands them the raw 0..255 pixels.
# Their resnet34 (BasicBlock [3, 4, 6, 3], Kaiming fan_out init), CrossEntropyLoss,
# SGD(lr=0.001, momentum=0.9, weight_decay=5e-4), StepLR(gamma=0.9), batch 32, shuffled.
# The image folders are replaced by scikit-learn's 8x8 digits as 3-channel uint8 images;
# the RandomRotation(10) augmentation (torchvision) is left out; 30 epochs cut to 2
# (the value the fix commit itself set).
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.utils.data as data
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channel, out_channel, stride=1, downsample=None, **kwargs):
        super(BasicBlock, self).__init__()
        self.conv1 = nn.Conv2d(in_channels=in_channel, out_channels=out_channel,
                               kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channel)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels=out_channel, out_channels=out_channel,
                               kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channel)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        if self.downsample is not None:
            identity = self.downsample(x)
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out += identity
        out = self.relu(out)
        return out


class ResNet(nn.Module):
    def __init__(self, block, blocks_num, num_classes=1000, include_top=True, groups=1,
                 width_per_group=64):
        super(ResNet, self).__init__()
        self.include_top = include_top
        self.in_channel = 64
        self.groups = groups
        self.width_per_group = width_per_group
        self.conv1 = nn.Conv2d(3, self.in_channel, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.in_channel)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, blocks_num[0])
        self.layer2 = self._make_layer(block, 128, blocks_num[1], stride=2)
        self.layer3 = self._make_layer(block, 256, blocks_num[2], stride=2)
        self.layer4 = self._make_layer(block, 512, blocks_num[3], stride=2)
        if self.include_top:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    def _make_layer(self, block, channel, block_num, stride=1):
        downsample = None
        if stride != 1 or self.in_channel != channel * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.in_channel, channel * block.expansion, kernel_size=1, stride=stride,
                          bias=False),
                nn.BatchNorm2d(channel * block.expansion))
        layers = [block(self.in_channel, channel, downsample=downsample, stride=stride,
                        groups=self.groups, width_per_group=self.width_per_group)]
        self.in_channel = channel * block.expansion
        for _ in range(1, block_num):
            layers.append(block(self.in_channel, channel, groups=self.groups,
                                width_per_group=self.width_per_group))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        if self.include_top:
            x = self.avgpool(x)
            x = torch.flatten(x, 1)
            x = self.fc(x)
        return x


def resnet34(num_classes=1000, include_top=True):
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes, include_top=include_top)


def to_tensor(image):
    """transforms.ToTensor on an HWC uint8 image: CHW float in [0, 1]."""
    return torch.from_numpy(np.transpose(image, [2, 0, 1])).float().div(255)


class MyDataset(data.Dataset):
    def __init__(self, images, labels, transform=None):
        self.images = images
        self.labels = labels
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        image = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        else:
            image = torch.from_numpy(np.transpose(np.array(image), [2, 0, 1]))
        return image, int(self.labels[index])


epoch = 2
lr = 0.001
momentum = 0.9
weight_decay = 5e-4
batch_size = 32

digits = load_digits()
rgb = np.repeat(np.round(digits.images * 255.0 / 16.0).astype(np.uint8)[..., None], 3, axis=3)
x_tr, x_val, y_tr, y_val = train_test_split(rgb, digits.target, test_size=0.2,
                                            random_state=SEED, stratify=digits.target)

model = resnet34(num_classes=10)
optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(epoch // 10, 1), gamma=0.9)
criterion = nn.CrossEntropyLoss()

image_transform = to_tensor
train_dataset = MyDataset(x_tr, y_tr, transform=image_transform)
val_dataset = MyDataset(x_val, y_val)

train_loader = DataLoader(train_dataset, shuffle=True, batch_size=batch_size)
val_loader = DataLoader(val_dataset, shuffle=False, batch_size=batch_size)

for e in range(epoch):
    model.train()
    correct, n, total_loss = 0, 0, 0.0
    for batch_data, batch_label in train_loader:
        batch_data = batch_data.float()
        optimizer.zero_grad()
        batch_prediction = model(batch_data)
        loss = criterion(batch_prediction, batch_label)
        loss.backward()
        optimizer.step()
        correct += (batch_prediction.argmax(1) == batch_label).sum().item()
        n += batch_data.shape[0]
        total_loss += loss.item() * batch_data.shape[0]
    scheduler.step()
    print("Epoch: {:03d} | train_loss: {:.4f} | train_acc1: {:.2f}%".format(
        e + 1, total_loss / n, 100.0 * correct / n))

model.eval()
correct, n = 0, 0
with torch.no_grad():
    for batch_data, batch_label in val_loader:
        batch_data = batch_data.float()
        batch_prediction = model(batch_data)
        correct += (batch_prediction.argmax(1) == batch_label).sum().item()
        n += batch_data.shape[0]
print(f"RESULT val_accuracy={correct / n:.4f}")
