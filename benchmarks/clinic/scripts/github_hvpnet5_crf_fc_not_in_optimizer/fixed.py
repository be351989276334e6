# Fixed twin of buggy.py (zjunlp/HVPNeT issue #5): the third parameter group ('crf' and 'fc' at
# lr 5e-2) is appended to `parameters` like the other two, so AdamW trains the emission layer and
# the CRF as intended ("The parameters.append(params) should be added after line 499").
# The NER model (HMNeTNERModel without the visual prompt): encoder -> dropout 0.1 -> fc -> CRF
# (negative log-likelihood, reduction 'mean'; Viterbi decoding); AdamW, weight decay 1e-2,
# lr 5e-5 for the encoder (the README recommends 3e-5 / 5e-5), batch 8, linear warm-up (ratio 0.01)
# and linear decay, as get_linear_schedule_with_warmup.
# Pre-trained BERT and the Twitter-2015 tweets are replaced by a fixed-length token task: each
# "sentence" is 4 tokens, each token an 8x8 digit from scikit-learn (standardized pixels) labelled with
# its digit; the encoder is a small two-layer stand-in for BERT. 30 epochs are cut to 3.
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn, optim
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


class CRF(nn.Module):
    """Linear-chain CRF (as torchcrf.CRF, batch_first=True, full masks)."""

    def __init__(self, num_tags, batch_first=True):
        super().__init__()
        self.num_tags = num_tags
        self.batch_first = batch_first
        self.start_transitions = nn.Parameter(torch.empty(num_tags))
        self.end_transitions = nn.Parameter(torch.empty(num_tags))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))
        nn.init.uniform_(self.start_transitions, -0.1, 0.1)
        nn.init.uniform_(self.end_transitions, -0.1, 0.1)
        nn.init.uniform_(self.transitions, -0.1, 0.1)

    def forward(self, emissions, tags, reduction='mean'):
        # emissions: bsz, len, tags; tags: bsz, len
        bsz, seq_len, _ = emissions.shape
        idx = torch.arange(bsz)
        score = self.start_transitions[tags[:, 0]] + emissions[idx, 0, tags[:, 0]]
        for t in range(1, seq_len):
            score = score + self.transitions[tags[:, t - 1], tags[:, t]] + emissions[idx, t, tags[:, t]]
        score = score + self.end_transitions[tags[:, -1]]
        alpha = self.start_transitions + emissions[:, 0]
        for t in range(1, seq_len):
            alpha = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1), dim=1)
        log_z = torch.logsumexp(alpha + self.end_transitions, dim=1)
        llh = score - log_z
        return llh.mean() if reduction == 'mean' else llh.sum()

    def decode(self, emissions):
        bsz, seq_len, _ = emissions.shape
        score = self.start_transitions + emissions[:, 0]
        history = []
        for t in range(1, seq_len):
            next_score = score.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1)
            score, indices = next_score.max(dim=1)
            history.append(indices)
        score = score + self.end_transitions
        best = [score.argmax(dim=1)]
        for indices in reversed(history):
            best.append(indices.gather(1, best[-1].unsqueeze(1)).squeeze(1))
        return torch.stack(best[::-1], dim=1)


class Encoder(nn.Module):
    """Stand-in for the pre-trained BertModel: token features -> hidden states."""

    def __init__(self, in_features, hidden_size):
        super().__init__()
        self.embeddings = nn.Linear(in_features, hidden_size)
        self.layer = nn.Sequential(nn.GELU(), nn.Linear(hidden_size, hidden_size), nn.GELU())

    def forward(self, x):
        return {'last_hidden_state': self.layer(self.embeddings(x))}


class HMNeTNERModel(nn.Module):
    def __init__(self, label_list, hidden_size=128):
        super(HMNeTNERModel, self).__init__()
        self.bert = Encoder(64, hidden_size)
        self.num_labels = len(label_list)
        self.crf = CRF(self.num_labels, batch_first=True)
        self.fc = nn.Linear(hidden_size, self.num_labels)
        self.dropout = nn.Dropout(0.1)

    def forward(self, tokens, labels=None):
        bert_output = self.bert(tokens)
        sequence_output = bert_output['last_hidden_state']  # bsz, len, hidden
        sequence_output = self.dropout(sequence_output)  # bsz, len, hidden
        emissions = self.fc(sequence_output)    # bsz, len, labels
        logits = self.crf.decode(emissions)
        loss = None
        if labels is not None:
            loss = -1 * self.crf(emissions, labels, reduction='mean')
        return logits, loss


def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps):
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))
    return LambdaLR(optimizer, lr_lambda)


SEQ_LEN = 4
digits = load_digits()
x_tr, x_va, y_tr, y_va = train_test_split(digits.data.astype(np.float32), digits.target, test_size=0.25,
                                          random_state=SEED, stratify=digits.target)
mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
x_tr, x_va = (x_tr - mean) / std, (x_va - mean) / std


def sentences(x, y):
    n = len(x) // SEQ_LEN * SEQ_LEN
    return (torch.tensor(x[:n]).view(-1, SEQ_LEN, 64), torch.tensor(y[:n], dtype=torch.long).view(-1, SEQ_LEN))


train_data = DataLoader(TensorDataset(*sentences(x_tr, y_tr)), batch_size=8, shuffle=True)
dev_data = DataLoader(TensorDataset(*sentences(x_va, y_va)), batch_size=8, shuffle=False)

lr, num_epochs, warmup_ratio = 5e-5, 3, 0.01
model = HMNeTNERModel(label_list=list(range(10)))
train_num_steps = len(train_data) * num_epochs

# multiModal_before_train()
parameters = []
params = {'lr': lr, 'weight_decay': 1e-2}
params['params'] = []
for name, param in model.named_parameters():
    if 'bert' in name:
        params['params'].append(param)
parameters.append(params)

# prompt lr
params = {'lr': lr, 'weight_decay': 1e-2}
params['params'] = []
for name, param in model.named_parameters():
    if 'encoder_conv' in name or 'gates' in name:
        params['params'].append(param)
parameters.append(params)

# crf lr
params = {'lr': 5e-2, 'weight_decay': 1e-2}
params['params'] = []
for name, param in model.named_parameters():
    if 'crf' in name or name.startswith('fc'):
        params['params'].append(param)
parameters.append(params)

optimizer = optim.AdamW(parameters)

for name, par in model.named_parameters():  # freeze resnet
    if 'image_model' in name:
        par.requires_grad = False

scheduler = get_linear_schedule_with_warmup(optimizer=optimizer, num_warmup_steps=warmup_ratio * train_num_steps,
                                            num_training_steps=train_num_steps)


def evaluate():
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for tokens, labels in dev_data:
            logits, _ = model(tokens, labels)
            correct += (logits == labels).sum().item()
            total += labels.numel()
    model.train()
    return correct / total


model.train()
for epoch in range(num_epochs):
    avg_loss = 0.0
    for tokens, labels in train_data:
        logits, loss = model(tokens, labels)
        avg_loss += loss.detach().cpu().item()
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    dev_acc = evaluate()
    print(f"epoch {epoch} loss {avg_loss / len(train_data):.4f} dev token accuracy {dev_acc:.4f}")

print(f"RESULT val_accuracy={dev_acc:.4f}")
