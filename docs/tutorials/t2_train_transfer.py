"""
Train the twin with PyTorch and run the result in Brian2
========================================================

For a PyTorch user. `Twin` is an ``nn.Module``: its parameters are the network's
Brian2 values (time constants in seconds, weights), its forward pass runs the
network's per-step program, and spikes carry surrogate gradients. This tutorial
trains a small recurrent adaptive network with a plain PyTorch loop to produce a
target trace from frozen Poisson input, writes the trained values to a parameter
file, and runs the trained network in Brian2, where it gives the twin's spikes
and readout bit for bit.
"""

# %%
# The network
# -----------
# 20 Poisson inputs, 40 recurrent SE-adLIF neurons (``adlif``, whose default
# scheme is ``symplectic_euler``) with heterogeneous time constants, and one
# leaky-integrator readout ``y`` (``li``). The Poisson input is drawn once from
# the seed, so every run (and Brian2) sees the same spikes.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from bioadapt import network_from_dict, simulate
from bioadapt.backends.torch import Surrogate, Twin
from bioadapt.plot import plot_histograms, plot_raster, plot_traces
from bioadapt.train import apply_params, load_params, save_params

torch.manual_seed(0)
spec = network_from_dict({
    "dt": "1*ms",
    "duration": "200*ms",
    "seed": 2,
    "populations": {
        "inp": {"kind": "poisson", "size": 20, "rate": "50*Hz"},
        "hid": {"model": "adlif", "size": 40, "values": {
            "tau_u": "uniform(5*ms, 25*ms)", "tau_w": "uniform(60*ms, 300*ms)", "a": "uniform(0, 2)", "b": "uniform(0, 2)"}},
        "out": {"model": "li", "size": 1, "values": {"tau": "10*ms"}},
    },
    "projections": [
        {"name": "input", "source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "uniform(-1, 1)"},
        {"name": "recurrent", "source": "hid", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "uniform(-0.15, 0.15)"},
        {"name": "readout", "source": "hid", "target": "out", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "uniform(-0.15, 0.15)"},
    ],
})

# %%
# The twin as an ``nn.Module``
# ----------------------------
# ``dtype=torch.float32`` and ``synapses="dense"`` (one matrix product per delay)
# are the training settings; the surrogate derivative is a training knob and is
# not part of the network. The parameters are every value the program reads but
# never writes, under their Brian2 names.
twin = Twin(spec, dtype=torch.float32, synapses="dense", surrogate=Surrogate("exponential", alpha=5.0, c=0.4))
for owner, table in twin.params.items():
    print(f"{owner:10s}", ", ".join(f"{var} {tuple(p.shape)}" for var, p in table.items()))

# %%
# A plain PyTorch loop
# --------------------
# The weights and the membrane time constants are trained (the others are
# frozen); the loss is the mean squared error between the readout and a 10 Hz
# sine. ``tau_u`` is a time constant in seconds: it is kept within [2, 50] ms
# after every step.
t = np.arange(spec.n_steps) * spec.dt
target = torch.tensor(0.5 * np.sin(2 * np.pi * 10 * t), dtype=torch.float32)[:, None, None]  # (steps, batch, neurons)
trained = {("input", "weight"), ("recurrent", "weight"), ("readout", "weight"), ("hid", "tau_u")}
for owner, table in twin.params.items():
    for var, p in table.items():
        p.requires_grad_((owner, var) in trained)
initial = {owner: {var: p.detach().double().numpy().copy() for var, p in table.items()} for owner, table in twin.params.items()}
optimizer = torch.optim.Adam([p for p in twin.parameters() if p.requires_grad], lr=0.02)
losses = []
for step in range(40):
    out = twin(record={"out": ["y"]})
    loss = torch.nn.functional.mse_loss(out.traces["out"]["y"], target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        twin.params["hid"]["tau_u"].clamp_(2e-3, 50e-3)
    losses.append(loss.item())
print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")

# %%
# To Brian2
# ---------
# The trained values go to a parameter file (JSON: every value under its Brian2
# group and variable, with its unit), and `apply_params` gives a network with
# them. Brian2 runs it like any other network; so does the twin, now in float64.
values = {owner: {var: p.detach().double().numpy() for var, p in table.items()} for owner, table in twin.params.items()}
path = save_params(Path(tempfile.mkdtemp()) / "params.json", spec, values)
trained_spec = apply_params(spec, load_params(path))
brian = simulate(trained_spec, backend="numpy", record={"out": ["y"]})
twin64 = simulate(trained_spec, backend="torch", record={"out": ["y"]})
print("identical spikes:", all(brian.spike_set(p) == twin64.spike_set(p) for p in ("inp", "hid")))
print("identical readout:", np.array_equal(brian.traces["out"]["y"], twin64.traces["out"]["y"]))

# %%
# The loss during training, and Brian2's run of the trained network: the
# readout follows the target.
fig, axes = plt.subplots(3, 1, figsize=(8, 7), constrained_layout=True)
axes[0].plot(losses)
axes[0].set_xlabel("optimizer step")
axes[0].set_ylabel("loss")
plot_raster(brian, ax=axes[1])
plot_traces(brian, "out", "y", ax=axes[2])
axes[2].plot(t * 1e3, target[:, 0, 0], "k:", lw=1, label="target")
axes[2].legend(frameon=False)

# %%
# Training moved the membrane time constants, many of them to the bounds of the
# clamp (2 and 50 ms): before and after.
plot_histograms(values, owners=["hid"], variables=["tau_u"], reference=initial)
