"""Twin modes: batches of independent trials, float32, dense synapses, continuing a run."""

import numpy as np
import pytest
import torch

from bioadapt import BackendError, network_from_dict, simulate
from bioadapt.backends.torch import Twin
from helpers import model_network

# Dense synapses sum contributions in another order than Brian2's spike queue:
# float64 rounding differences of a few ulp per step, accumulated over the run.
DENSE_ATOL = 1e-12


def _spec(model="lif", steps=1500):
    return network_from_dict(model_network(model, steps=steps))


def test_batch_trials_equal_separate_runs():
    spec = _spec()
    twin = Twin(spec)
    base = twin.default_inputs()["inp"]
    g = torch.Generator().manual_seed(0)
    other = (torch.rand(base.shape, generator=g) < 0.01).to(base.dtype)
    batch = torch.cat([base, other, base], dim=1)
    with torch.no_grad():
        together = twin(inputs={"inp": batch}, record={"hid": ["v"]})
        alone = [twin(inputs={"inp": x}, record={"hid": ["v"]}) for x in (base, other)]
    assert torch.equal(together.traces["hid"]["v"][:, 0], alone[0].traces["hid"]["v"][:, 0])
    assert torch.equal(together.traces["hid"]["v"][:, 1], alone[1].traces["hid"]["v"][:, 0])
    assert torch.equal(together.spikes["hid"][:, 2], alone[0].spikes["hid"][:, 0])
    assert not torch.equal(together.spikes["hid"][:, 0], together.spikes["hid"][:, 1])


@pytest.mark.parametrize("model", ["adlif", "lif"])
def test_continuing_from_returned_state_equals_one_run(model):
    """The returned state carries spikes in flight on delayed synapses."""
    spec = _spec(model, steps=400)
    var = "u" if model == "adlif" else "v"
    twin = Twin(spec)
    x = twin.default_inputs()["inp"]
    with torch.no_grad():
        full = twin(inputs={"inp": x}, record={"hid": [var]})
        first = twin(inputs={"inp": x[:150]}, record={"hid": [var]})
        second = twin(inputs={"inp": x[150:]}, state=first.state, start_step=150, record={"hid": [var]})
    assert torch.equal(torch.cat([first.traces["hid"][var], second.traces["hid"][var]]), full.traces["hid"][var])
    assert torch.equal(torch.cat([first.spikes["hid"], second.spikes["hid"]]), full.spikes["hid"])


def test_float32_runs_and_stays_close():
    spec = _spec("adlif", steps=300)
    with torch.no_grad():
        t64 = Twin(spec)(record={"hid": ["u"]}).traces["hid"]["u"]
        out32 = Twin(spec, dtype=torch.float32)(record={"hid": ["u"]})
    t32 = out32.traces["hid"]["u"]
    assert t32.dtype == torch.float32
    # single precision: compare only the first steps, before spike times can shift
    assert torch.allclose(t32[:20].double(), t64[:20], atol=1e-5)


@pytest.mark.parametrize("model", ["lif", "adlif"])
def test_dense_synapses_match_exact(model):
    spec = _spec(model, steps=800)
    with torch.no_grad():
        exact = Twin(spec)(record={"hid": ["v" if model == "lif" else "u"]})
        dense = Twin(spec, synapses="dense")(record={"hid": ["v" if model == "lif" else "u"]})
    var = "v" if model == "lif" else "u"
    assert torch.equal(exact.spikes["hid"], dense.spikes["hid"])
    assert torch.allclose(exact.traces["hid"][var], dense.traces["hid"][var], rtol=0, atol=DENSE_ATOL)


def test_dense_synapses_pass_gradients_to_weights():
    spec = _spec("adlif", steps=100)
    twin = Twin(spec, synapses="dense")
    twin(record={"hid": ["u"]}).traces["hid"]["u"].pow(2).sum().backward()
    for name in twin.params:
        if "weight" in twin.params[name]:
            assert torch.any(twin.params[name]["weight"].grad != 0)


def test_bad_modes_are_refused():
    spec = _spec("lif", steps=10)
    with pytest.raises(BackendError, match="synapses must be one of exact, dense, got 'sparse'"):
        Twin(spec, synapses="sparse")
    with pytest.raises(BackendError, match="math must be one of numpy, libm"):
        Twin(spec, math="fast")
    with pytest.raises(BackendError, match="torch.float64 or torch.float32"):
        Twin(spec, dtype=torch.float16)


def test_untranslatable_model_names_the_object(tmp_path):
    model = tmp_path / "noisy.toml"
    model.write_text(
        'equations = """\n'
        "dv/dt = -v/tau : 1\n"
        "tau : second\n"
        '"""\n'
        'threshold = "v > 1"\n'
        'reset = "v = 0.1*poisson(2.0)"\n'
        "[defaults]\n"
        'tau = "10*ms"\n'
    )
    spec = network_from_dict({"dt": "0.1*ms", "duration": "1*ms", "populations": {"p": {"model": "noisy.toml", "size": 3}}}, folder=tmp_path)
    with pytest.raises(BackendError, match=r"p_spike_resetter: the twin cannot translate 'poisson\(\)'"):
        Twin(spec)


def test_on_pre_reading_a_written_neuron_variable_is_refused():
    spec = network_from_dict({
        "dt": "0.1*ms", "duration": "1*ms",
        "populations": {"inp": {"kind": "poisson", "size": 2, "rate": "10*Hz"}, "hid": {"model": "lif", "size": 2}},
        "projections": [{"source": "inp", "target": "hid", "on_pre": "v_post += weight\nI_post += 0.5*(v_post)", "connect": "all_to_all"}],
    })
    with pytest.raises(BackendError, match=r"on_pre reads 'v_post' while adding to 'hid.v'"):
        Twin(spec)()
    one_to_one = network_from_dict({**spec_dict(), "projections": [{"source": "inp", "target": "hid", "on_pre": "v_post += weight\nI_post += 0.5*(v_post)", "connect": "one_to_one"}]})
    with pytest.raises(BackendError, match=r"on_pre reads \['v_post'\] after writing it"):
        Twin(one_to_one)()


def spec_dict():
    return {"dt": "0.1*ms", "duration": "2*ms", "seed": 3,
            "populations": {"inp": {"kind": "poisson", "size": 3, "rate": "2000*Hz"}, "hid": {"model": "lif", "size": 3, "values": {"theta": 5.0}}}}


def test_order_dependent_on_pre_is_refused_and_order_free_form_matches_brian():
    """``v_post += w*(E - v_post)``: Brian2 applies it synapse by synapse; the twin
    refuses it when several synapses reach one neuron and runs it bitwise like the
    numpy runtime when each neuron has one synapse."""
    code = "v_post += weight*(2 - v_post)"
    many = network_from_dict({**spec_dict(), "projections": [{"name": "g", "source": "inp", "target": "hid", "on_pre": code, "connect": "all_to_all", "weight": "uniform(0, 0.3)"}]})
    with pytest.raises(BackendError, match=r"projection 'g': on_pre reads 'v_post' while adding to 'hid.v'.*synapse by synapse"):
        Twin(many)
    single = network_from_dict({**spec_dict(), "projections": [{"name": "g", "source": "inp", "target": "hid", "on_pre": code, "connect": "one_to_one", "weight": "uniform(0, 0.3)"}]})
    record = {"hid": ["v"]}
    brian, twin = simulate(single, backend="numpy", record=record), simulate(single, backend="torch", record=record)
    assert np.array_equal(brian.traces["hid"]["v"], twin.traces["hid"]["v"]) and np.abs(brian.traces["hid"]["v"]).max() > 0


@pytest.mark.parametrize("synapses", ["exact", "dense"])
def test_to_moves_every_tensor_and_refuses_casts(synapses):
    """``twin.to(device)`` moves the index arrays and constants kept outside
    parameters too (checked on the meta device, which any machine has)."""
    twin = Twin(network_from_dict(model_network("adlif", steps=20)), synapses=synapses, dtype=torch.float32)
    twin.to("meta")
    left, seen = [], []

    def walk(value, path):
        if isinstance(value, torch.Tensor):
            seen.append(path)
            if value.device.type != "meta":
                left.append(path)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}[{key!r}]")
        elif isinstance(value, (list, tuple)):
            for k, item in enumerate(value):
                walk(item, f"{path}[{k}]")
        elif hasattr(value, "__dict__") and not isinstance(value, (torch.nn.Module, type)):
            walk(vars(value), f"{path}.{type(value).__name__}")

    walk(vars(twin), "twin")
    assert len(seen) > 20 and left == [] and all(p.device.type == "meta" for p in twin.parameters())
    with pytest.raises(BackendError, match=r"built for torch.float32; build it with Twin\(\.\.\., dtype=torch.float64\)"):
        twin.double()


def test_forward_checks_its_arguments():
    """Wrong shapes, names or states give one error naming the argument, not a torch traceback."""
    twin = Twin(_spec("adlif", steps=60))
    x = twin.default_inputs()["inp"]
    with torch.no_grad():
        first = twin(inputs={"inp": x[:30]})
    size = x.shape[2]
    cases = [
        (dict(inputs={"inp": x[:, 0]}), r"inputs\['inp'\]: expected a tensor \(n_steps, batch, size\), got shape \(60, 20\)"),
        (dict(inputs={"inp": x[..., :3]}), rf"inputs\['inp'\]: the population has {size} neurons, the tensor's last dimension is 3"),
        (dict(inputs={"hid": x}), r"inputs: 'hid' is not an input population \(inp\)"),
        (dict(inputs={"inp": x.numpy()}), r"expected a torch tensor .* got ndarray"),
        (dict(inputs={"inp": x * float("nan")}), r"inputs\['inp'\]: contains NaN"),
        (dict(inputs={"inp": x[:10]}, n_steps=20), r"n_steps = 20, but the inputs hold 10 steps"),
        (dict(record={"inp": ["u"]}), r"record: 'inp' is not a neuron population or projection \(hid, inp_to_hid_0, hid_to_hid_1\)"),
        (dict(state={"u": 1}), r"state: 'u' is not a state of this twin"),
        (dict(inputs={"inp": x[30:].expand(-1, 3, -1)}, state=first.state), r"state \('hid', '\w+'\): expected shape \(3, 30\), got \(1, 30\)"),
        (dict(start_step=-1), r"start_step must be a non-negative integer"),
    ]
    for kwargs, message in cases:
        with pytest.raises(BackendError, match=message), torch.no_grad():
            twin(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU (tests/backends/torch/test_twin_gpu.py runs it on one)")
def test_cuda_graph_step_needs_a_gpu():
    from bioadapt.backends.torch import CudaGraphStep

    twin = Twin(_spec("adlif", steps=20), dtype=torch.float32, synapses="dense")
    with pytest.raises(BackendError, match="CudaGraphStep needs a CUDA GPU"):
        CudaGraphStep(lambda x: twin(inputs={"inp": x}).spikes["hid"].sum(), twin.parameters(), twin.default_inputs()["inp"])


@pytest.mark.parametrize("model", ["adlif", "lif", "stc", "mtc"])
def test_no_read_back_while_capturing(model, monkeypatch):
    """While a CUDA graph is captured, a forward and backward pass of the twin
    reads nothing back from the device (no .item(), bool() or data-dependent
    branch): checked on the CPU by declaring every call a capture after one
    ordinary call, and counting the operations that copy a value to the host."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from bioadapt.backends.torch import calls, twin as twin_module

    class ReadBacks(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.seen = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten._local_scalar_dense.default:
                self.seen.append(func)
            return func(*args, **(kwargs or {}))

    net = model_network(model, steps=60)
    if model == "lif":
        # linear: 'exact' by default, whose propagators the host computes in
        # every call (refused while capturing, below); checked here with Euler
        net["populations"]["hid"]["scheme"] = "euler"
    spec = network_from_dict(net)
    model_twin = Twin(spec, synapses="dense" if model == "adlif" else "exact")
    inputs = model_twin.default_inputs(batch=2)
    first = model_twin(inputs=inputs).spikes["hid"]  # the ordinary call before the capture
    monkeypatch.setattr(calls, "capturing", lambda device: True)
    monkeypatch.setattr(twin_module, "capturing", lambda device: True)
    with ReadBacks() as mode:
        out = model_twin(inputs=inputs)
        (out.spikes["hid"].sum() + sum(v.sum() for v in out.state.values() if v.is_floating_point())).backward()
    assert mode.seen == []
    assert torch.equal(out.spikes["hid"], first)


def test_host_computed_propagators_refuse_capture(monkeypatch):
    from bioadapt.backends.torch import calls, twin as twin_module

    model_twin = Twin(_spec("lif", steps=20))  # no scheme: exact (linear equations)
    assert model_twin.spec.populations["hid"].scheme == "exact"
    model_twin(inputs=model_twin.default_inputs())  # the ordinary call before the capture
    monkeypatch.setattr(calls, "capturing", lambda device: True)
    monkeypatch.setattr(twin_module, "capturing", lambda device: True)
    with pytest.raises(BackendError, match=r"CUDA graph capture: the propagators of population 'hid' \(LinearSystem\) are computed on the CPU in every call; this twin runs eagerly only"):
        model_twin(inputs=model_twin.default_inputs())


def test_initial_state_follows_the_twin_to_another_device():
    """The initial values are kept per device (no host copy while a CUDA graph
    is captured); moving the twin drops them, so that none is left on a device
    under another device's key ("meta" stands in for a GPU here)."""
    twin = Twin(_spec("adlif", steps=20))
    assert all(v.device.type == "cpu" for v in twin.initial_state(2).values())
    twin.to("meta")
    assert all(v.device.type == "meta" for v in twin.initial_state(2).values())
    assert all(v.device.type == "cpu" for v in twin.initial_state(2, device="cpu").values())
