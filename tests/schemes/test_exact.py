"""The exact propagator scheme: against scipy's expm, a fine-grid solution,
Brian2's backends bit for bit, and a clear refusal for non-linear models."""

import numpy as np
import pytest
import scipy.linalg
from scipy.integrate import solve_ivp

from bioadapt import ConfigError, network_from_dict, simulate
from bioadapt.analysis import discrete_map
from bioadapt.schemes.exact import linear_system
from bioadapt import load_model
from helpers import assert_same_spikes, assert_same_traces, model_network

# expm vs expm: the same algorithm on the same matrices, up to the few ulp of
# forming A from the parameters in a different order.
EXPM_RTOL = 1e-12
# solve_ivp with rtol=atol=1e-12 over 200 steps
FINE_ATOL = 1e-9


def _adlif_A(tau_u, tau_w, a):
    return np.array([[-1 / tau_u, -1 / tau_u], [a / tau_w, -1 / tau_w]])


@pytest.mark.parametrize(
    "tau_u, tau_w, a",
    [(25e-3, 60e-3, 120.0), (20e-3, 20e-3, 0.0), (5e-3, 300e-3, 1.0), (25e-3, 60e-3, 5000.0)],
    ids=["resonant", "repeated", "real", "strongly-resonant"],
)
def test_propagator_equals_scipy_expm(tau_u, tau_w, a):
    m = discrete_map("adlif", "exact", {"tau_u": tau_u * np.ones(1), "tau_w": tau_w * np.ones(1), "a": a * np.ones(1), "b": 0})
    np.testing.assert_allclose(m.matrices[0], scipy.linalg.expm(_adlif_A(tau_u, tau_w, a) * 1e-3), rtol=EXPM_RTOL, atol=1e-15)
    assert np.all(np.isfinite(m.matrices))


def test_heterogeneous_propagators_per_neuron():
    tau_u = np.array([5e-3, 12e-3, 25e-3])
    a = np.array([0.0, 50.0, 500.0])
    system = linear_system(load_model("adlif").brian_equations)
    P = system.propagators({"tau_u": tau_u, "tau_w": np.full(3, 60e-3), "a": a, "b": np.zeros(3)}, 3, 1e-3)
    for n in range(3):
        expected = scipy.linalg.expm(_adlif_A(tau_u[n], 60e-3, a[n]) * 1e-3)
        got = np.array([[P["bioadapt_P_u_u"][n], P["bioadapt_P_u_w"][n]], [P["bioadapt_P_w_u"][n], P["bioadapt_P_w_w"][n]]])
        np.testing.assert_allclose(got, expected, rtol=EXPM_RTOL)


def test_equal_neurons_share_one_expm_bitwise():
    """Propagators are computed once per distinct parameter set; every neuron
    gets bit for bit what a population of that neuron alone gets."""
    system = linear_system(load_model("adlif").brian_equations)
    values = {"tau_u": np.array([5e-3, 25e-3, 5e-3, 5e-3, 25e-3]), "tau_w": np.full(5, 60e-3), "a": np.array([0.0, 120.0, 0.0, 3.0, 120.0]), "b": np.zeros(5)}
    together = system.propagators(values, 5, 1e-3)
    for n in range(5):
        alone = system.propagators({k: v[n : n + 1] for k, v in values.items()}, 1, 1e-3)
        assert all(np.array_equal(together[name][n : n + 1], alone[name]) for name in alone)


def test_exact_scheme_follows_the_continuous_solution():
    """With a piecewise-constant input the scheme is exact at every step:
    compare with a tight adaptive solution of the same ODE."""
    steps, dt = 200, 1e-3
    rng = np.random.default_rng(0)
    current = rng.uniform(0, 3, steps)
    tau_u, tau_w, a = 25e-3, 60e-3, 120.0
    spec = network_from_dict({"dt": "1*ms", "duration": f"{steps}*ms", "populations": {"n": {"model": "adlif", "size": 1, "scheme": "exact", "values": {"tau_u": "25*ms", "tau_w": "60*ms", "a": a, "b": 0, "theta": "inf"}}}})
    res = simulate(spec, backend="torch", record={"n": ["u", "w"]}, drive={"n": {"I": current.reshape(-1, 1)}})
    A = _adlif_A(tau_u, tau_w, a)
    x = np.zeros(2)
    reference = []
    for k in range(steps):
        b = np.array([current[k] / tau_u, 0.0])
        sol = solve_ivp(lambda t, y: A @ y + b, (0, dt), x, method="DOP853", rtol=1e-12, atol=1e-14)
        x = sol.y[:, -1]
        reference.append(x)
    reference = np.array(reference)
    np.testing.assert_allclose(res.traces["n"]["u"][:, 0], reference[:, 0], atol=FINE_ATOL, rtol=0)
    np.testing.assert_allclose(res.traces["n"]["w"][:, 0], reference[:, 1], atol=FINE_ATOL, rtol=0)


@pytest.mark.parametrize("model", ["mtc", "tests/models/valid/eif_adaptive.toml"])
def test_nonlinear_models_are_refused(model):
    net = {"dt": "0.1*ms", "duration": "1*ms", "populations": {"p": {"model": model, "size": 2, "scheme": "exact"}}}
    with pytest.raises(ConfigError, match=r"\[populations.p\].*scheme 'exact' needs sub-threshold equations that are linear"):
        simulate(network_from_dict(net), backend="torch")


def _exact_net(model):
    net = model_network(model, steps=3000)
    net["populations"]["hid"]["scheme"] = "exact"
    return network_from_dict(net)


@pytest.mark.parametrize("model", ["adlif", "lif"])
def test_exact_twin_equals_numpy(model):
    var = {"adlif": "u", "lif": "v"}[model]
    res = {b: simulate(_exact_net(model), backend=b, record={"hid": [var]}) for b in ("numpy", "torch")}
    assert res["numpy"].spike_count("hid") > 50
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])


@pytest.mark.brian_standalone
def test_exact_twin_equals_cpp_standalone_with_refractoriness():
    spec = _exact_net("lif")  # v is (unless refractory): held rows use the second propagator
    cpp = simulate(spec, backend="cpp_standalone", record={"hid": ["v", "I"]})
    twin = simulate(spec, backend="torch", record={"hid": ["v", "I"]}, math="libm")
    assert_same_spikes(cpp, twin)
    assert_same_traces(cpp, twin)


@pytest.mark.slow  # the symplectic Euler twin of this test runs by default
@pytest.mark.brian_standalone
def test_standalone_recomputes_propagators_for_new_values(tmp_path):
    import dataclasses

    from bioadapt.backends.brian.standalone import StandaloneNetwork

    spec = _exact_net("adlif")
    net = StandaloneNetwork(spec, record={"hid": ["u"]}, directory=str(tmp_path / "p"))
    tau_u = np.random.default_rng(3).uniform(5e-3, 25e-3, 30)
    new = dataclasses.replace(spec, populations=dict(spec.populations, hid=dataclasses.replace(spec.populations["hid"], values=dict(spec.populations["hid"].values, tau_u=tau_u))))
    got = net.run(values={"hid": {"tau_u": tau_u}})
    want = simulate(new, backend="torch", record={"hid": ["u"]}, math="libm")
    assert_same_spikes(got, want)
    assert_same_traces(got, want)
