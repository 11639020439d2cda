"""Values, weights and delays as expressions, as Brian2 users write initial values."""

from pathlib import Path

import brian2 as b2
import numpy as np
import pytest

from bioadapt import ConfigError, network_from_dict, simulate

MODELS = Path(__file__).resolve().parents[1] / "models"


def _cuba(values, size=7, seed=4, projections=()):
    return network_from_dict({
        "dt": "0.1*ms", "duration": "5*ms", "seed": seed,
        "populations": {"P": {"model": "valid/cuba.toml", "size": size, "values": values}},
        "projections": list(projections),
    }, folder=MODELS)


def _brian2_assigned(size, assignments, given):
    """What Brian2 stores for ``G.var = "expression"`` after ``given`` values are set."""
    target = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    try:
        group = b2.NeuronGroup(size, "\n".join(f"{var} : volt" for var in ("v", "Vr", "Vt", "El")) + "\ntaum : second", namespace={})
        for var, value in given.items():
            setattr(group, var, value)
        for var, expression in assignments.items():
            setattr(group, var, expression)
        return {var: np.asarray(getattr(group, var + "_")[:]) for var in assignments}
    finally:
        b2.prefs.codegen.target = target


def _as_brian2_assigns(expressions: dict) -> dict:
    """The population's values for ``expressions``, asserted equal, bit for bit, to what Brian2 stores."""
    values = _cuba(expressions).populations["P"].values
    brian = _brian2_assigned(7, expressions, {"Vr": values["Vr"] * b2.volt, "Vt": values["Vt"] * b2.volt})
    for var in expressions:
        assert np.array_equal(values[var], brian[var]), var
    return values


def test_expressions_of_the_index_size_and_other_variables_equal_brian2():
    """Bit for bit what Brian2 computes for the same assignments."""
    expressions = {
        "v": "Vr + (Vt - Vr)*i/N",
        "El": "-49*mV - 0.5*mV*(i % 3) + 0.1*mV*(i // 4)",
        "taum": "20*ms*(1 + 0.1*sin(2*pi*i/N)) + sqrt(4)*ms",
    }
    values = _as_brian2_assigns(expressions)
    assert len(set(values["v"])) == 7 and values["v"][0] == values["Vr"][0]


def test_comparisons_and_int_set_parts_of_a_population_as_brian2_does():
    """``int(i < 3)``: a value per part of the group, as Brian2 users write for subgroups; int()
    truncates towards zero; bit for bit what Brian2 stores."""
    expressions = {
        "v": "Vr*int(i < 3) + Vt*int(i >= 3)",
        "El": "-49*mV - 1*mV*int(i/2.0) + 2*mV*int(-i/3.0) + 0.5*mV*int(i == 4) - 0.25*mV*int(Vr != Vt)",
        "taum": "10*ms + 5*ms*int(i <= 1)",
    }
    values = _as_brian2_assigns(expressions)
    assert len(set(values["El"])) == 6
    with pytest.raises(ConfigError, match=r"key 'v': int\(\) of a quantity with units"):
        _cuba({"v": "int(Vr)*mV"})
    with pytest.raises(ConfigError, match=r"key 'v': inconsistent units"):
        _cuba({"v": "Vr*int(Vr < 3)"})


def test_rand_and_randn_are_drawn_from_the_seed():
    spec = _cuba({"v": "Vr + rand()*(Vt - Vr)", "El": "-49*mV + 0.1*mV*randn()"}, size=200)
    again = _cuba({"v": "Vr + rand()*(Vt - Vr)", "El": "-49*mV + 0.1*mV*randn()"}, size=200)
    other = _cuba({"v": "Vr + rand()*(Vt - Vr)", "El": "-49*mV + 0.1*mV*randn()"}, size=200, seed=5)
    v, vr, vt = (spec.populations["P"].values[k] for k in ("v", "Vr", "Vt"))
    assert np.array_equal(v, again.populations["P"].values["v"])
    assert not np.array_equal(v, other.populations["P"].values["v"])
    assert np.all((v >= vr) & (v < vt)) and len(set(v)) == 200
    el = spec.populations["P"].values["El"]
    assert abs(np.mean(el) + 49e-3) < 3e-5 and 0.07e-3 < np.std(el) < 0.13e-3


def test_expression_values_run_alike_in_every_backend():
    spec = _cuba({"v": "Vr + rand()*(Vt - Vr) + 12*mV*(i % 2)"}, size=20)
    numpy_run, twin_run = simulate(spec, backend="numpy"), simulate(spec, backend="torch")
    assert numpy_run.spike_set("P") and numpy_run.spike_set("P") == twin_run.spike_set("P")


def test_weights_and_delays_of_the_synapse_indices_equal_brian2():
    """Expressions evaluated as written; Brian2 computes its loop-invariant parts
    (over synapses) first, which gives the same order for these."""
    projection = {"name": "S", "source": "P", "target": "P", "on_pre": "ge_post += weight", "connect": {"p": 0.5},
                  "weight": "(N_post - N_pre + 1)*0.1*mV*j + 0.01*mV*i", "delay": "0.1*ms*((i + j) % 4)"}
    spec = _cuba({}, size=12, projections=[projection])
    syn = spec.projections[0]
    target = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    try:
        group = b2.NeuronGroup(12, "v : 1", threshold="v > 1")
        synapses = b2.Synapses(group, group, "w : volt", on_pre="v += 0")
        synapses.connect(i=syn.i, j=syn.j)
        synapses.w = "(N_post - N_pre + 1)*0.1*mV*j + 0.01*mV*i"
        synapses.delay = "0.1*ms*((i + j) % 4)"
        assert np.array_equal(np.asarray(synapses.w_[:]), syn.weight)
        assert np.array_equal(np.round(np.asarray(synapses.delay_[:]) / 1e-4).astype(int), syn.delay_steps)  # in steps, as both run them
    finally:
        b2.prefs.codegen.target = target


def test_bad_expressions_give_one_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"\[populations.P\].values: the values of El, v read each other \(El reads v; v reads El\)"):
        _cuba({"v": "El + 1*mV", "El": "v - 1*mV"})
    with pytest.raises(ConfigError, match=r"key 'v': inconsistent units"):
        _cuba({"v": "Vr + i"})
    with pytest.raises(ConfigError, match=r"key 'v': the arguments of uniform\(\) must be single values"):
        _cuba({"v": "uniform(Vr, Vt + 1*mV*i)"})
    spec = _cuba({"v": "uniform(Vr, Vt)"})  # parameters alike for all neurons are single values
    assert np.all((spec.populations["P"].values["v"] >= -0.06) & (spec.populations["P"].values["v"] < -0.05))
    with pytest.raises(ConfigError, match=r"key 'v': unknown unit or name 'k'"):
        _cuba({"v": "Vr + k*mV"})
    with pytest.raises(ConfigError, match=r"key 'v': a list of 2 values for 7 neurons or synapses"):
        _cuba({"v": ["-60*mV", "-55*mV"]})
    with pytest.raises(ConfigError, match=r"key 'v': the values of the list have different units"):
        _cuba({"v": ["-60*mV"] * 6 + [0.5]})


def test_lists_give_one_value_per_neuron():
    values = _cuba({"v": [f"{-60 + k}*mV" for k in range(7)]}).populations["P"].values["v"]
    assert np.array_equal(values, np.array([(-60 + k) * 1e-3 for k in range(7)]))


def test_subexpressions_in_values(tmp_path):
    """``n = "n_inf"`` (Brian2's ``neuron.n = 'n_inf'``): the subexpression of the
    values set before, through other subexpressions; one that reads the variable
    being set is one error."""
    (tmp_path / "m.toml").write_text(
        'equations = """\ndv/dt = (a - v)/tau : 1\ndn/dt = (n_inf - n)/tau : 1\nn_inf = 0.5*(1 + tanh(x/2)) : 1\n'
        'x = v - a : 1\ndw/dt = (w_inf - w)/tau : 1\nw_inf = w + v : 1\na : 1\ntau : second\n"""\n[defaults]\ntau = "10*ms"\na = 0.3\n'
    )
    spec = network_from_dict({"dt": "0.1*ms", "duration": "1*ms", "populations": {"P": {"model": "m.toml", "size": 4, "values": {"v": "i/N", "n": "n_inf"}}}}, folder=tmp_path)
    values = spec.populations["P"].values
    assert np.array_equal(values["n"], 0.5 * (1 + np.tanh((np.arange(4) / 4 - 0.3) / 2)))
    with pytest.raises(ConfigError, match=r"key 'w': 'w_inf' reads 'w' itself through w_inf"):
        network_from_dict({"dt": "0.1*ms", "duration": "1*ms", "populations": {"P": {"model": "m.toml", "size": 4, "values": {"w": "w_inf"}}}}, folder=tmp_path)
