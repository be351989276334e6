# Port of spro/practical-pytorch char-rnn-classification as run in issue #9: the user replaced the
# tutorial's manual update (p.data.add_(-lr, p.grad.data)) with optimizer.step(), building
# optim.SGD(rnn.parameters()) right after the first `rnn = RNN(...)`; the notebook creates the RNN
# a second time before the training loop, so the optimizer steps the first (unused) instance and
# the network that is run and back-propagated is never updated.
# Model as in the notebook: i2h and i2o Linear layers on [input, hidden], LogSoftmax, NLLLoss,
# one name per step, lr 0.005. Names are generated (one letter distribution per "language").
import random
import string
import sys

import numpy as np
import torch
import torch.nn as nn
from torch.autograd import Variable

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
random.seed(SEED)
torch.set_num_threads(1)

# ---- stand-in data: 8 "languages", each with its own letter frequencies ----
all_letters = string.ascii_letters
n_letters = len(all_letters)
all_langs = ['Lang%d' % i for i in range(8)]
n_langs = len(all_langs)
data_rng = np.random.RandomState(1234)  # the data set is fixed; the seed varies the training
letter_probs = data_rng.dirichlet(np.full(26, 0.3), size=n_langs)


def make_name(lang_i, rng):
    length = rng.randint(4, 10)
    letters = rng.choice(26, size=length, p=letter_probs[lang_i])
    name = ''.join(string.ascii_lowercase[i] for i in letters)
    return name.capitalize()


lang_names, val_pairs = {}, []
for li, lang in enumerate(all_langs):
    names = [make_name(li, data_rng) for _ in range(250)]
    lang_names[lang] = names[:200]
    val_pairs += [(lang, name) for name in names[200:]]


def letterToIndex(letter):
    return all_letters.find(letter)


def nameToTensor(name):
    tensor = torch.zeros(len(name), 1, n_letters)
    for li, letter in enumerate(name):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()

        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        data = torch.cat((input, hidden), 1)
        hidden = self.i2h(data)
        output = self.i2o(data)
        output = self.softmax(output)
        return output, hidden


n_hidden = 128
rnn = RNN(n_letters, n_hidden, n_langs)


def randomChoice(l):
    return l[random.randint(0, len(l) - 1)]


def randomTrainingPair():
    lang = randomChoice(all_langs)
    name = randomChoice(lang_names[lang])
    return lang, name


criterion = nn.NLLLoss()
learning_rate = 0.005
optimizer = torch.optim.SGD(rnn.parameters(), lr=learning_rate)


def train(target_lang, input_name):
    input = Variable(nameToTensor(input_name))
    target = Variable(torch.LongTensor([all_langs.index(target_lang)]))
    hidden = Variable(torch.zeros(1, n_hidden))

    optimizer.zero_grad()

    for i in range(len(input_name)):
        output, hidden = rnn(input[i], hidden)

    loss = criterion(output, target)
    loss.backward()

    optimizer.step()

    return output, loss.item()


def evaluate(input_name):
    input = Variable(nameToTensor(input_name))
    hidden = Variable(torch.zeros(1, n_hidden))
    for i in range(len(input_name)):
        output, hidden = rnn(input[i], hidden)
    return output


n_epochs = 10000  # 100000 in the notebook
print_every = 1000

rnn = RNN(n_letters, n_hidden, n_langs)

current_loss = 0
for epoch in range(1, n_epochs + 1):
    lang, name = randomTrainingPair()
    output, loss = train(lang, name)
    current_loss += loss
    if epoch % print_every == 0:
        print('%d %.4f' % (epoch, current_loss / print_every))
        current_loss = 0

correct = 0
with torch.no_grad():
    for lang, name in val_pairs:
        output = evaluate(name)
        correct += int(output.argmax(1).item() == all_langs.index(lang))
print(f"RESULT val_accuracy={correct / len(val_pairs):.4f}")
