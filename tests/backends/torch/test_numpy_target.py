"""The numpy target of the translator (the twin's evaluation without gradients
on the CPU) computes what the torch target computes, bit for bit, dtype for
dtype; what it does not translate is refused, and its blocks run in torch."""

import numpy as np
import pytest
import torch

from bioadapt import network_from_dict
from bioadapt.backends.torch import Twin
from bioadapt.backends.torch import execute
from bioadapt.backends.torch.numpy_target import NotNumpy, compile_numpy
from bioadapt.backends.torch.translate import compile_expression

RNG = np.random.default_rng(3)
N = 4000
# special values in every array: signed zeros, infinities, NaN, large and tiny numbers
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e300, -1e-300, 2.5, -2.5, 1.0])
ENV = {
    "x": np.concatenate([RNG.uniform(0.1, 5.0, N - len(SPECIAL)), SPECIAL]).reshape(1, N),
    "y": np.concatenate([RNG.normal(size=N - len(SPECIAL)), SPECIAL[::-1]]),
    "k": RNG.integers(-5, 6, N).astype(np.int32),
    "m": RNG.integers(-10**6, 10**6, N).astype(np.int64),
    "b": RNG.random(N) < 0.5,
    "t": np.array(0.0123),  # the clock's time, 0-d
    "dt": 1e-4,
    "c": 3,
}

EXPRESSIONS = [
    "x*y + y*x - x/y",
    "((x*y) + (x*2.5)) + (0*y)",
    "int(b) * x + (1 - int(b)) * y",
    "1.5/x + 2/y + x/0.0",
    "k/2 + k*2.5 + k/k + c/k",
    "k*3 + k - 1 + k*c",
    "m*1.5 - m/7",
    "b*2.5 + b*1",
    "-x + -k",
    "x**2 + x**0.5 + x**-1 + x**1 + x**0",
    "x**3 + y**1.5 + x**y + k**2 + k**0.5 + t**2",
    "exp(-y) + expm1(y) + log(x) + log10(x) + sqrt(x)",
    "sin(y) + cos(y) + tan(y) + sinh(y) + cosh(y) + tanh(y)",
    "arcsin(y) + arccos(y) + arctan(y)",
    "exp(k) + log(b) + sqrt(t)",
    "abs(y) + abs(k)",
    "int(3.7*y) + floor(y) + ceil(x) + int(t*1000)",
    "timestep(t - y, dt) >= timestep(5e-3, dt)",
    "(y > 0) and (x < 2)",
    "not (y > 0) or x > 4",
    "(k >= 2) and b",
    "(y == x) or (y != 0.5) and not b",
    "x > 2.5",
    "k < 2.5",
    "m > 1e5",
    "exp(t*2)",
    "exprel(y) + exprel(x*300) + exprel(-y*1e-17) + exprel(k) + exprel(t) + exprel(b)",
    "exprel(c) + exprel(dt) + exprel(-dt*1e-13) + exprel(800.0)",
    "clip(y, -1.0, 2.5) + clip(x, 0, 1) + clip(y, -x, x) + clip(x, y, 2)",
    "clip(k, 0, 3) + clip(k, -0.5, 2.5) + clip(t, 0.0, 0.01)",
    "sign(y) + sign(x - 2.5) + sign(t) + sign(c) + sign(-dt)",
    "sign(k) + sign(m)",
    "t*dt + t/dt",
]


def _value(fn, env):
    value = fn(env)
    return value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_numpy_target_equals_torch_target(expr):
    names = set(ENV) | {"int", "floor", "ceil", "abs", "timestep", "exprel", "clip", "exp", "expm1", "log", "log10", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan"}
    by_torch = compile_expression(expr, names, "test", "numpy")
    by_numpy = compile_numpy(expr, names, "test", "numpy")
    tensors = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in ENV.items()}
    with np.errstate(all="ignore"):
        expected, got = _value(by_torch, tensors), _value(by_numpy, dict(ENV))
    _assert_bits(got, expected, expr)


def _assert_bits(got: np.ndarray, expected: np.ndarray, what):
    """The same dtype, shape and values bit for bit, signed zeros included; NaN
    is NaN (its sign and payload are whichever operand's the vector
    instruction passes on, in numpy and torch alike)."""
    assert got.dtype == expected.dtype, what
    assert got.shape == expected.shape, what
    if got.dtype.kind == "f":
        nan = np.isnan(expected)
        assert np.array_equal(nan, np.isnan(got)), what
        assert np.array_equal(got[~nan].view(np.int64), expected[~nan].view(np.int64)), what
    else:
        assert np.array_equal(got, expected), what


def test_hoisted_names_are_the_torch_targets():
    """A body statement reads its fixed sub-expressions from the prelude by the names the torch target gave them."""
    names = {"x", "tau", "dt", "exp"}
    hoisted_torch, hoisted_numpy = [], []
    by_torch = compile_expression("x*exp(-dt/tau) + 2*tau", names, "test", "numpy", fixed={"tau", "dt"}, hoisted=hoisted_torch, prefix="_h_")
    by_numpy = compile_numpy("x*exp(-dt/tau) + 2*tau", names, "test", "numpy", fixed={"tau", "dt"}, hoisted=hoisted_numpy, prefix="_h_")
    assert [name for name, _ in hoisted_numpy] == [name for name, _ in hoisted_torch] == ["_h_0", "_h_1"]
    tau = torch.tensor([0.01, 0.02], dtype=torch.float64)
    env = {"x": torch.tensor([[1.0, -2.0]], dtype=torch.float64), "tau": tau, "dt": 1e-4}
    env.update({name: fn(env) for name, fn in hoisted_torch})
    expected = by_torch(env)
    got = by_numpy({k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in env.items()})
    assert np.array_equal(got, expected.numpy())


@pytest.mark.parametrize("expr", ["x % 2", "x // 2", "0 < x < 2", "k + 3000000000"])
def test_what_the_numpy_target_does_not_translate(expr):
    names = {"x", "k", "noise", "sign"}
    compile_expression(expr, names, "test", "numpy")  # the torch target translates it
    with pytest.raises(NotNumpy):
        compile_numpy(expr, names, "test", "numpy")
    with pytest.raises(NotNumpy):
        compile_numpy("x + 1", names, "test", "libm")


CUBA = """
dv/dt = (ge + gi - (v - El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
taum : second
taue : second
taui : second
El : volt
"""


def _cuba(tmp_path, size=200):
    _cuba_model(tmp_path)
    return network_from_dict({
        "dt": "0.1*ms", "duration": "30*ms", "seed": 4,
        "populations": {"P": {"model": "cuba.toml", "size": size, "values": {"v": "uniform(-60*mV, -50*mV)"}}},
        "projections": [
            {"name": "Ce", "source": "P", "target": "P", "on_pre": "ge_post += weight", "connect": {"condition": "i < 160", "p": 0.3}, "weight": "1.62*mV", "delay": "uniform(0*ms, 1*ms)"},
            {"name": "Ci", "source": "P", "target": "P", "on_pre": "gi_post += weight", "connect": {"condition": "i >= 160", "p": 0.3}, "weight": "-9*mV"},
        ],
    }, folder=tmp_path)


def _cuba_model(tmp_path):
    """The model file ``cuba.toml`` (`CUBA`) in ``tmp_path``."""
    (tmp_path / "cuba.toml").write_text(
        f'equations = """{CUBA}"""\nthreshold = "v > -50*mV"\nreset = "v = -60*mV"\nrefractory = "5*ms"\n'
        '[defaults]\ntaum = "20*ms"\ntaue = "5*ms"\ntaui = "10*ms"\nEl = "-49*mV"\nv = "-60*mV"\n'
    )


def _second_sample_elsewhere(state: dict, key=("P", "v"), scale: float = 1.0) -> dict:
    """``state`` of two samples with the second one's ``key`` reversed (and scaled): samples that differ."""
    state[key] = state[key].clone()
    state[key][1] = state[key][1].flip(0) * scale
    return state


def _assert_same_runs(fast, slow, record: dict, batch: int, min_spikes: int):
    """The run without gradients (``fast``) equals the run with them (``slow``):
    spikes, the traces of ``record`` and the whole final state bit for bit; more
    than ``min_spikes`` spikes per sample, and two samples that spike apart."""
    assert fast.spikes["P"].sum() > min_spikes * batch
    assert torch.equal(fast.spikes["P"], slow.spikes["P"].detach())
    if batch == 2:
        assert not torch.equal(fast.spikes["P"][:, 0], fast.spikes["P"][:, 1])
    for owner, names in record.items():
        for var in names:
            _assert_bits(fast.traces[owner][var].numpy(), slow.traces[owner][var].detach().numpy(), (owner, var))
    for key, value in fast.state.items():
        _assert_bits(value.numpy(), slow.state[key].detach().numpy(), key)


@pytest.mark.parametrize("batch", [1, 2])
def test_a_network_runs_with_numpy_without_gradients_and_equals_torch(tmp_path, monkeypatch, batch):
    """CUBA (exact state update, refractoriness, heterogeneous delays): its
    blocks run by numpy without gradients (the threshold's refractory
    variables and the reset written at the spikes' positions only), by torch
    with them; spikes, traces and state bitwise equal, for one sample and for
    two that differ."""
    twin = Twin(_cuba(tmp_path))
    assert all(plan.numpy for plan in twin.layout.plans.values() if plan.block.kind in ("code", "threshold", "reset"))
    ran = []
    numpy_runner = execute.run_neurons_numpy
    monkeypatch.setattr(execute, "run_neurons_numpy", lambda net, plan, *args: ran.append(plan.block.kind) or numpy_runner(net, plan, *args))
    state = twin.initial_state(batch)
    if batch == 2:  # the second sample starts elsewhere
        _second_sample_elsewhere(state)
    record = {"P": ["v", "ge", "lastspike"]}
    with torch.no_grad():
        fast = twin(state=state, record=record)
        events = twin(state=state, spike_events=True).spikes["P"]
    assert set(ran) == {"code", "threshold", "reset"}
    with torch.enable_grad():
        slow = twin(state=state, record=record)
    _assert_same_runs(fast, slow, record, batch, min_spikes=20)
    assert torch.equal(events, torch.nonzero(fast.spikes["P"] > 0))


PLASTIC = """
w : 1
dApre/dt = -Apre / taupre : 1 (event-driven)
dApost/dt = -Apost / taupost : 1 (event-driven)
taupre : second (constant, shared)
taupost : second (constant, shared)
wmax : 1 (constant, shared)
dApre : 1 (constant, shared)
dApost : 1 (constant, shared)
"""


@pytest.mark.parametrize("batch", [1, 2])
def test_plastic_synapses_run_with_numpy_without_gradients_and_equals_torch(tmp_path, monkeypatch, batch):
    """STDP synapses (event-driven traces, ``clip`` of the weights in on_pre
    and on_post, an evaluated contribution to the target, one written
    ``unless refractory``, heterogeneous delays) onto CUBA neurons: without
    gradients the synapses a spike reaches run by numpy; spikes, the synaptic
    variables' traces and the whole state bitwise equal to the run with
    gradients (torch, every synapse every step), for one sample and for two
    that differ."""
    _cuba_model(tmp_path)
    spec = network_from_dict({
        "dt": "0.1*ms", "duration": "30*ms", "seed": 6,
        "populations": {"P": {"model": "cuba.toml", "size": 60, "values": {"v": "uniform(-60*mV, -50*mV)"}}},
        "projections": [{"name": "S", "source": "P", "target": "P", "model": PLASTIC, "connect": {"p": 0.3}, "delay": "uniform(0*ms, 1*ms)",
                         "on_pre": "ge_post += w*mV\nv_post += 0.1*w*mV\nApre += dApre\nw = clip(w + Apost, 0, wmax)",
                         "on_post": "Apost += dApost\nw = clip(w + Apre, 0, wmax)",
                         "values": {"w": "rand()", "taupre": "20*ms", "taupost": "20*ms", "wmax": 1.0, "dApre": 0.05, "dApost": -0.0525}}],
    }, folder=tmp_path)
    twin = Twin(spec)
    assert all(plan.numpy for plan in twin.layout.plans.values() if plan.block.kind == "pathway")
    ran = []
    arriving = execute.run_arriving
    monkeypatch.setattr(execute, "run_arriving", lambda net, plan, *args, **kwargs: ran.append((plan.block.name, kwargs.get("numpy"))) or arriving(net, plan, *args, **kwargs))
    state = twin.initial_state(batch)
    if batch == 2:  # the second sample starts elsewhere
        _second_sample_elsewhere(state)
    record = {"P": ["v", "ge"], "S": ["w", "Apre", "Apost", "lastupdate"]}
    with torch.no_grad():
        fast = twin(state=state, record=record)
    assert set(ran) == {("S_pre", True), ("S_post", True)}
    with torch.enable_grad():
        slow = twin(state=state, record=record)
    _assert_same_runs(fast, slow, record, batch, min_spikes=20)
    w = fast.traces["S"]["w"]
    assert not torch.equal(w[0], w[-1]) and w.min() >= 0 and w.max() <= 1  # the weights moved, clipped


@pytest.mark.parametrize("batch", [1, 2])
def test_summed_variables_run_with_numpy_without_gradients_and_equals_torch(tmp_path, monkeypatch, batch):
    """Gap junctions (Brian2's example: ``Igap_post = weight*(v_pre - v_post)
    (summed)``, every pair coupled, weights per synapse): without gradients
    the summed variable is evaluated and summed by numpy; spikes, traces and
    the whole state bitwise equal to the run with gradients (torch), for one
    sample and for two that differ."""
    (tmp_path / "gap.toml").write_text(
        'equations = """\ndv/dt = (v0 - v + Igap) / tau : 1\nIgap : 1\nv0 : 1\ntau : second\n"""\n'
        'threshold = "v > 1"\nreset = "v = 0"\n[defaults]\nv0 = 1.05\ntau = "10*ms"\n')
    spec = network_from_dict({
        "dt": "0.1*ms", "duration": "100*ms", "seed": 7,
        "populations": {"P": {"model": "gap.toml", "size": 30, "scheme": "exact", "values": {"v": "i * 1.0 / (N-1)"}}},
        "projections": [{"name": "S", "source": "P", "target": "P", "summed": "Igap_post = weight * (v_pre - v_post)", "connect": "all_to_all", "weight": "rand() * 0.04"}],
    }, folder=tmp_path)
    twin = Twin(spec)
    assert all(plan.numpy for plan in twin.layout.plans.values() if plan.block.kind == "summed")
    ran = []
    summed = execute.run_summed_numpy
    monkeypatch.setattr(execute, "run_summed_numpy", lambda net, plan, *args: ran.append(plan.block.kind) or summed(net, plan, *args))
    state = twin.initial_state(batch)
    if batch == 2:  # the second sample starts elsewhere
        _second_sample_elsewhere(state, scale=0.9)
    record = {"P": ["v", "Igap"]}
    with torch.no_grad():
        fast = twin(state=state, record=record)
    assert ran and set(ran) == {"summed"}
    with torch.enable_grad():
        slow = twin(state=state, record=record)
    _assert_same_runs(fast, slow, record, batch, min_spikes=30)
    assert fast.traces["P"]["Igap"].abs().max() > 0


NOISY = """
equations = \"\"\"
dv/dt = (stim(t - i*0.3*ms) - v)/tau + sigma*xi*tau**-0.5 : 1
dw/dt = (grid(t, i) - w)/tau + randn()*mV/tau : volt
tau : second
sigma : 1
\"\"\"
threshold = "v > 1.5"
reset = "v = 0.2*rand()"

[defaults]
tau = "2*ms"
sigma = 0.3
"""


@pytest.mark.parametrize("batch", [1, 2])
def test_noise_and_timed_arrays_run_with_numpy_without_gradients_and_equals_torch(tmp_path, batch):
    """Noise (``xi``, ``randn()`` in the equations, ``rand()`` in the reset:
    bioadapt's counter-based sources) and timed arrays (1-d at a time per
    neuron, 2-d per neuron) in neuron code: without gradients the numpy
    target evaluates the blocks, calling the sources' and arrays' numpy
    forms; spikes, traces and state bitwise equal to the run with gradients
    (torch), for one sample and for two (the second draws stream 1)."""
    (tmp_path / "noisy.toml").write_text(NOISY)
    spec = network_from_dict({
        "dt": "0.1*ms", "duration": "20*ms", "seed": 8,
        "timed_arrays": {"stim": {"values": [0.0, 1.0, 3.0, 2.0, -1.0, 2.5], "dt": "0.3*ms"}, "grid": {"values": [[1, 2, 3, 4], [4, 5, 6, 7], [-2, 0, 2, 1]], "unit": "mV", "dt": "2*ms"}},
        "populations": {"P": {"model": "noisy.toml", "size": 4, "scheme": "euler"}},
    }, folder=tmp_path)
    twin = Twin(spec)
    assert all(plan.numpy for plan in twin.layout.plans.values() if plan.block.kind in ("code", "threshold", "reset"))
    record = {"P": ["v", "w"]}
    with torch.no_grad():
        fast = twin(state=twin.initial_state(batch), record=record)
    with torch.enable_grad():
        slow = twin(state=twin.initial_state(batch), record=record)
    _assert_same_runs(fast, slow, record, batch, min_spikes=5)  # (the second sample draws another stream)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_spike_events_are_the_dense_spikes_nonzero_in_every_mode(tmp_path, dtype):
    """``spike_events=True`` gives ``torch.nonzero`` of the dense spikes: with
    gradients (the steps' spike tensors), without them in float64 (the
    numpy thresholds' positions) and in float32 (numpy's pathways, torch's
    neuron code: a state of arrays and tensors); the runs with and without
    gradients spike alike."""
    twin = Twin(_cuba(tmp_path), dtype=dtype)
    runs = {}
    for grad in (True, False):
        with torch.set_grad_enabled(grad):
            dense = twin().spikes["P"].detach()
            events = twin(spike_events=True).spikes["P"]
        assert events.dtype == torch.int64 and not events.requires_grad
        assert torch.equal(events, torch.nonzero(dense > 0))
        runs[grad] = events
    assert len(runs[False]) > 20
    assert torch.equal(runs[True], runs[False])


@pytest.mark.parametrize("true, false", [("2 + y", "y"), ("1", "0"), ("k", "0"), ("k", "k*2"), ("0.5", "x")])
def test_boolean_simplified_statements(true, false):
    """numpy's boolean-simplified form ``where(b, expr_true, expr_false)``: numpy's evaluation against `env.evaluate`."""
    from bioadapt.backends.torch.env import evaluate
    from bioadapt.backends.torch.plan import compile_statement
    from bioadapt.backends.torch.numpy_target import numpy_where
    from bioadapt.program import Statement

    stmt = compile_statement(Statement("z", ":=", f"b*({true}) + (1 - b)*({false})", where_bool="b", expr_true=true, expr_false=false, names=frozenset(ENV)), "test", "numpy")
    fn, fn_true, fn_false = stmt.numpy
    expected = evaluate(stmt, {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in ENV.items()}).numpy()
    got = numpy_where(ENV["b"], fn_true(ENV), fn_false(ENV))
    _assert_bits(got, expected, (true, false))
