"""Heterogeneity tools: distributions, homogeneous networks with the same means, perturbations, robustness."""

import sys
from pathlib import Path

import numpy as np
import pytest

from bioadapt import ConfigError
from bioadapt.analysis import distributions, homogeneous, perturb, plot_distributions, robustness
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
