# Port of hazdzz/stgcn issue #18 ("confusion about scheduler.step()"): main.py as of commit 10d7d8d, where
# the StepLR(step_size=10, gamma=0.95) meant to decay the rate every 10 epochs is stepped inside the
# mini-batch loop, right after optimizer.step(), so the rate shrinks by 0.95 every 10 batches.
# The repository's STGCN (Chebyshev graph convolution, Kt 3, Ks 3, two ST-Conv blocks with GLU, LayerNorm
# and dropout 0.5, an output block), n_his 12, n_pred 3, MSE, Adam (lr 0.001, weight decay 0.0005), batches
# of 32 in time order and early stopping on the validation loss (patience 30) are kept; the channels are
# halved (32-8-32 blocks, a 64-64-1 output block instead of 64-16-64 and 128-128-1) to fit a CPU budget.
# METR-LA (207 sensors) is unavailable: a generated 5-minute speed field on a ring road of 12 sensors
# (daily rush-hour dips varying by sensor and day, congestion waves travelling along the ring, noise),
# 2000 steps split 70/15/15 in time and z-scored with the training part's statistics; 30 epochs instead of
# up to 10000. The reported error is the test part's MSE over its variance (z-scored units).
import math
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.init as init
import torch.optim as optim
from sklearn import preprocessing
from torch import utils

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
torch.set_num_threads(1)


def make_speeds(T=2000, n=20, seed=1234):
    rng = np.random.RandomState(seed)
    t = np.arange(T)
    day, tod = t // 288, (t % 288) / 12.0  # hour of the day
    speed = np.full((T, n), 60.0)
    for i in range(n):
        shift = 1.5 * i / n
        depth_m = rng.uniform(10, 25, size=day.max() + 1)[day]
        depth_e = rng.uniform(10, 25, size=day.max() + 1)[day]
        speed[:, i] -= depth_m * np.exp(-((tod - 8.0 - shift) ** 2) / 0.8)
        speed[:, i] -= depth_e * np.exp(-((tod - 17.5 + shift) ** 2) / 1.2)
    jam = np.zeros(n)
    for k in range(T):
        jam = 0.55 * jam + 0.2 * (np.roll(jam, 1) + np.roll(jam, -1))
        if rng.rand() < 0.05:
            jam[rng.randint(n)] += rng.uniform(10, 30)
        speed[k] -= jam
    return speed + rng.normal(0, 1.5, size=speed.shape)


def ring_adjacency(n=20):
    adj = np.zeros((n, n))
    for i in range(n):
        for d in (1, 2):
            adj[i, (i + d) % n] = adj[i, (i - d) % n] = 1.0
    return adj


def calc_chebynet_gso(adj):
    deg = adj.sum(axis=1)
    d_inv_sqrt = np.diag(deg ** -0.5)
    lap = np.eye(len(adj)) - d_inv_sqrt @ adj @ d_inv_sqrt  # sym_norm_lap
    eigval_max = np.linalg.eigvalsh(lap).max()
    return 2 * lap / eigval_max - np.eye(len(adj))


def data_transform(data, n_his, n_pred):
    num = len(data) - n_his - n_pred
    n_vertex = data.shape[1]
    x = np.zeros([num, 1, n_his, n_vertex], dtype=np.float32)
    y = np.zeros([num, n_vertex], dtype=np.float32)
    for i in range(num):
        x[i, 0] = data[i:i + n_his]
        y[i] = data[i + n_his + n_pred - 1]
    return torch.from_numpy(x), torch.from_numpy(y)


class Align(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.c_in, self.c_out = c_in, c_out
        self.align_conv = nn.Conv2d(c_in, c_out, kernel_size=(1, 1))

    def forward(self, x):
        if self.c_in > self.c_out:
            return self.align_conv(x)
        if self.c_in < self.c_out:
            b, _, t, v = x.shape
            return torch.cat([x, torch.zeros([b, self.c_out - self.c_in, t, v]).to(x)], dim=1)
        return x


class TemporalConvLayer(nn.Module):  # gated (GLU) causal convolution over time, no padding
    def __init__(self, Kt, c_in, c_out):
        super().__init__()
        self.Kt, self.c_out = Kt, c_out
        self.align = Align(c_in, c_out)
        self.causal_conv = nn.Conv2d(c_in, 2 * c_out, kernel_size=(Kt, 1))

    def forward(self, x):
        x_in = self.align(x)[:, :, self.Kt - 1:, :]
        x_conv = self.causal_conv(x)
        x_p, x_q = x_conv[:, :self.c_out], x_conv[:, -self.c_out:]
        return (x_p + x_in) * torch.sigmoid(x_q)


class ChebGraphConv(nn.Module):
    def __init__(self, c_in, c_out, Ks, gso):
        super().__init__()
        self.Ks, self.gso = Ks, gso
        self.weight = nn.Parameter(torch.empty(Ks, c_in, c_out))
        self.bias = nn.Parameter(torch.empty(c_out))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
        init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x_list = [x, torch.einsum('hi,btij->bthj', self.gso, x)]
        for k in range(2, self.Ks):
            x_list.append(torch.einsum('hi,btij->bthj', 2 * self.gso, x_list[k - 1]) - x_list[k - 2])
        x = torch.stack(x_list, dim=2)
        return torch.einsum('btkhi,kij->bthj', x, self.weight) + self.bias


class GraphConvLayer(nn.Module):
    def __init__(self, c_in, c_out, Ks, gso):
        super().__init__()
        self.align = Align(c_in, c_out)
        self.cheb_graph_conv = ChebGraphConv(c_out, c_out, Ks, gso)

    def forward(self, x):
        x_gc_in = self.align(x)
        return self.cheb_graph_conv(x_gc_in).permute(0, 3, 1, 2) + x_gc_in


class STConvBlock(nn.Module):
    def __init__(self, Kt, Ks, n_vertex, last_block_channel, channels, gso, droprate):
        super().__init__()
        self.tmp_conv1 = TemporalConvLayer(Kt, last_block_channel, channels[0])
        self.graph_conv = GraphConvLayer(channels[0], channels[1], Ks, gso)
        self.tmp_conv2 = TemporalConvLayer(Kt, channels[1], channels[2])
        self.tc2_ln = nn.LayerNorm([n_vertex, channels[2]])
        self.dropout = nn.Dropout(p=droprate)

    def forward(self, x):
        x = F.relu(self.graph_conv(self.tmp_conv1(x)))
        x = self.tmp_conv2(x)
        x = self.tc2_ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.dropout(x)


class OutputBlock(nn.Module):
    def __init__(self, Ko, last_block_channel, channels, end_channel, n_vertex):
        super().__init__()
        self.tmp_conv1 = TemporalConvLayer(Ko, last_block_channel, channels[0])
        self.fc1 = nn.Linear(channels[0], channels[1])
        self.fc2 = nn.Linear(channels[1], end_channel)
        self.tc1_ln = nn.LayerNorm([n_vertex, channels[0]])

    def forward(self, x):
        x = self.tc1_ln(self.tmp_conv1(x).permute(0, 2, 3, 1))
        return self.fc2(F.relu(self.fc1(x))).permute(0, 3, 1, 2)


class STGCNChebGraphConv(nn.Module):
    def __init__(self, Kt, Ks, n_his, blocks, n_vertex, gso, droprate):
        super().__init__()
        self.st_blocks = nn.Sequential(*[
            STConvBlock(Kt, Ks, n_vertex, blocks[i][-1], blocks[i + 1], gso, droprate)
            for i in range(len(blocks) - 3)])
        Ko = n_his - (len(blocks) - 3) * 2 * (Kt - 1)
        self.output = OutputBlock(Ko, blocks[-3][-1], blocks[-2], blocks[-1][0], n_vertex)

    def forward(self, x):
        return self.output(self.st_blocks(x))


n_his, n_pred, Kt, Ks, n_vertex = 12, 3, 3, 3, 12
blocks = [[1], [32, 8, 32], [32, 8, 32], [64, 64], [1]]
gso = torch.from_numpy(calc_chebynet_gso(ring_adjacency(n_vertex)).astype(np.float32))

data = make_speeds(n=n_vertex)
len_val = len_test = math.floor(len(data) * 0.15)
len_train = len(data) - len_val - len_test
train, val, test = data[:len_train], data[len_train:len_train + len_val], data[len_train + len_val:]
zscore = preprocessing.StandardScaler()
train, val, test = zscore.fit_transform(train), zscore.transform(val), zscore.transform(test)
x_train, y_train = data_transform(train, n_his, n_pred)
x_val, y_val = data_transform(val, n_his, n_pred)
x_test, y_test = data_transform(test, n_his, n_pred)
train_iter = utils.data.DataLoader(utils.data.TensorDataset(x_train, y_train), batch_size=32, shuffle=False)
val_iter = utils.data.DataLoader(utils.data.TensorDataset(x_val, y_val), batch_size=32, shuffle=False)

loss = nn.MSELoss()
model = STGCNChebGraphConv(Kt, Ks, n_his, blocks, n_vertex, gso, droprate=0.5)
optimizer = optim.Adam(model.parameters(), lr=0.001, weight_decay=0.0005, amsgrad=False)
scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.95)


@torch.no_grad()
def val(model, val_iter):
    model.eval()
    l_sum, n = 0.0, 0
    for x, y in val_iter:
        l_sum += loss(model(x).view(len(x), -1), y).item() * y.shape[0]
        n += y.shape[0]
    return l_sum / n


epochs, patience = 30, 30
best, waited = float('inf'), 0
for epoch in range(epochs):
    l_sum, n = 0.0, 0
    model.train()
    for x, y in train_iter:
        y_pred = model(x).view(len(x), -1)
        ls = loss(y_pred, y)
        optimizer.zero_grad()
        ls.backward()
        optimizer.step()
        scheduler.step()  # inside the mini-batch loop: one decay step per batch
        l_sum += ls.item() * y.shape[0]
        n += y.shape[0]
    val_loss = val(model, val_iter)
    if epoch % 4 == 0 or epoch == epochs - 1:
        print(f"Epoch: {epoch + 1:03d} | Lr: {optimizer.param_groups[0]['lr']:.8f} | "
              f"Train loss: {l_sum / n:.6f} | Val loss: {val_loss:.6f}")
    if val_loss < best:
        best, waited = val_loss, 0
    else:
        waited += 1
        if waited >= patience:
            print('Early stopping.')
            break

model.eval()
with torch.no_grad():
    pred = model(x_test).view(len(x_test), -1)
test_mse = loss(pred, y_test).item()
print(f"RESULT val_error={test_mse / y_test.var().item():.4f}")
