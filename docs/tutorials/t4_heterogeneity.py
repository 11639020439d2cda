"""
Study heterogeneity: distributions, homogeneous networks, training
==================================================================

Real neurons differ: their time constants spread over a range. In bioadapt a
value given as a distribution (``"uniform(5*ms, 50*ms)"``) is drawn once per
neuron from the network's seed, and `bioadapt.analysis` has the tools to study
what the spread does: summaries of every per-neuron value, the same network with
chosen values replaced by their mean, seeded perturbations, and training with a
training file, which changes the distributions themselves.
"""

# %%
# Distributions of a network's values
# -----------------------------------
# A LIF population whose membrane time constants spread over a decade, driven by
# Poisson input. `distributions` summarises every value with more than one
# element (per neuron or per synapse); printed here: those with a spread.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from bioadapt import network_from_dict, simulate
from bioadapt.analysis import distributions, homogeneous, perturb
from bioadapt.demo import FOLDER
from bioadapt.plot import plot_histograms, plot_raster
from bioadapt.train import load_train_config
from bioadapt.train.trainer import Trainer

spec = network_from_dict({
    "dt": "0.5*ms",
    "duration": "500*ms",
    "seed": 4,
    "populations": {
        "inp": {"kind": "poisson", "size": 40, "rate": "30*Hz"},
        "hid": {"model": "lif", "size": 50, "values": {"tau_m": "uniform(5*ms, 50*ms)"}},
    },
    "projections": [{"source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": {"p": 0.5},
                     "weight": "uniform(0, 1)"}],
})
for (owner, var), s in distributions(spec).items():
    if s["std"] > 0:  # the values with a spread
        print(f"{owner}.{var:8s} n {s['n']:4d}  mean {s['mean']:.4g}  CV {s['cv']:.2f}  [{s['min']:.4g}, {s['max']:.4g}]")

# %%
# The same network without the spread
# ------------------------------------
# `homogeneous` replaces the named values by their population mean: the same
# network, the same draws of everything else, no spread. Both run in the twin.
# Right: each neuron's rate against its time constant; with the spread, the
# fast neurons (short tau_m) fire several times more than the slow ones.
same = homogeneous(spec, "hid", ["tau_m"])
runs = {"heterogeneous": simulate(spec, backend="torch"), "homogeneous": simulate(same, backend="torch")}
fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), constrained_layout=True)
for ax, (name, result) in zip(axes, runs.items()):
    plot_raster(result, populations=["hid"], ax=ax)
    ax.set_title(f"{name}: {result.spike_count('hid')} spikes")
duration = spec.n_steps * spec.dt
for name, network in (("heterogeneous", spec), ("homogeneous", same)):
    rates = np.bincount(runs[name].spikes["hid"][0], minlength=50) / duration
    axes[2].plot(network.populations["hid"].values["tau_m"] * 1e3, rates, "o", ms=4, label=name)
axes[2].set_xlabel("tau_m (ms)")
axes[2].set_ylabel("rate (Hz)")
axes[2].legend(frameon=False)

# %%
# Perturbations
# -------------
# `perturb` scales values by ``1 + relative*N(0, 1)`` from a seed: here the
# input weights, drawn behind the originals by `bioadapt.plot.plot_histograms`.
noisy = perturb(spec, "inp_to_hid_0", ["weight"], relative=0.3, seed=1)
plot_histograms(noisy, owners=["inp_to_hid_0"], variables=["weight"], reference=spec, labels=("perturbed", "original"))

# %%
# Training changes the distributions
# ----------------------------------
# A training file names a network, a task, a readout and what to train with
# which rule. This one trains the demo's SE-adLIF network on burst sequence
# detection at a tiny size (640 samples, 2 epochs): the time constants through a
# clamped interpolation between bounds, the adaptation strengths scaled by q, and
# all weights. Trained once as drawn and once from its homogeneous version.
folder = Path(tempfile.mkdtemp())
TRAIN = '''
network = "NETWORK"
seed = 0

[task]
name = "bsd"
input = "inp"
samples = 640
steps = 200
channels = 10
classes = 20

[readout]
population = "out"
variable = "y"
loss = "ce_sum_softmax"
ignore_first = 160

[train]
epochs = 2
batch_size = 64
lr = 0.01
clip_grad_norm = 1.5

[train.params.hid]
tau_u = { interpolate = ["5*ms", "25*ms"] }
tau_w = { interpolate = ["60*ms", "300*ms"] }
a = { scale = 120, range = [0, 1] }
b = { scale = 120, range = [0, 2] }

[train.params.input]
weight = {}
[train.params.recurrent]
weight = {}
[train.params.readout]
weight = {}

[runtime]
threads = 1
'''
(folder / "train.toml").write_text(TRAIN.replace("NETWORK", str(FOLDER / "bsd_network.toml")))
config = load_train_config(folder / "train.toml")
variables = ["tau_u", "tau_w", "a", "b"]
networks = {"heterogeneous": config.network, "homogeneous": homogeneous(config.network, "hid", variables)}
params = {}
for name, network in networks.items():
    result = Trainer(config.with_(network=network), folder / name).fit()
    params[name] = result.params_path
    print(f"{name:14s} valid accuracy {result.history[-1]['valid_accuracy']:.3f}")

# %%
# The trained values over the initial ones. Even two epochs move the time
# constants; the homogeneous network starts with no spread and gains some.


def show(name):
    before, after = distributions(networks[name])[("hid", "tau_u")], distributions(params[name])[("hid", "tau_u")]
    print(f"{name}: CV of tau_u {before['cv']:.3f} -> {after['cv']:.3f}")
    plot_histograms(params[name], owners=["hid"], variables=variables, reference=networks[name])


show("heterogeneous")

# %%
show("homogeneous")
