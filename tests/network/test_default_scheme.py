"""No scheme anywhere: the method Brian2's NeuronGroup would choose, said out loud."""

import logging
from pathlib import Path

import brian2 as b2
import numpy as np
import pytest

from bioadapt import ConfigError, network_from_dict, simulate
from bioadapt.cli import main
from bioadapt.models.load import load_model

MODELS = Path(__file__).parent.parent / "models"

#: models by the kind of equations (Brian2's choice in the comment)
EQUATIONS = {
    "linear": "valid/lif_physical.toml",  # exact
    "non-linear": "valid/izhikevich.toml",  # euler
    "non-linear, refractory": "valid/eif_adaptive.toml",  # euler
    "additive noise": "valid/noisy_lif.toml",  # euler
}


def _extra_models(folder: Path) -> dict:
    """Models Brian2 treats differently from bioadapt's own linearity test."""
    (folder / "multiplicative.toml").write_text('equations = """\ndv/dt = -v/tau + sigma*v*xi/sqrt(tau) : 1\ntau : second\nsigma : 1\n"""\n[defaults]\ntau = "10*ms"\nsigma = 0.1\nv = 1.0\n')
    # linear in v, but the input depends on t: not constant over a step for Brian2's exact
    (folder / "time_dependent.toml").write_text('equations = """\ndv/dt = (-v + sin(2*pi*t/(10*ms)))/tau : 1\ntau : second\n"""\n[defaults]\ntau = "10*ms"\n')
    return {"multiplicative noise": str(folder / "multiplicative.toml"), "linear, time-dependent input": str(folder / "time_dependent.toml")}


def _brian2_state_update(model, method=None) -> str:
    """The state updater's abstract code of a NeuronGroup of ``model`` (Brian2's default method list if None)."""
    group = b2.NeuronGroup(
        2, model.brian_equations, threshold=model.threshold, reset=model.reset, refractory=model.refractory or False, namespace={}, **({} if method is None else {"method": method})
    )
    group.state_updater.update_abstract_code(run_namespace={})
    return group.state_updater.abstract_code


def test_default_scheme_is_brian2s_choice(tmp_path, caplog):
    """For every kind of equations the scheme chosen without a scheme is the
    method Brian2's NeuronGroup picks from its default list: the group built
    with that method generates the same code as the group built without one."""
    models = {**{k: str(MODELS / v) for k, v in EQUATIONS.items()}, **_extra_models(tmp_path)}
    chosen = {}
    for kind, path in models.items():
        with caplog.at_level(logging.INFO, logger="bioadapt"):
            spec = network_from_dict({"dt": "0.1*ms", "duration": "1*ms", "populations": {"p": {"model": path, "size": 2}}})
        pop = spec.populations["p"]
        assert pop.scheme_origin == "default"
        chosen[kind] = pop.scheme
        model = load_model(path)
        assert _brian2_state_update(model, pop.scheme) == _brian2_state_update(model), kind
        assert f"no scheme given; using '{pop.scheme}', the first of Brian2's default methods (exact, euler, heun)" in caplog.text
    assert chosen == {
        "linear": "exact",
        "non-linear": "euler",
        "non-linear, refractory": "euler",
        "additive noise": "euler",
        "multiplicative noise": "heun",
        "linear, time-dependent input": "euler",
    }


def test_given_scheme_wins_and_says_where_from():
    net = {
        "dt": "0.1*ms",
        "duration": "1*ms",
        "scheme": "rk4",
        "populations": {"a": {"model": "lif", "size": 2}, "b": {"model": "lif", "size": 2, "scheme": "euler"}, "c": {"model": "adlif", "size": 2}},
    }
    spec = network_from_dict(net)
    # population > network > model's default_scheme
    assert [(p.scheme, p.scheme_origin) for p in spec.populations.values()] == [("rk4", "network"), ("euler", "population"), ("rk4", "network")]
    del net["scheme"]
    spec = network_from_dict(net)
    assert (spec.populations["a"].scheme, spec.populations["a"].scheme_origin) == ("exact", "default")
    assert spec.schemes_text().splitlines() == [
        "a: scheme exact (chosen by default as Brian2 chooses: the first of exact, euler, heun that applies)",
        "b: scheme euler (set for the population)",
        "c: scheme symplectic_euler (the model's default_scheme)",
    ]


def test_simulate_prints_the_scheme(tmp_path, capsys):
    path = tmp_path / "net.toml"
    path.write_text(f'dt = "0.1*ms"\nduration = "2*ms"\n[populations.hid]\nmodel = "{MODELS / "valid" / "izhikevich.toml"}"\nsize = 2\n')
    assert main(["simulate", str(path)]) == 0
    assert "hid: scheme euler (chosen by default as Brian2 chooses: the first of exact, euler, heun that applies)" in capsys.readouterr().out.splitlines()


def _cuba(steps, scheme=None):
    """Brian2's CUBA example scaled down to 400 neurons (320 excitatory) with
    the same number of inputs per neuron (p = 0.2 instead of 0.02)."""
    net = {
        "dt": "0.1*ms",
        "duration": f"{steps}*0.1*ms",
        "seed": 1,
        "populations": {"P": {"model": "valid/cuba.toml", "size": 400, "values": {"v": "uniform(-60*mV, -50*mV)"}}},
        "projections": [
            {"name": "Ce", "source": "P", "target": "P", "on_pre": "ge_post += weight", "connect": {"condition": "i < 320", "p": 0.2}, "weight": "1.62*mV"},
            {"name": "Ci", "source": "P", "target": "P", "on_pre": "gi_post += weight", "connect": {"condition": "i >= 320", "p": 0.2}, "weight": "-9*mV"},
        ],
    }
    return network_from_dict(dict(net, scheme=scheme) if scheme else net, folder=MODELS)


def _cuba_brian2_script(spec):
    """The CUBA example as a Brian2 user writes it (no method: Brian2's default),
    with the network's connections and initial values."""
    target = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    try:
        taum, taue, taui = 20 * b2.ms, 5 * b2.ms, 10 * b2.ms
        Vt, Vr, El = -50 * b2.mV, -60 * b2.mV, -49 * b2.mV
        eqs = """
        dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
        dge/dt = -ge/taue : volt
        dgi/dt = -gi/taui : volt
        """
        P = b2.NeuronGroup(400, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * b2.ms, namespace=locals(), dt=spec.dt * b2.second)
        P.v = spec.populations["P"].values["v"] * b2.volt
        we, wi = (60 * 0.27 / 10) * b2.mV, (-20 * 4.5 / 10) * b2.mV
        Ce = b2.Synapses(P, P, on_pre="ge += we", namespace={"we": we}, dt=spec.dt * b2.second)
        Ci = b2.Synapses(P, P, on_pre="gi += wi", namespace={"wi": wi}, dt=spec.dt * b2.second)
        Ce.connect(i=spec.projections[0].i, j=spec.projections[0].j)
        Ci.connect(i=spec.projections[1].i, j=spec.projections[1].j)
        monitor = b2.SpikeMonitor(P)
        b2.Network(P, Ce, Ci, monitor).run(spec.n_steps * spec.dt * b2.second)
        return set(zip(np.round(np.asarray(monitor.t_) / spec.dt).astype(int).tolist(), np.asarray(monitor.i[:]).tolist()))  # (step, neuron)
    finally:
        b2.prefs.codegen.target = target


def test_default_scheme_cuba_matches_brian2_script():
    """A CUBA network without a scheme gives the spike trains of the plain
    Brian2 script with its default method (exact for these linear equations;
    Euler, the old default, does not). bioadapt's exact computes the same
    solution with per-neuron propagators, Brian2's symbolic formula evaluates
    exp() per step: the membrane potentials differ in the last bits (about
    1e-15 V), the spikes do not."""
    spec = _cuba(1000)
    assert spec.populations["P"].scheme == "exact"
    script = _cuba_brian2_script(spec)
    assert len(script) > 100
    assert simulate(spec).spike_set("P") == script
    assert simulate(_cuba(1000, "euler")).spike_set("P") != script


def test_exact_refuses_parameters_written_during_the_run(tmp_path):
    """Propagators are computed once per network: a coefficient that a
    projection changes cannot be one of their parameters."""
    model = tmp_path / "conductance.toml"
    model.write_text('equations = """\ndv/dt = -g*v/tau : 1\ng : 1\ntau : second\n"""\nthreshold = "v > 1"\nreset = "v = 0"\n[defaults]\ntau = "10*ms"\nv = 0.5\n')
    net = {
        "dt": "0.1*ms",
        "duration": "1*ms",
        "populations": {"inp": {"kind": "poisson", "size": 2, "rate": "100*Hz"}, "p": {"model": "conductance.toml", "size": 2}},
        "projections": [{"source": "inp", "target": "p", "on_pre": "g_post += weight"}],
    }
    spec = network_from_dict(net, folder=tmp_path)
    assert spec.populations["p"].scheme == "exact"  # Brian2's choice: linear in v
    with pytest.raises(ConfigError, match=r"\[populations.p\].*scheme 'exact' \(chosen by default for linear equations\) computes its propagators once per network from g, tau, but \['g'\] change during the run.*scheme = \"exponential_euler\""):
        simulate(spec)
    net["populations"]["p"]["scheme"] = "exponential_euler"
    assert simulate(network_from_dict(net, folder=tmp_path)).n_steps == 10


def test_brian2s_choice_is_asked_once_per_equations(monkeypatch, caplog):
    """Brian2 checks ``exact`` by solving the system symbolically (about a
    second): a network built again from the same model does not ask again, and
    says the same; another time step or refractoriness asks again."""
    from bioadapt.schemes import default

    asked = []
    apply = default.StateUpdateMethod.apply_stateupdater

    def counting(equations, variables, method, **kwargs):
        asked.append(method)
        return apply(equations, variables, method, **kwargs)

    monkeypatch.setattr(default, "_CHOSEN", {})
    monkeypatch.setattr(default.StateUpdateMethod, "apply_stateupdater", staticmethod(counting))
    path = str(MODELS / EQUATIONS["non-linear"])
    for dt in ("0.1*ms", "0.1*ms", "0.05*ms"):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="bioadapt"):
            spec = network_from_dict({"dt": dt, "duration": "1*ms", "populations": {"p": {"model": path, "size": 2}}})
        assert spec.populations["p"].scheme == "euler"
        assert "using 'euler'" in caplog.text and "exact refused: " in caplog.text
    assert asked == ["exact", "euler", "exact", "euler"]  # the second network asked nothing
    model = load_model(path)
    assert default.default_scheme(model.brian_equations, True, None, 1e-4)[0] == "euler"
    assert asked[4:] == ["exact", "euler"]
