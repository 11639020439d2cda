"""A tiny training problem written into a temporary folder: BSD with 4 classes, 40 steps."""

import textwrap
from pathlib import Path

NETWORK = """
dt = "1*ms"
duration = "40*ms"
seed = 2

[populations.inp]
kind = "spikes"
size = 6

[populations.hid]
model = "adlif"
size = 10
scheme = "symplectic_euler"
[populations.hid.values]
tau_u = "uniform(5*ms, 25*ms)"
tau_w = "uniform(60*ms, 300*ms)"
a = "uniform(0, 120)"
b = "uniform(0, 240)"

[populations.out]
model = "li"
size = 4

[[projections]]
name = "input"
source = "inp"
target = "hid"
on_pre = "I_post += weight"
connect = "all_to_all"
weight = "uniform(-6, 6)"
delay = "uniform(0*ms, 2*ms)"

[[projections]]
name = "recurrent"
source = "hid"
target = "hid"
on_pre = "I_post += weight"
connect = { p = 0.5, autapses = true }
weight = "uniform(-0.5, 0.5)"
delay = "uniform(0*ms, 3*ms)"

[[projections]]
name = "readout"
source = "hid"
target = "out"
on_pre = "I_post += weight"
connect = "all_to_all"
weight = "uniform(-3, 3)"
"""

TRAIN = """
network = "net.toml"
seed = 4

[task]
name = "bsd"
input = "inp"
samples = 48
steps = 40
channels = 6
classes = 4
bursts = 2
width = 0.08

[readout]
population = "out"
variable = "y"
loss = "ce_sum_softmax"
ignore_first = 30

[train]
epochs = 5
batch_size = 8
lr = 0.1
clip_grad_norm = 1.5
schedule = "cosine"

[train.params.hid]
tau_u = {{ interpolate = ["5*ms", "25*ms"] }}
tau_w = {{ interpolate = ["60*ms", "300*ms"] }}
a = {{ scale = 120, range = [0, 1] }}
b = {{ scale = 120, range = [0, 2] }}
[train.params.input]
weight = {{}}
[train.params.recurrent]
weight = {{}}
[train.params.readout]
weight = {{}}

[runtime]
dtype = "{dtype}"
synapses = "{synapses}"
checkpoint_every = 2
threads = 1
"""


def write_problem(folder: Path, dtype="float64", synapses="dense", train_text=None, network_text=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "net.toml").write_text(textwrap.dedent(network_text or NETWORK))
    path = folder / "train.toml"
    path.write_text(textwrap.dedent(train_text or TRAIN.format(dtype=dtype, synapses=synapses)))
    return path

