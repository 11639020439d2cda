"""exp() of per-neuron constants in program code (the `li` readout's
exp(-dt/tau)) is computed once per network and handed to Brian2 as a derived
constant; the twin reads the same numbers and still equals Brian2 bit for bit."""

from pathlib import Path

import numpy as np
import pytest

from bioadapt import ConfigError, network_from_dict, simulate
from bioadapt.schemes.hoisting import ProgramExponentials
from helpers import assert_same_spikes, assert_same_traces, model_network


def test_exponents_of_constants_only():
    blocks = {
        "groups": "\n".join(
            [
                "y = exp(-dt/tau)*y + (1 - exp(-dt/tau))*I",  # twice the same exponent: one constant
                "u = exp(-dt/tau_u + 0.5)*u",  # numbers and + - * /
                "v = exp(-dt/(10*ms))*v",  # ms is a unit, not a parameter of the model: stays
                "w = exp(u)*w + exp(-dt/tau_w*sin(a))",  # a state variable, a function: stay
                "q = exp(-dt/g)",  # g is not in the constant set (written, shared)
                "I = 0",
            ]
        )
    }
    system = ProgramExponentials(blocks, {"tau", "tau_u", "tau_w", "a"})
    assert system.exponents == {"bioadapt_exp_0": "-dt / tau", "bioadapt_exp_1": "-dt / tau_u + 0.5"}
    assert system.parameters == ["tau", "tau_u"]
    lines = system.blocks["groups"].splitlines()
    assert lines[0] == "y = bioadapt_exp_0 * y + (1 - bioadapt_exp_0) * I"
    assert lines[1] == "u = bioadapt_exp_1 * u"
    assert lines[2:] == blocks["groups"].splitlines()[2:]  # untouched as written
    tau, tau_u = np.array([5e-3, 20e-3]), np.array([1e-3, 2e-3])
    values = system.propagators({"tau": tau, "tau_u": tau_u}, 2, 1e-3)
    assert np.array_equal(values["bioadapt_exp_0"], np.exp(-1e-3 / tau))
    assert np.array_equal(values["bioadapt_exp_1"], np.exp(-1e-3 / tau_u + 0.5))


@pytest.mark.parametrize("model", ["li", "cadlif"])
def test_program_exponentials_are_constants_brian2_receives(model):
    from bioadapt.backends.brian.build import build_network
    from bioadapt.backends.brian.device import brian_device
    from bioadapt.backends.brian.extract import extract_program

    spec = network_from_dict(model_network(model, steps=50))
    pop = spec.populations["hid"]
    taus = {"li": ["tau"], "cadlif": ["tau_w", "tau_u"]}[model]
    with brian_device("numpy"):
        group = build_network(spec).network["hid"]
        for k, tau in enumerate(taus):
            expected = np.exp(-spec.dt / np.broadcast_to(pop.values[tau], (pop.size,)))
            assert np.array_equal(group.variables[f"bioadapt_exp_{k}"].get_value(), expected)
    blocks = [b for b in extract_program(spec).blocks if b.group == "hid" and b.kind == "code"]
    code = " ".join(repr(s) for b in blocks for s in b.scalar + b.vector)
    assert "exp(" not in code and all(f"bioadapt_exp_{k}" in code for k in range(len(taus)))


def _li_model(tmp_path, extra: str) -> str:
    model = (Path(__file__).parents[2] / "equations" / "li.toml").read_text()
    model = model.replace("y = exp(-dt/tau)*y", f"{extra}\ny = exp(-dt/tau)*y")
    (tmp_path / "li_written.toml").write_text(model)
    return str(tmp_path / "li_written.toml")


def test_a_time_constant_the_program_writes_keeps_its_exp(tmp_path):
    """tau grows every step: exp(-dt/tau) stays in the per-step code, and the
    twin still equals Brian2 bit for bit."""
    from bioadapt.backends.brian.scheme import program_exponentials
    from bioadapt.backends.torch import Twin

    net = model_network("li", steps=300)
    net["populations"]["hid"]["model"] = _li_model(tmp_path, "tau = tau*1.001")
    spec = network_from_dict(net)
    assert program_exponentials(spec, spec.populations["hid"]) is None
    assert "hid" not in Twin(spec).layout.systems
    assert program_exponentials(spec, spec.populations["hid"], driven=["y"]) is None
    res = {b: simulate(spec, backend=b, record={"hid": ["y"]}) for b in ("numpy", "torch")}
    assert_same_traces(res["numpy"], res["torch"])


@pytest.mark.brian_standalone
def test_hoisted_li_matches_brian2_and_reruns_with_new_time_constants(tmp_path):
    """numpy runtime == twin; cpp_standalone == twin (libm); a rerun of the
    compiled binary with other time constants recomputes the constants."""
    import dataclasses

    from bioadapt.backends.brian.standalone import StandaloneNetwork

    spec = network_from_dict(model_network("li", steps=400))
    record = {"hid": ["y"], "spk": ["v"]}
    numpy_run, twin_run = (simulate(spec, backend=b, record=record) for b in ("numpy", "torch"))
    assert_same_spikes(numpy_run, twin_run)
    assert_same_traces(numpy_run, twin_run)
    net = StandaloneNetwork(spec, record=record, directory=str(tmp_path / "project"))
    hid = spec.populations["hid"]
    tau = np.random.default_rng(3).uniform(5e-3, 40e-3, hid.size)
    rerun = net.run(values={"hid": {"tau": tau}})
    changed = dataclasses.replace(spec, populations=dict(spec.populations, hid=dataclasses.replace(hid, values=dict(hid.values, tau=tau))))
    twin = simulate(changed, backend="torch", record=record, math="libm")
    assert_same_traces(rerun, twin)
    assert not np.array_equal(rerun.traces["hid"]["y"], numpy_run.traces["hid"]["y"])


def test_a_non_finite_constant_is_one_error():
    net = model_network("li", steps=20)
    net["populations"]["hid"]["values"] = {"tau": "-1e-5*ms"}  # exp(-dt/tau) overflows
    with pytest.raises(ConfigError, match=r"\[populations.hid\].*exp\(-dt / tau\) is not finite"):
        simulate(network_from_dict(net), backend="numpy")
