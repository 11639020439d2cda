"""
Write your own model and run it in Brian2 and in the twin
=========================================================

For a Brian2 user. A neuron model in bioadapt is a TOML file around the strings you
would give to ``NeuronGroup``: the equations (with units and flags), the threshold,
the reset and the refractory period. This tutorial writes an adaptive exponential
integrate-and-fire neuron, puts it in a small network, and runs the network in
Brian2's numpy runtime and in the PyTorch twin, which agree bit for bit.
"""

# %%
# The model file
# --------------
# ``equations`` is a Brian2 equation string; ``threshold``, ``reset`` and
# ``refractory`` are the arguments of ``NeuronGroup`` (``refractory`` may name a
# parameter). ``[defaults]`` gives parameters and initial states their values,
# numbers or quantities. Nothing else is needed: no Python, no code for the twin.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from bioadapt import load_model, network_from_dict, simulate
from bioadapt.models.table import parameter_table
from bioadapt.plot import plot_raster, plot_traces

ADEX = '''
description = "Adaptive exponential integrate-and-fire neuron (dimensionless voltage)."
equations = """
dv/dt = (-(v - E_L) + D_T*exp((v - V_T)/D_T) - w + I)/tau_m : 1 (unless refractory)
dw/dt = (a*(v - E_L) - w)/tau_w : 1
dI/dt = -I/tau_syn : 1
E_L : 1
V_T : 1
D_T : 1
v_peak : 1
v_reset : 1
a : 1
b : 1
tau_m : second
tau_w : second
tau_syn : second
t_ref : second
"""
threshold = "v > v_peak"
reset = """
v = v_reset
w += b
"""
refractory = "t_ref"

[defaults]
V_T = 1.0
D_T = 0.2
v_peak = 2.0
a = 0.1
b = 0.5
tau_m = "10*ms"
tau_w = "100*ms"
tau_syn = "5*ms"
t_ref = "2*ms"
'''

folder = Path(tempfile.mkdtemp())
(folder / "adex.toml").write_text(ADEX)
model = load_model(folder / "adex.toml")
print(parameter_table(model))

# %%
# A network
# ---------
# A network file (or, as here, the same content as a dict) names populations and
# projections. Every random draw (connections, values, delays, input spikes) is
# made once from ``seed``, so every backend gets the same numbers. ``on_pre`` is
# Brian2's: the Poisson inputs add to the current ``I``, the recurrent synapses
# kick the voltage, with delays drawn per synapse.
spec = network_from_dict({
    "dt": "0.1*ms",
    "duration": "200*ms",
    "seed": 1,
    "scheme": "euler",
    "populations": {
        "inp": {"kind": "poisson", "size": 50, "rate": "20*Hz"},
        "adex": {"model": str(folder / "adex.toml"), "size": 20, "values": {"tau_w": "uniform(50*ms, 200*ms)"}},
    },
    "projections": [
        {"source": "inp", "target": "adex", "on_pre": "I_post += weight", "connect": {"p": 0.3}, "weight": "uniform(0.5, 1.5)"},
        {"source": "adex", "target": "adex", "on_pre": "v_post += weight", "connect": {"p": 0.2, "autapses": False},
         "weight": "normal(0.1, 0.05)", "delay": "uniform(0*ms, 2*ms)"},
    ],
})
print(f"{spec.n_steps} steps; synapses: " + ", ".join(f"{p.name} {p.size}" for p in spec.projections))

# %%
# Brian2 and the twin
# -------------------
# ``simulate`` runs a network on one backend and returns spikes and the recorded
# variables at the end of every step. ``numpy`` is Brian2's runtime; ``torch`` is
# the twin, which executes the per-step code Brian2 generated for these very
# objects. In float64 both compute the same numbers: the spike trains are equal
# and so is every recorded value, to the last bit.
brian = simulate(spec, backend="numpy", record={"adex": ["v", "w"]})
twin = simulate(spec, backend="torch", record={"adex": ["v", "w"]})
print(brian.summary())
print(twin.summary())
print("identical spikes:", brian.spike_set("adex") == twin.spike_set("adex"))
print("identical v and w:", all(np.array_equal(brian.traces["adex"][v], twin.traces["adex"][v]) for v in ("v", "w")))

# %%
# What it looks like
# ------------------
# `bioadapt.plot` draws results: a raster of every population and the traces of
# a few neurons (the twin's, which are Brian2's).
fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True, constrained_layout=True)
plot_raster(brian, ax=axes[0])
plot_traces(twin, "adex", "v", neurons=[0, 1, 2], ax=axes[1])
plot_traces(twin, "adex", "w", neurons=[0, 1, 2], ax=axes[2])
axes[0].set_title("AdEx network: Brian2 (raster) and the twin (traces)")

# %%
# Mistakes get one error
# ----------------------
# A misspelt name, a wrong unit or a key the file format does not know gives one
# error naming the file, the key and what is expected, before Brian2 sees anything.
from bioadapt.errors import BioadaptError  # noqa: E402

(folder / "misspelt.toml").write_text(ADEX.replace('t_ref = "2*ms"', 't_refr = "2*ms"'))
(folder / "wrong_unit.toml").write_text(ADEX.replace('tau_m = "10*ms"', 'tau_m = "10*mV"'))
for name in ("misspelt.toml", "wrong_unit.toml"):
    try:
        network_from_dict({"dt": "0.1*ms", "duration": "1*ms", "populations": {"n": {"model": str(folder / name), "size": 1}}})
    except BioadaptError as error:
        print(error)
