# Port of huggingface/torchMoji issue #21 ("loss don't go down when finetune and about requires_grad option
# in backward()"): torchmoji/finetuning.py's finetune() loop (BCEWithLogitsLoss, Adam lr 0.001, grad-norm clip
# 1, early stopping on the validation loss with patience 5, the best checkpoint restored). TorchMoji.forward
# notes that its input was a LongTensor and then returns `outputs.data`, the output cut from the graph.
# loss.backward() then fails ('element 0 of tensors does not require grad'), and the user's workaround from
# the thread, loss = Variable(loss, requires_grad=True), makes the loss a fresh leaf: backward() runs, but no
# parameter gets a gradient, so nothing trains.
# SS-Youtube and the pretrained DeepMoji weights are unavailable. The thread ran the 'last' method (only the
# output layer trains on the pretrained features); without those weights the library's 'new' method (every
# layer trains from its initialization, lr 0.001, L2 1e-6 on the embedding) is run instead. Data: generated
# sentiment-like token sequences (vocabulary 400, 5-20 tokens, 40 positive and 40 negative marker words),
# 1400/200/400 train/validation/test. The model keeps torchMoji's layout at a smaller size (embedding 32 with
# tanh and dropout 0.1, two bidirectional LSTMs of 32 (nn.LSTM for the hard-sigmoid LSTM), the skip
# concatenation, the one-vector attention, dropout 0.5, a Linear to 1 logit) and its Keras-style init.
# Epochs of 5000 random samples in batches of 250 as finetune() draws them; at most 8 epochs instead of 1000.
import copy
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.autograd import Variable
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
torch.set_num_threads(1)
rng = np.random.RandomState(SEED)

NB_TOKENS, MAXLEN = 400, 20
POS, NEG = np.arange(1, 41), np.arange(41, 81)
NEUTRAL = np.arange(81, NB_TOKENS)


def make_texts(n):
    X = np.zeros((n, MAXLEN), dtype=np.int64)  # 0 is padding
    y = rng.randint(0, 2, size=n)
    for i in range(n):
        length = rng.randint(5, MAXLEN + 1)
        words = rng.choice(NEUTRAL, size=length)
        n_marked = rng.randint(2, 5)
        for j in rng.choice(length, size=n_marked, replace=False):
            own = rng.rand() < 0.75  # a marker of the text's own sentiment three times out of four
            pool = (POS if y[i] == 1 else NEG) if own else (NEG if y[i] == 1 else POS)
            words[j] = rng.choice(pool)
        X[i, :length] = words
    return torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))


X_all, y_all = make_texts(2000)
texts = (X_all[:1400], X_all[1400:1600], X_all[1600:])
labels = (y_all[:1400], y_all[1400:1600], y_all[1600:])


class Attention(nn.Module):
    def __init__(self, attention_size):
        super().__init__()
        self.attention_vector = nn.Parameter(torch.empty(attention_size).normal_(std=0.05))

    def forward(self, inputs, input_lengths):
        logits = inputs.matmul(self.attention_vector)
        unnorm_ai = (logits - logits.max()).exp()
        idxes = torch.arange(inputs.size(1)).unsqueeze(0)
        mask = (idxes < input_lengths.unsqueeze(1)).float()
        masked_weights = unnorm_ai * mask
        attentions = masked_weights / masked_weights.sum(dim=1, keepdim=True)
        return (inputs * attentions.unsqueeze(-1)).sum(dim=1)


class TorchMoji(nn.Module):
    def __init__(self, nb_classes, nb_tokens, embedding_dim=32, hidden_size=32,
                 embed_dropout_rate=0.1, final_dropout_rate=0.5):
        super().__init__()
        attention_size = 4 * hidden_size + embedding_dim
        self.nb_classes = nb_classes
        self.embed = nn.Embedding(nb_tokens, embedding_dim)
        self.embed_dropout = nn.Dropout(embed_dropout_rate)
        self.lstm_0 = nn.LSTM(embedding_dim, hidden_size, batch_first=True, bidirectional=True)
        self.lstm_1 = nn.LSTM(hidden_size * 2, hidden_size, batch_first=True, bidirectional=True)
        self.attention_layer = Attention(attention_size)
        self.final_dropout = nn.Dropout(final_dropout_rate)
        self.output_layer = nn.Sequential(nn.Linear(attention_size, nb_classes if nb_classes > 2 else 1))
        self.init_weights()
        self.eval()

    def init_weights(self):
        nn.init.uniform_(self.embed.weight, a=-0.5, b=0.5)
        for name, param in self.named_parameters():
            if 'weight_ih' in name:
                nn.init.xavier_uniform_(param)
            elif 'weight_hh' in name:
                nn.init.orthogonal_(param)
            elif 'bias' in name:
                nn.init.constant_(param, 0)
        nn.init.xavier_uniform_(self.output_layer[0].weight)

    def forward(self, input_seqs):
        return_tensor = isinstance(input_seqs, torch.LongTensor)
        lengths = (input_seqs != 0).sum(dim=1)
        x = self.embed_dropout(torch.tanh(self.embed(input_seqs)))
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out_0, _ = self.lstm_0(packed)
        out_1, _ = self.lstm_1(out_0)
        out_0, _ = pad_packed_sequence(out_0, batch_first=True, total_length=input_seqs.size(1))
        out_1, _ = pad_packed_sequence(out_1, batch_first=True, total_length=input_seqs.size(1))
        features = torch.cat((out_1, out_0, x), dim=2)
        x = self.attention_layer(features, lengths)
        outputs = self.output_layer(self.final_dropout(x))
        if return_tensor:
            outputs = outputs.data  # the input was a LongTensor: hand back a tensor, without its graph
        return outputs


def calc_loss(loss_op, pred, yv):
    return loss_op(pred.squeeze(), yv.squeeze().float())


def evaluate_using_acc(model, gen):
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for x, y in gen:
            pred = (model(x).squeeze(1) >= 0).long()
            correct += (pred == y).sum().item()
            total += len(y)
    return correct / total


def batches(X, y, batch_size):
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(y), batch_size)]


def train_batches(X, y, batch_size, epoch_size):
    idx = torch.from_numpy(rng.randint(0, len(y), size=epoch_size))
    return [(X[idx[i:i + batch_size]], y[idx[i:i + batch_size]]) for i in range(0, epoch_size, batch_size)]


model = TorchMoji(nb_classes=2, nb_tokens=NB_TOKENS)
batch_size, epoch_size, nb_epochs, patience = 250, 5000, 8, 5
val_gen = batches(texts[1], labels[1], batch_size)
test_gen = batches(texts[2], labels[2], batch_size)

loss_op = nn.BCEWithLogitsLoss()
# the 'new' method (no pretrained weights): every layer trains; L2 on the embedding, lr 0.001 for all
embed_params_id = [id(p) for p in model.embed.parameters()]
output_layer_params_id = [id(p) for p in model.output_layer.parameters()]
base_params = [p for p in model.parameters()
               if id(p) not in embed_params_id and id(p) not in output_layer_params_id]
adam = optim.Adam([
    {'params': base_params},
    {'params': list(model.embed.parameters()), 'weight_decay': 1e-6},
    {'params': list(model.output_layer.parameters()), 'lr': 0.001},
], lr=0.001)

model.eval()
with torch.no_grad():
    best_loss = np.mean([calc_loss(loss_op, model(xv), yv).item() for xv, yv in val_gen])
print('original val loss', best_loss)
checkpoint = copy.deepcopy(model.state_dict())
epoch_without_impr = 0
for epoch in range(nb_epochs):
    for X_train, y_train in train_batches(texts[0], labels[0], batch_size, epoch_size):
        model.train()
        adam.zero_grad()
        output = model(X_train)
        loss = calc_loss(loss_op, output, y_train)
        loss = Variable(loss, requires_grad=True)  # the thread's workaround for the missing grad_fn
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1)
        adam.step()
    acc = evaluate_using_acc(model, val_gen)
    with torch.no_grad():
        val_loss = np.mean([calc_loss(loss_op, model(xv), yv).item() for xv, yv in val_gen])
    print(f'epoch {epoch}  train loss {loss.item():.5f}  val acc {acc:.4f}  val loss {val_loss:.5f}')
    if val_loss >= best_loss:
        epoch_without_impr += 1
    else:
        best_loss = val_loss
        checkpoint = copy.deepcopy(model.state_dict())
    if epoch_without_impr >= patience:
        break

model.load_state_dict(checkpoint)
acc = evaluate_using_acc(model, test_gen)
print('Acc:', acc)
print(f"RESULT val_accuracy={acc:.4f}")
