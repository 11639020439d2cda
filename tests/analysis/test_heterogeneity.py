"""Heterogeneity tools: distributions, homogeneous networks with the same means, perturbations, robustness."""

import sys
from pathlib import Path

import numpy as np
import pytest

from bioadapt import ConfigError
from bioadapt.analysis import distributions, homogeneous, per_step_values, perturb, plot_distributions
from bioadapt.train import robustness
from bioadapt.train import load_train_config
from bioadapt.train.trainer import train

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
from train_problem import write_problem  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heterogeneity")
    config = load_train_config(write_problem(folder / "p"))
    return config, train(config, folder / "run").params_path, folder


def test_distributions_of_a_network(trained):
    config, params_path, _ = trained
    spec = config.network
    stats = distributions(spec)
    tau = spec.populations["hid"].values["tau_u"]
    s = stats[("hid", "tau_u")]
    assert s["n"] == 10 and s["mean"] == pytest.approx(tau.mean(), rel=1e-14) and s["std"] == pytest.approx(tau.std(), rel=1e-14)
    assert s["min"] <= s["q05"] <= s["median"] <= s["q95"] <= s["max"]
    assert stats[("hid", "theta")]["std"] == 0 and stats[("hid", "theta")]["mean"] == 1.0  # a homogeneous value
    assert ("recurrent", "delay_steps") in stats
    trained_stats = distributions(params_path)
    assert trained_stats[("hid", "tau_u")]["mean"] != s["mean"]


def test_homogeneous_keeps_means_and_removes_spread(trained):
    config, _, _ = trained
    spec = config.network
    hom = homogeneous(spec, "hid", ["tau_u", "tau_w"])
    for var in ("tau_u", "tau_w"):
        v = hom.populations["hid"].values[var]
        assert np.all(v == v[0]) and v[0] == pytest.approx(spec.populations["hid"].values[var].mean(), rel=1e-15)
    assert np.array_equal(hom.populations["hid"].values["a"], spec.populations["hid"].values["a"])
    hom_w = homogeneous(spec, "recurrent", ["weight"])
    assert np.ptp(next(p for p in hom_w.projections if p.name == "recurrent").weight) == 0
    with pytest.raises(ConfigError, match="'hid.nothing' is not a value"):
        homogeneous(spec, "hid", ["nothing"])


def test_perturb_is_seeded_and_scaled(trained):
    config, _, _ = trained
    spec = config.network
    assert np.array_equal(perturb(spec, "input", ["weight"], 0.0).projections[0].weight, spec.projections[0].weight)
    a = perturb(spec, "input", ["weight"], 0.1, seed=3).projections[0].weight
    b = perturb(spec, "input", ["weight"], 0.1, seed=3).projections[0].weight
    assert np.array_equal(a, b)
    ratio = a / spec.projections[0].weight
    assert abs(np.std(ratio - 1) - 0.1) < 0.04 and abs(np.mean(ratio - 1)) < 0.05


def test_robustness_degrades_with_perturbation(trained):
    config, params_path, folder = trained
    rows = robustness(config, params_path, targets=[("recurrent", ["weight"]), ("input", ["weight"])], relative=(0.0, 1.0), input_flip=(0.0, 0.3), split="train")
    assert [(r["relative"], r["input_flip"]) for r in rows] == [(0.0, 0.0), (0.0, 0.3), (1.0, 0.0), (1.0, 0.3)]
    clean = rows[0]
    assert all(r["loss"] > clean["loss"] for r in rows[1:])
    path = plot_distributions(params_path, folder / "dist.png", reference=config.network)
    assert path.is_file() and path.stat().st_size > 10_000


LIF_NETWORK = """
dt = "1*ms"
duration = "40*ms"
seed = 3

[populations.inp]
kind = "spikes"
size = 6

[populations.hid]
model = "lif"
size = 12
scheme = "exact"
[populations.hid.values]
tau_m = "uniform(10*ms, 30*ms)"
{hidden_theta}

[populations.out]
model = "lif"                    # a non-spiking leaky readout with a synaptic current
size = 4
scheme = "exact"
[populations.out.values]
theta = "inf"

[[projections]]
name = "input"
source = "inp"
target = "hid"
on_pre = "I_post += weight"
connect = "all_to_all"
weight = "uniform(0, 1.5)"
delay = "uniform(0*ms, 3*ms)"

[[projections]]
name = "readout"
source = "hid"
target = "out"
on_pre = "I_post += weight"
connect = "all_to_all"
weight = "uniform(-1, 1)"

[[projections]]
name = "direct"
source = "inp"
target = "out"
on_pre = "I_post += weight"
connect = "all_to_all"
weight = "uniform(-0.5, 0.5)"
"""


def _lif_problem(folder, hidden_theta=""):
    from train_problem import TRAIN

    text = TRAIN.format(dtype="float64", synapses="dense").replace('variable = "y"', 'variable = "v"').replace("epochs = 5", "epochs = 1")
    text = text[: text.index("[train.params.hid]")] + "[train.params.readout]\nweight = {}\n[train.params.direct]\nweight = {}\n\n" + text[text.index("[runtime]"):]
    return load_train_config(write_problem(folder, train_text=text, network_text=LIF_NETWORK.format(hidden_theta=hidden_theta)))


def test_finer_dt_runs_for_the_trained_adlif_network(trained):
    """adlif and li hold one step of input in I: at dt/2 it keeps its charge
    (`bioadapt.network.transfer`), so the trained network runs, and refine=1
    is the plain run."""
    config, params_path, _ = trained
    rows = robustness(config, params_path, targets=[], relative=(0.0,), refine=(1, 2), split="train")
    assert [r["refine"] for r in rows] == [1, 2] and all(np.isfinite(r["loss"]) for r in rows)
    assert rows[0] == robustness(config, params_path, targets=[], relative=(0.0,), split="train")[0]
    with pytest.raises(ConfigError, match="refine factors must be whole numbers"):
        robustness(config, params_path, targets=[], relative=(0.0,), refine=(1, 1.5), split="train")


def test_finer_dt_converges_for_a_physical_network(tmp_path):
    """LIF neurons with synaptic currents (no per-step values), exact propagator,
    no spikes in the hidden layer: the readout, driven by the input spikes
    directly, is a linear function of them whose only dt dependence is the
    one-step latency of a synaptic event, so the loss converges at first order
    as dt -> 0."""
    config = _lif_problem(tmp_path / "p", hidden_theta='theta = "inf"')
    assert per_step_values(config.network) == []
    params = train(config, tmp_path / "run").params_path
    rows = robustness(config, params, targets=[], relative=(0.0,), refine=(1, 2, 4, 8, 16), split="train")
    assert [r["refine"] for r in rows] == [1, 2, 4, 8, 16] and rows[1]["dt"] == config.network.dt / 2
    loss = np.array([r["loss"] for r in rows])
    ratios = np.abs(np.diff(loss))[1:] / np.abs(np.diff(loss))[:-1]
    # first order: each halving of dt roughly halves the change, closer to 1/2 the finer the grid
    assert np.all((ratios > 0.3) & (ratios < 0.55)) and abs(ratios[-1] - 0.5) < abs(ratios[0] - 0.5)
    assert robustness(config, params, targets=[], relative=(0.0,), split="train")[0]["loss"] == rows[0]["loss"]


def test_finer_dt_runs_for_a_spiking_physical_network(tmp_path):
    config = _lif_problem(tmp_path / "p")
    params = train(config, tmp_path / "run").params_path
    rows = robustness(config, params, targets=[], relative=(0.0,), refine=(1, 4), split="train")
    assert all(np.isfinite(r["loss"]) and 0 <= r["accuracy"] <= 1 for r in rows)


def test_per_step_values_names_what_cannot_be_retimed(tmp_path):
    """A model that holds one step of current with a unit (``I_syn = 0*amp``
    every step) transfers (an impulse variable); a discrete-time map and a
    neuron firing every step do not, each named with the reason."""
    from bioadapt import network_from_dict
    from bioadapt.network.transfer import impulse_variables

    (tmp_path / "pulse.toml").write_text(
        'equations = """\ndv/dt = (-v + R*I_syn)/tau : volt\nI_syn : amp\nR : ohm\ntau : second\n"""\n'
        'threshold = "v > 10*mV"\nreset = "v = 0*mV"\n'
        '[every_step]\nafter_groups = "I_syn = 0*amp"\n'
        '[defaults]\nR = "100*Mohm"\ntau = "10*ms"\n'
    )
    spec = network_from_dict({"dt": "0.1*ms", "duration": "1*ms", "populations": {"p": {"model": "pulse.toml", "size": 2}, "q": {"model": "lif", "size": 2}}}, folder=tmp_path)
    assert per_step_values(spec) == [] and impulse_variables(spec.populations["p"]) == ("I_syn",)
    spec = network_from_dict({"dt": "1*ms", "duration": "2*ms", "populations": {"s": {"model": "stc", "size": 2}, "r": {"model": "relay", "size": 2}, "a": {"model": "adlif", "size": 2}}})
    found = per_step_values(spec)
    assert len(found) == 2
    assert found[0].startswith("population 's' (model stc") and "defined per step" in found[0]
    assert found[1].startswith("population 'r' (model relay") and "fires every step" in found[1]
