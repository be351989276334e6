# Port of hassony2/kinetics_i3d_pytorch src/i3dpt.py as of issue #6 ("Dropout: opposite meaning?"):
# the I3D constructor takes dropout_keep_prob=1 (TensorFlow's meaning: keep every unit) and passes it
# to torch.nn.Dropout, whose argument is the probability of ZEROING a unit. With the default, every
# pooled feature is dropped in training mode: the 1x1x1 logits convolution sees zeros, only its bias
# gets a gradient, and nothing below it learns.
# Kept from the repository: Unit3Dpy (Conv3d without bias + BatchNorm3d + ReLU, 'SAME' padding),
# the TF-style stem (conv3d_1a stride 2, maxPool3d_2a (1,3,3)/(1,2,2), conv3d_2b 1x1x1, conv3d_2c
# 3x3x3, maxPool3d_3a), AvgPool3d, Dropout(dropout_keep_prob), conv3d_0c_1x1 (bias, no BN, no
# activation), squeeze, mean over time, softmax; forward returns (softmax, logits).
# Cut for size: the Mixed (inception) blocks 3b-5c are left out and the widths shrunk; the 7x7x7 stem
# kernel is 3x3x3. The repository has no training script; this one fine-tunes the model as a user
# would: cross-entropy on the logits, SGD momentum 0.9, lr 0.01, batch 32, 6 epochs, model.eval()
# to validate. Kinetics clips are replaced by scikit-learn digits shown as 4-frame, 3-channel
# "videos" (each 8x8 frame the digit plus noise).
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


def get_padding_shape(filter_shape, stride):
    def _pad_top_bottom(filter_dim, stride_val):
        pad_along = max(filter_dim - stride_val, 0)
        pad_top = pad_along // 2
        pad_bottom = pad_along - pad_top
        return pad_top, pad_bottom

    padding_shape = []
    for filter_dim, stride_val in zip(filter_shape, stride):
        pad_top, pad_bottom = _pad_top_bottom(filter_dim, stride_val)
        padding_shape.append(pad_top)
        padding_shape.append(pad_bottom)
    depth_top = padding_shape.pop(0)
    depth_bottom = padding_shape.pop(0)
    padding_shape.append(depth_top)
    padding_shape.append(depth_bottom)
    return tuple(padding_shape)


class Unit3Dpy(torch.nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=(1, 1, 1), stride=(1, 1, 1),
                 activation='relu', padding='SAME', use_bias=False, use_bn=True):
        super(Unit3Dpy, self).__init__()
        self.activation = activation
        self.use_bn = use_bn
        # 'SAME' padding as TensorFlow computes it (possibly asymmetric: a ConstantPad3d first)
        self.pad = torch.nn.ConstantPad3d(get_padding_shape(kernel_size, stride), 0)
        self.conv3d = torch.nn.Conv3d(in_channels, out_channels, kernel_size, stride=stride,
                                      bias=use_bias)
        if self.use_bn:
            self.batch3d = torch.nn.BatchNorm3d(out_channels)
        if activation == 'relu':
            self.activation = torch.nn.functional.relu

    def forward(self, inp):
        out = self.conv3d(self.pad(inp))
        if self.use_bn:
            out = self.batch3d(out)
        if self.activation is not None:
            out = self.activation(out)
        return out


class MaxPool3dTFPadding(torch.nn.Module):
    def __init__(self, kernel_size, stride=None, padding='SAME'):
        super(MaxPool3dTFPadding, self).__init__()
        self.pad = torch.nn.ConstantPad3d(get_padding_shape(kernel_size, stride), 0)
        self.pool = torch.nn.MaxPool3d(kernel_size, stride)

    def forward(self, inp):
        return self.pool(self.pad(inp))


class I3D(torch.nn.Module):
    def __init__(self, num_classes, modality='rgb', dropout_keep_prob=1, name='inception'):
        super(I3D, self).__init__()
        self.name = name
        self.num_classes = num_classes
        in_channels = 3 if modality == 'rgb' else 2
        self.conv3d_1a_7x7 = Unit3Dpy(out_channels=16, in_channels=in_channels,
                                      kernel_size=(3, 3, 3), stride=(2, 2, 2), padding='SAME')
        self.maxPool3d_2a_3x3 = MaxPool3dTFPadding(kernel_size=(1, 3, 3), stride=(1, 2, 2))
        self.conv3d_2b_1x1 = Unit3Dpy(out_channels=16, in_channels=16, kernel_size=(1, 1, 1))
        self.conv3d_2c_3x3 = Unit3Dpy(out_channels=48, in_channels=16, kernel_size=(3, 3, 3))
        self.maxPool3d_3a_3x3 = MaxPool3dTFPadding(kernel_size=(1, 3, 3), stride=(1, 2, 2))
        self.avg_pool = torch.nn.AvgPool3d((2, 1, 1), (1, 1, 1))
        self.dropout = torch.nn.Dropout(dropout_keep_prob)
        self.conv3d_0c_1x1 = Unit3Dpy(in_channels=48, out_channels=self.num_classes,
                                      kernel_size=(1, 1, 1), activation=None, use_bias=True,
                                      use_bn=False)
        self.softmax = torch.nn.Softmax(1)

    def forward(self, inp):
        out = self.conv3d_1a_7x7(inp)
        out = self.maxPool3d_2a_3x3(out)
        out = self.conv3d_2b_1x1(out)
        out = self.conv3d_2c_3x3(out)
        out = self.maxPool3d_3a_3x3(out)
        out = self.avg_pool(out)
        out = self.dropout(out)
        out = self.conv3d_0c_1x1(out)
        out = out.squeeze(3)
        out = out.squeeze(3)
        out = out.mean(2)
        out_logits = out
        out = self.softmax(out_logits)
        return out, out_logits


digits = load_digits()
frames = (digits.images / 16.0).astype(np.float32)                      # (N, 8, 8) in [0, 1]
clips = np.repeat(frames[:, None, None], 4, axis=2)                    # (N, 1, T=4, 8, 8)
clips = np.repeat(clips, 3, axis=1)                                    # (N, 3, 4, 8, 8) "rgb"
clips = clips + 0.1 * np.random.randn(*clips.shape).astype(np.float32)
clips = (clips - 0.5) / 0.5                                            # to [-1, 1] as I3D expects
x_tr, x_va, y_tr, y_va = train_test_split(clips, digits.target, test_size=0.2, random_state=SEED,
                                          stratify=digits.target)
train_loader = DataLoader(TensorDataset(torch.tensor(x_tr), torch.tensor(y_tr)), batch_size=32,
                          shuffle=True)

model = I3D(num_classes=10, modality='rgb')
criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
for epoch in range(6):
    model.train()
    for inputs, labels in train_loader:
        optimizer.zero_grad()
        _, logits = model(inputs)
        loss = criterion(logits, labels)
        loss.backward()
        optimizer.step()
    print('epoch', epoch, 'loss', loss.item())

model.eval()
with torch.no_grad():
    _, logits = model(torch.tensor(x_va))
    accuracy = (logits.argmax(1) == torch.tensor(y_va)).float().mean().item()
print(f"RESULT val_accuracy={accuracy:.4f}")
