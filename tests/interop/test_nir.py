"""NIR export and import, checked against snnTorch and Norse and by round trips.

Other frameworks run in float64 here: snnTorch's modules are converted with
``.double()`` and their spike function replaced by a Heaviside step that keeps
the input's dtype (snnTorch's surrogates return float32 spikes in the forward
pass, which a float64 Linear refuses); Norse's Heaviside keeps the dtype.
Weights are multiples of 2**-10 (2**-8 for Norse), so that sums of weights
are exact in any order: snnTorch and Norse add a step's inputs in a matrix
product (BLAS order), Brian2 synapse by synapse.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from bioadapt import ConfigError, load_network, network_from_dict, simulate
from bioadapt.train.params import apply_params, load_params

nir = pytest.importorskip("nir", reason="NIR support needs the nir extra: pip install 'bioadapt[nir]'")
from bioadapt.interop.nir import from_nir, population_report, read_nir, to_nir, write_network, write_nir  # noqa: E402

from helpers import model_network  # noqa: E402

DATA = Path(__file__).parent / "data"
SNNTORCH = "snnTorch is not installed (pip install 'bioadapt[test]')"
#: snnTorch's export and import print and warn (nirtorch's deprecated tracer); not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning:snntorch.*", "ignore::UserWarning:nirtorch.*")


def dyadic(rng, shape, mean, std, bits=10):
    return np.round(rng.normal(mean, std, shape) * 2**bits) / 2**bits


def same_spec(a, b):
    """Two NetworkSpecs describe the same network, value for value (inputs compared by size)."""
    assert (a.dt, a.n_steps) == (b.dt, b.n_steps)
    assert list(a.populations) == list(b.populations)
    for name, p in a.populations.items():
        q = b.populations[name]
        assert (p.size, p.is_input) == (q.size, q.is_input), name
        if p.is_input:
            continue
        for key in ("equations", "threshold", "reset", "refractory", "programs", "every_step", "defaults"):
            assert getattr(p.model, key) == getattr(q.model, key), (name, key)
        assert p.scheme == q.scheme and set(p.values) == set(q.values), name
        for var in p.values:
            assert np.array_equal(p.values[var], q.values[var]), (name, var)
    assert [p.name for p in a.projections] == [p.name for p in b.projections]
    for p, q in zip(a.projections, b.projections):
        assert (p.source, p.target, p.on_pre, p.summed, p.weight_unit) == (q.source, q.target, q.on_pre, q.summed, q.weight_unit)
        for key in ("i", "j", "weight", "delay_steps"):
            assert np.array_equal(getattr(p, key), getattr(q, key)), (p.name, key)


def with_input_spikes(spec, name, steps, indices):
    pop = dataclasses.replace(spec.populations[name], kind="spikes", rate_hz=0.0, input_steps=steps, input_indices=indices)
    return dataclasses.replace(spec, populations={**spec.populations, name: pop})


# ------------------------------------------------------------ snnTorch


def _heaviside(x):
    return (x > 0).to(x.dtype)


def _run_snntorch(module, x):
    """Spikes and membranes ``(T, n)`` of every snnTorch Leaky in ``module`` (init_hidden), float64."""
    snn = pytest.importorskip("snntorch", reason=SNNTORCH)
    import torch

    leakies = {name: m for name, m in module.named_modules() if isinstance(m, snn.Leaky)}
    record = {name: ([], []) for name in leakies}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: record[name][0].append((out[0] if isinstance(out, tuple) else out).clone())) for name, m in leakies.items()]
    for m in leakies.values():
        m.spike_grad = _heaviside
        m.reset_mem()
    with torch.no_grad():
        for t in range(x.shape[0]):
            module(torch.tensor(x[t : t + 1], dtype=torch.float64))
            for name, m in leakies.items():
                record[name][1].append(m.mem.clone())
    for h in hooks:
        h.remove()
    return {name: (torch.cat(s).numpy(), torch.cat(v).numpy()) for name, (s, v) in record.items()}


def _raster(imported, result, population, shape):
    i, k = imported.framework_spikes(result, population)
    raster = np.zeros(shape)
    raster[k, i] = 1
    return raster


@pytest.fixture(scope="module")
def snntorch_graph(tmp_path_factory):
    """A Linear -> Leaky -> Linear -> Leaky network built and exported by snnTorch (a .nir file), its input and its run."""
    snn = pytest.importorskip("snntorch", reason=SNNTORCH)
    import torch
    from snntorch.export_nir import export_to_nir

    rng = np.random.default_rng(11)
    n_in, n_hid, n_out, steps = 20, 24, 8, 300

    def leaky(n, **kw):  # float32 betas, as snnTorch holds them; reset to zero: NIR's v_reset
        beta = torch.tensor(np.float32(rng.uniform(0.55, 0.98, n)).astype(np.float64))
        return snn.Leaky(beta=beta, threshold=torch.ones(n), init_hidden=True, reset_mechanism="zero", reset_delay=False, spike_grad=_heaviside, **kw)

    fc1, fc2 = torch.nn.Linear(n_in, n_hid), torch.nn.Linear(n_hid, n_out, bias=False)
    net = torch.nn.Sequential(fc1, leaky(n_hid), fc2, leaky(n_out, output=True)).double()
    with torch.no_grad():
        fc1.weight.copy_(torch.tensor(dyadic(rng, (n_hid, n_in), 0.1, 0.5)))
        fc1.bias.copy_(torch.tensor(dyadic(rng, n_hid, 0.05, 0.1)))
        fc2.weight.copy_(torch.tensor(dyadic(rng, (n_out, n_hid), 0.15, 0.6)))
    graph = export_to_nir(net, torch.zeros(1, n_in, dtype=torch.float64), ignore_dims=[0])
    path = tmp_path_factory.mktemp("snntorch") / "snn.nir"
    nir.write(path, graph)
    x = (rng.random((steps, n_in)) < 0.25).astype(np.float64)
    return path, x, _run_snntorch(net, x)


def _compare_snntorch(imported, result, reference, steps):
    """Spikes and membranes of both layers, bitwise; returns the spikes compared."""
    compared = 0
    for node, layer in (("1", "1"), ("3", "3")):
        pop = imported.nodes[node]
        spikes, mem = reference[layer]
        ours = _raster(imported, result, pop, spikes.shape)
        assert np.array_equal(ours, spikes), pop
        assert np.array_equal(imported.framework_trace(result, pop, "v"), mem), pop
        compared += int(spikes.sum())
    return compared


def test_snntorch_export_runs_identically_in_the_twin_and_brian2(snntorch_graph):
    """A network snnTorch built and exported, read with the snnTorch convention:
    every spike and every membrane value of both layers equal snnTorch's."""
    path, x, reference = snntorch_graph
    imported = read_nir(path, convention="snntorch", n_steps=len(x))
    assert imported.latency == {"input": 0, "n1": 1, "n3": 2}
    spec = imported.with_inputs({"input": x})
    record = {imported.nodes["1"]: ["v"], imported.nodes["3"]: ["v"]}
    counts = {}
    for backend in ("torch", "numpy"):
        counts[backend] = _compare_snntorch(imported, simulate(spec, backend=backend, record=record), reference, len(x))
    assert counts["torch"] == counts["numpy"] > 100  # both layers fire (300 steps)


@pytest.mark.brian_standalone
def test_snntorch_export_runs_identically_in_cpp_standalone(snntorch_graph):
    path, x, reference = snntorch_graph
    imported = read_nir(path, convention="snntorch", n_steps=len(x))
    record = {imported.nodes["1"]: ["v"], imported.nodes["3"]: ["v"]}
    result = simulate(imported.with_inputs({"input": x}), backend="cpp_standalone", record=record)
    assert _compare_snntorch(imported, result, reference, len(x)) > 100


def test_snntorch_export_files_equal_the_import(snntorch_graph, tmp_path):
    """import-nir's files (models, network, params.json) give the in-memory network back."""
    from bioadapt.cli import main

    path, x, _ = snntorch_graph
    assert main(["import-nir", str(path), "--convention", "snntorch", "--steps", str(len(x)), "--out", str(tmp_path)]) == 0
    from_files = apply_params(load_network(tmp_path / "network.toml"), load_params(tmp_path / "params.json"))
    same_spec(from_files, from_nir(path, convention="snntorch", n_steps=len(x)))
    meta = json.loads((tmp_path / "params.json").read_text())["meta"]["nir"]
    assert meta["latency_steps"] == {"input": 0, "n1": 1, "n3": 2}


def _euler_network(rng, steps):
    """A bioadapt network of a user's Euler-step LIF model (tests/interop/data/euler_lif.toml)."""
    model = str(DATA / "euler_lif.toml")
    net = {
        "dt": "0.1*ms",
        "duration": f"{steps}*0.1*ms",
        "populations": {"inp": {"kind": "spikes", "size": 16}, "hid": {"model": model, "size": 20}, "out": {"model": model, "size": 6}},
        "projections": [
            {"name": "w_in", "source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all"},
            {"name": "w_out", "source": "hid", "target": "out", "on_pre": "I_post += weight", "connect": "all_to_all"},
        ],
    }
    spec = network_from_dict(net)
    pops = dict(spec.populations)
    for name in ("hid", "out"):  # tau = dt/(1 - beta) with float32 betas: snnTorch holds beta in float32
        beta = np.float32(rng.uniform(0.55, 0.98, pops[name].size)).astype(np.float64)
        pops[name] = dataclasses.replace(pops[name], values={**pops[name].values, "tau_m": 1e-4 / (1 - beta)})
    means = {"w_in": (0.12, 0.5), "w_out": (0.1, 0.5)}
    projections = tuple(dataclasses.replace(p, weight=dyadic(rng, p.size, *means[p.name])) for p in spec.projections)
    return dataclasses.replace(spec, populations=pops, projections=projections)


def test_bioadapt_export_runs_identically_in_snntorch(tmp_path):
    """A user's model, exported with the snnTorch convention and imported by
    snnTorch (import_from_nir): snnTorch's spikes and membranes are ours."""
    pytest.importorskip("snntorch", reason=SNNTORCH)
    import snntorch.import_nir

    rng = np.random.default_rng(5)
    steps = 300
    spec = _euler_network(rng, steps + 2)
    graph = to_nir(spec, convention="snntorch")
    assert [(n, t, exact) for n, t, exact, _ in population_report(graph)] == [("hid", "LIF", True), ("out", "LIF", True)]
    write_nir(graph, tmp_path / "net.nir")
    module = snntorch.import_nir.import_from_nir(nir.read(tmp_path / "net.nir")).double()
    x = (rng.random((steps, 16)) < 0.25).astype(np.float64)
    reference = _run_snntorch(module, x)
    steps_, indices = np.nonzero(x)
    result = simulate(with_input_spikes(spec, "inp", steps_, indices), backend="torch", record={"hid": ["u"], "out": ["u"]})
    compared = 0
    for pop, latency in (("hid", 1), ("out", 2)):
        spikes, mem = reference[pop]
        i, k = result.spikes[pop]
        ours = np.zeros((steps + 2, spikes.shape[1]))
        ours[k, i] = 1
        assert np.array_equal(ours[latency : latency + steps], spikes), pop
        assert np.array_equal(result.traces[pop]["u"][latency : latency + steps], mem), pop
        compared += int(spikes.sum())
    assert compared > 100


def test_snntorch_recurrent_leaky_runs_identically():
    """snnTorch's RLeaky (a LIF with a recurrent Affine, a NIR subgraph):
    the recurrent input acts one step later, the feed-forward one in the same step."""
    snn = pytest.importorskip("snntorch", reason=SNNTORCH)
    import torch
    from snntorch.export_nir import export_to_nir

    rng = np.random.default_rng(2)
    n_in, n_rec, steps = 12, 16, 200
    beta = torch.tensor(np.float32(rng.uniform(0.6, 0.95, n_rec)).astype(np.float64))
    rleaky = snn.RLeaky(beta=beta, threshold=torch.ones(n_rec), linear_features=n_rec, init_hidden=True, reset_mechanism="zero", reset_delay=False, spike_grad=_heaviside)
    fc = torch.nn.Linear(n_in, n_rec, bias=False)
    net = torch.nn.Sequential(fc, rleaky).double()
    with torch.no_grad():
        fc.weight.copy_(torch.tensor(dyadic(rng, (n_rec, n_in), 0.15, 0.5)))
        rleaky.recurrent.weight.copy_(torch.tensor(dyadic(rng, (n_rec, n_rec), -0.05, 0.3)))
        rleaky.recurrent.bias.copy_(torch.tensor(dyadic(rng, n_rec, 0.02, 0.05)))
    graph = export_to_nir(net, torch.zeros(1, n_in, dtype=torch.float64), ignore_dims=[0])
    x = (rng.random((steps, n_in)) < 0.25).astype(np.float64)
    spikes, mem = [], []
    rleaky.reset_mem()
    with torch.no_grad():
        for t in range(steps):
            net(torch.tensor(x[t : t + 1]))
            spikes.append(rleaky.spk.clone())
            mem.append(rleaky.mem.clone())
    spikes, mem = torch.cat(spikes).numpy(), torch.cat(mem).numpy()
    imported = read_nir(graph, convention="snntorch", n_steps=steps)
    pop = imported.nodes["1.lif"]
    recurrent = [p for p in imported.spec.projections if p.source == pop and p.target == pop]
    assert len(recurrent) == 1 and np.all(recurrent[0].delay_steps == 0) and recurrent[0].on_pre == "x_rec_post += weight"
    result = simulate(imported.with_inputs({"input": x}), backend="torch", record={pop: ["v"]})
    assert np.array_equal(_raster(imported, result, pop, spikes.shape), spikes)
    assert np.array_equal(imported.framework_trace(result, pop, "v"), mem)
    assert spikes.sum() > 50


# ---------------------------------------------------------------- Norse


def test_norse_reads_a_graph_as_the_norse_convention():
    """A hand-built NIR graph (Affine with bias, LIF with v_leak, Linear, LIF)
    run by Norse (from_nir) and by bioadapt's norse convention: same spikes."""
    norse = pytest.importorskip("norse.torch", reason="Norse is not installed (pip install --no-deps norse: its torchvision pin would replace torch)")
    import torch

    logging.getLogger().setLevel(logging.ERROR)  # Norse logs a warning per node it reads
    rng = np.random.default_rng(7)
    n_in, n_hid, n_out, steps = 10, 16, 6, 200
    dt = 2.0**-10  # with time constants that are powers of 2, Norse's float32 dt/tau is exact
    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=dyadic(rng, (n_hid, n_in), 2, 6, bits=8), bias=dyadic(rng, n_hid, 0, 1, bits=8)),
        nir.LIF(tau=2.0 ** -rng.integers(4, 7, n_hid), r=np.ones(n_hid), v_leak=dyadic(rng, n_hid, 0, 0.3, bits=8), v_threshold=np.ones(n_hid), v_reset=np.zeros(n_hid)),
        nir.Linear(weight=dyadic(rng, (n_out, n_hid), 2, 6, bits=8)),
        nir.LIF(tau=2.0 ** -rng.integers(4, 7, n_out), r=np.ones(n_out), v_leak=np.zeros(n_out), v_threshold=np.ones(n_out), v_reset=np.zeros(n_out)),
    )
    x = (rng.random((steps, n_in)) < 0.3).astype(np.float64)
    module = norse.from_nir(graph, dt=dt).double()
    state, out = None, []
    with torch.no_grad():
        for t in range(steps):
            o, state = module(torch.tensor(x[t : t + 1]), state)
            out.append(o.clone())
    reference = torch.cat(out).numpy()
    imported = read_nir(graph, convention="norse", dt=dt, n_steps=steps)
    result = simulate(imported.with_inputs({"input": x}), backend="torch")
    assert np.array_equal(_raster(imported, result, imported.outputs["output"], reference.shape), reference)
    assert reference.sum() > 50


def test_bioadapt_export_runs_identically_in_norse(tmp_path):
    norse = pytest.importorskip("norse.torch", reason="Norse is not installed (pip install --no-deps norse: its torchvision pin would replace torch)")
    import torch

    logging.getLogger().setLevel(logging.ERROR)
    rng = np.random.default_rng(5)
    steps, dt = 200, 2.0**-10
    model = str(DATA / "norse_lif.toml")
    net = {
        "dt": f"{dt!r}*second",
        "duration": f"{(steps + 2) * dt!r}*second",
        "populations": {"inp": {"kind": "spikes", "size": 10}, "hid": {"model": model, "size": 16}, "out": {"model": model, "size": 6}},
        "projections": [
            {"name": "w1", "source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all"},
            {"name": "w2", "source": "hid", "target": "out", "on_pre": "I_post += weight", "connect": "all_to_all"},
        ],
    }
    spec = network_from_dict(net)
    pops = dict(spec.populations)
    for name in ("hid", "out"):  # Norse starts at v = v_leak
        E = dyadic(rng, pops[name].size, 0, 0.3, bits=8)
        pops[name] = dataclasses.replace(pops[name], values={**pops[name].values, "tau": 2.0 ** -rng.integers(4, 7, pops[name].size), "E": E, "v": E.copy()})
    projections = tuple(dataclasses.replace(p, weight=dyadic(rng, p.size, 3, 8, bits=8)) for p in spec.projections)
    spec = dataclasses.replace(spec, populations=pops, projections=projections)
    graph = to_nir(spec, convention="norse")
    assert all(exact for _, _, exact, _ in population_report(graph))
    write_nir(graph, tmp_path / "net.nir")
    module = norse.from_nir(nir.read(tmp_path / "net.nir"), dt=dt).double()
    x = (rng.random((steps, 10)) < 0.3).astype(np.float64)
    state, out = None, []
    with torch.no_grad():
        for t in range(steps):
            o, state = module(torch.tensor(x[t : t + 1]), state)
            out.append(o.clone())
    reference = torch.cat(out).numpy()
    steps_, indices = np.nonzero(x)
    result = simulate(with_input_spikes(spec, "inp", steps_, indices), backend="torch")
    i, k = result.spikes["out"]
    ours = np.zeros((steps + 2, 6))
    ours[k, i] = 1
    assert np.array_equal(ours[2 : 2 + steps], reference)
    assert reference.sum() > 50


# ------------------------------------------------------------ round trips


@pytest.mark.parametrize("model", ["lif", "li", "adlif", "cadlif", "stc", "mtc", "relay"])
def test_round_trip_through_a_nir_file_is_bit_identical(model, tmp_path):
    """bioadapt -> .nir file -> bioadapt gives the same network, value for value,
    and the same spikes and traces in float64, for every shipped model."""
    from helpers import MEMBRANE

    spec = network_from_dict(model_network(model, steps=200))
    write_nir(spec, tmp_path / "net.nir")
    back = from_nir(tmp_path / "net.nir")
    inp = spec.populations["inp"]
    back = with_input_spikes(back, "inp", inp.input_steps, inp.input_indices)
    same_spec(back, spec)
    record = {"hid": [MEMBRANE[model]]}
    # (relay: x is written by the input synapses here, so it carries their weights; a drive of x would be refused)
    a = simulate(spec, backend="torch", record=record)
    b = simulate(back, backend="torch", record=record)
    for pop in a.spikes:
        assert a.spike_set(pop) == b.spike_set(pop), pop
    assert np.array_equal(a.traces["hid"][MEMBRANE[model]], b.traces["hid"][MEMBRANE[model]])


def test_primitive_round_trip_without_metadata_is_bit_identical():
    """A LIF with an exponential current (no refractory period), integrated
    exactly, exported as a CubaLIF and read back from the NIR node alone."""
    net = {
        "dt": "0.1*ms",
        "duration": "60*ms",
        "seed": 4,
        "scheme": "exact",
        "populations": {
            "inp": {"kind": "poisson", "size": 20, "rate": "80*Hz"},
            "hid": {"model": "lif", "size": 30, "values": {"t_ref": "0*ms", "tau_m": "uniform(10*ms, 30*ms)", "v_rest": "uniform(-0.1, 0.1)"}},
        },
        "projections": [
            {"source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": {"p": 0.4}, "weight": "normal(0.6, 0.2)", "delay": "0.2*ms"},
            {"source": "hid", "target": "hid", "on_pre": "I_post += weight", "connect": {"p": 0.3}, "weight": "normal(0, 0.3)"},
        ],
    }
    spec = network_from_dict(net)
    graph = to_nir(spec, metadata=False)
    assert type(graph.nodes["hid"]).__name__ == "CubaLIF" and type(graph.nodes["inp_to_hid_0.delay"]).__name__ == "Delay"
    back = from_nir(graph, dt=spec.dt, n_steps=spec.n_steps)
    inp = spec.populations["inp"]
    back = with_input_spikes(back, "inp", inp.input_steps, inp.input_indices)
    a = simulate(spec, backend="torch", record={"hid": ["v", "I"]})  # the twin is Brian2's numpy runtime, bit for bit
    b = simulate(back, backend="torch", record={"hid": ["v", "I"]})
    assert a.spike_set("hid") == b.spike_set("hid") and a.spike_count("hid") > 30
    for var in ("v", "I"):
        assert np.array_equal(a.traces["hid"][var], b.traces["hid"][var]), var


# ------------------------------------------------------------ what is read


SHIPPED = {  # model -> NIR node and exactness under the bioadapt and the snntorch convention
    "lif": ("CubaLIF", False, "LIF", False),
    "li": ("LI", False, "LI", True),
    "adlif": ("LIF", False, "LIF", False),
    "cadlif": ("LIF", False, "LIF", False),
    "stc": ("LIF", False, "LIF", False),
    "mtc": ("LIF", False, "LIF", False),
}


@pytest.mark.parametrize("model", sorted(SHIPPED))
def test_nir_node_of_every_shipped_model(model):
    """The README table: which shipped model is which NIR node, exactly or not."""
    spec = network_from_dict(model_network(model, steps=10))
    got = []
    for convention in ("bioadapt", "snntorch"):
        (row,) = [r for r in population_report(to_nir(spec, convention=convention)) if r[0] == "hid"]
        got += [row[1], row[2]]
    assert tuple(got) == SHIPPED[model]


def test_lif_without_refractory_period_is_an_exact_cubalif():
    net = model_network("lif", steps=10)
    net["populations"]["hid"]["values"]["t_ref"] = "0*ms"
    net["projections"][1]["on_pre"] = "I_post += weight"  # all synapses into I (the shipped test network also writes v)
    node = to_nir(network_from_dict(net)).nodes["hid"]
    assert type(node).__name__ == "CubaLIF" and json.loads(node.metadata["bioadapt_population"])["exact"]
    assert np.all(node.r == 1.0) and np.array_equal(node.w_in, node.tau_syn)  # a spike of weight w adds w to I


def test_li_under_a_same_step_convention_is_euler_of_an_equivalent_tau():
    """li's exp(-dt/tau) decay is one Euler step of tau' = dt/(1 - exp(-dt/tau))."""
    spec = network_from_dict(model_network("li", steps=10))
    node = to_nir(spec, convention="snntorch").nodes["hid"]
    tau = spec.populations["hid"].values["tau"]
    assert np.allclose(1 - spec.dt / node.tau, np.exp(-spec.dt / tau), rtol=0, atol=1e-15) and np.allclose(node.r, 1.0)


def test_import_errors_name_the_node():
    nodes = {
        "input": nir.Input(input_type={"input": np.array([1, 8])}),
        "conv1d": nir.Conv1d(input_shape=8, weight=np.ones((2, 1, 3)), stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(2)),
        "lif": nir.LIF(tau=np.ones((2, 6)), r=np.ones((2, 6)), v_leak=np.zeros((2, 6)), v_threshold=np.ones((2, 6))),
        "output": nir.Output(output_type={"output": np.array([2, 6])}),
    }
    conv = nir.NIRGraph(nodes=nodes, edges=[("input", "conv1d"), ("conv1d", "lif"), ("lif", "output")], type_check=False)
    with pytest.raises(ConfigError, match=r"NIR node 'conv1d' is of type Conv1d, which bioadapt cannot import"):
        from_nir(conv, dt=1e-3)
    lif = nir.NIRGraph.from_list(nir.Linear(weight=np.ones((3, 2))), nir.LIF(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3)))
    with pytest.raises(ConfigError, match=r"give dt \(seconds\) to import a NIR graph under convention 'bioadapt'"):
        from_nir(lif)
    with pytest.raises(ConfigError, match=r"Unknown NIR convention 'brian'; use one of bioadapt, snntorch, norse"):
        from_nir(lif, convention="brian")
    delayed = nir.NIRGraph.from_list(nir.Linear(weight=np.ones((3, 2))), nir.Delay(delay=np.full(3, 1.5e-3)), nir.LIF(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3)))
    with pytest.raises(ConfigError, match=r"a delay of 0.0015 s is not a whole number of steps of dt = 0.001 s"):
        from_nir(delayed, dt=1e-3)
    with pytest.raises(ConfigError, match=r"NIR file '.*missing.nir' does not exist"):
        from_nir("missing.nir")


def test_same_step_conventions_refuse_a_cycle_through_two_populations():
    net = model_network("lif", steps=10)
    net["populations"]["out"] = {"model": "lif", "size": 4}
    net["projections"] += [
        {"name": "up", "source": "hid", "target": "out", "on_pre": "I_post += weight", "connect": "all_to_all"},
        {"name": "down", "source": "out", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all"},
    ]
    spec = network_from_dict(net)
    to_nir(spec)  # continuous time: any graph
    with pytest.raises(ConfigError, match=r"closes a cycle through 'hid' and 'out'"):
        to_nir(spec, convention="snntorch")


def test_cli_export_with_trained_params_and_import(tmp_path, capsys):
    """export-nir --params writes the trained values; import-nir writes files that load back to them."""
    from bioadapt.cli import main
    from bioadapt.train.params import save_params

    net = tmp_path / "net.toml"
    net.write_text(
        'dt = "1*ms"\nduration = "50*ms"\nseed = 1\n[populations.inp]\nkind = "spikes"\nsize = 5\n'
        '[populations.hid]\nmodel = "adlif"\nsize = 8\n[[projections]]\nname = "w"\nsource = "inp"\ntarget = "hid"\n'
        'on_pre = "I_post += weight"\nconnect = { p = 0.5 }\nweight = "normal(1, 0.5)"\ndelay = "uniform(0*ms, 3*ms)"\n'
    )
    spec = load_network(net)
    trained = {"hid": {"tau_u": np.linspace(5e-3, 25e-3, 8)}, "w": {"weight": np.arange(spec.projections[0].size, dtype=float)}}
    save_params(tmp_path / "params.json", spec, trained)
    assert main(["export-nir", str(net), "--params", str(tmp_path / "params.json"), "--out", str(tmp_path / "net.nir")]) == 0
    assert "hid              LIF      approximate: code run every step" in capsys.readouterr().out
    assert main(["import-nir", str(tmp_path / "net.nir"), "--out", str(tmp_path / "imported")]) == 0
    back = apply_params(load_network(tmp_path / "imported" / "network.toml"), load_params(tmp_path / "imported" / "params.json"))
    assert np.array_equal(back.populations["hid"].values["tau_u"], trained["hid"]["tau_u"])
    assert np.array_equal(back.projections[0].weight, trained["w"]["weight"])
    same_spec(back, from_nir(tmp_path / "net.nir"))
    assert main(["import-nir", str(tmp_path / "missing.nir"), "--out", str(tmp_path / "x")]) == 2
    assert "NIR file" in capsys.readouterr().err


def test_metadata_is_refused_when_another_tool_changed_the_weights(tmp_path):
    spec = network_from_dict(model_network("lif", steps=10))
    graph = to_nir(spec)
    name = next(n for n, node in graph.nodes.items() if type(node).__name__ == "Linear")
    graph.nodes[name].weight = graph.nodes[name].weight * 2
    with pytest.raises(ConfigError, match=r"differ from those in its bioadapt metadata .* use_metadata=False"):
        from_nir(graph)
    assert from_nir(graph, use_metadata=False, dt=spec.dt).populations["hid"].model.name == "cubalif_bioadapt"


@pytest.mark.parametrize("model", ["adlif", "relay"])
def test_write_network_reproduces_a_sparse_network(model, tmp_path):
    """Synapses no connection rule gives travel in synapses/NAME.npz (connect = { file = ... })."""
    spec = network_from_dict(model_network(model, steps=20))
    imported = read_nir(to_nir(spec))
    written = write_network(imported, tmp_path)
    assert written["synapses"]
    same_spec(apply_params(load_network(written["network"]), load_params(written["params"])), imported.spec)


def test_snntorch_convention_against_a_hand_written_loop():
    """Delay and Scale nodes in the same-step reading, against the framework's
    loop written out: x -> Linear -> Delay(2 steps) -> LIF -> Scale -> LIF."""
    rng = np.random.default_rng(3)
    dt, steps, n_in, n = 1e-4, 120, 4, 5
    w = dyadic(rng, (n, n_in), 0.4, 0.5)
    scale = dyadic(rng, n, 1.2, 0.3)
    tau1, tau2 = 1e-4 / (1 - np.float32(rng.uniform(0.6, 0.95, n))), 1e-4 / (1 - np.float32(rng.uniform(0.6, 0.95, n)))
    lif = lambda tau: nir.LIF(tau=tau.astype(np.float64), r=tau / dt, v_leak=np.zeros(n), v_threshold=np.full(n, 0.75), v_reset=np.zeros(n))  # noqa: E731
    graph = nir.NIRGraph.from_list(nir.Linear(weight=w), nir.Delay(delay=np.full(n, 2 * dt)), lif(tau1), nir.Scale(scale=scale), lif(tau2))
    x = (rng.random((steps, n_in)) < 0.4).astype(np.float64)
    # the framework's loop: every node in graph order within a step, the delay a two-step buffer
    beta1, beta2 = 1 - dt / tau1.astype(np.float64), 1 - dt / tau2.astype(np.float64)
    v1, v2, s1_all, s2_all = np.zeros(n), np.zeros(n), [], []
    for k in range(steps):
        delayed = w @ x[k - 2] if k >= 2 else np.zeros(n)
        v1 = beta1 * v1 + delayed
        s1 = (v1 > 0.75).astype(float)
        v1 = np.where(s1 > 0, 0.0, v1)
        v2 = beta2 * v2 + scale * s1
        s2 = (v2 > 0.75).astype(float)
        v2 = np.where(s2 > 0, 0.0, v2)
        s1_all.append(s1)
        s2_all.append(s2)
    imported = read_nir(graph, convention="snntorch", n_steps=steps)
    assert imported.latency == {"input": 0, "lif": 0, "lif_1": 1}  # the delay absorbs the first layer's latency
    result = simulate(imported.with_inputs({"input": x}), backend="torch")
    assert np.array_equal(_raster(imported, result, "lif", (steps, n)), np.array(s1_all))
    assert np.array_equal(_raster(imported, result, "lif_1", (steps, n)), np.array(s2_all))
    assert np.sum(s2_all) > 10


def test_snntorch_synaptic_runs_identically():
    """snnTorch's Synaptic exports as a CubaLIF: spikes, membrane and synaptic current equal snnTorch's."""
    snn = pytest.importorskip("snntorch", reason=SNNTORCH)
    import torch
    from snntorch.export_nir import export_to_nir

    rng = np.random.default_rng(0)
    n_in, n, steps = 10, 12, 200

    def f32(values):
        return torch.tensor(np.float32(values).astype(np.float64))

    syn = snn.Synaptic(alpha=f32(rng.uniform(0.5, 0.9, n)), beta=f32(rng.uniform(0.6, 0.95, n)), threshold=torch.ones(n), init_hidden=True, reset_mechanism="zero", reset_delay=False, spike_grad=_heaviside)
    fc = torch.nn.Linear(n_in, n, bias=False)
    net = torch.nn.Sequential(fc, syn).double()
    with torch.no_grad():
        fc.weight.copy_(torch.tensor(dyadic(rng, (n, n_in), 0.1, 0.4)))
    graph = export_to_nir(net, torch.zeros(1, n_in, dtype=torch.float64), ignore_dims=[0])
    x = (rng.random((steps, n_in)) < 0.3).astype(np.float64)
    syn.reset_mem()
    spikes, mem, current = [], [], []
    with torch.no_grad():
        for t in range(steps):
            spikes.append(net(torch.tensor(x[t : t + 1])).clone())
            mem.append(syn.mem.clone())
            current.append(syn.syn.clone())
    spikes, mem, current = (torch.cat(a).numpy() for a in (spikes, mem, current))
    imported = read_nir(graph, convention="snntorch", n_steps=steps)
    pop = imported.nodes["1"]
    result = simulate(imported.with_inputs({"input": x}), backend="torch", record={pop: ["v", "I"]})
    assert np.array_equal(_raster(imported, result, pop, spikes.shape), spikes) and spikes.sum() > 50
    assert np.array_equal(imported.framework_trace(result, pop, "v"), mem)
    assert np.array_equal(imported.framework_trace(result, pop, "I"), current)


def test_without_the_nir_package_one_error_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "nir", None)  # import nir now fails, as when it is not installed
    with pytest.raises(ConfigError, match=r"NIR support needs the 'nir' package: pip install 'bioadapt\[nir\]'"):
        from_nir("net.nir")
    with pytest.raises(ConfigError, match=r"pip install 'bioadapt\[nir\]'"):
        to_nir(network_from_dict(model_network("lif", steps=10)))
