"""Run a trained network in Brian2 over a test set and compare it with the twin, sample for sample.

The network gets the trained values from the parameter file (`apply_params`),
cpp_standalone (or cuda_standalone, on a GPU) compiles it once and runs every sample through ``run_args``
(or the numpy runtime simulates each sample). The twin evaluates the same
samples in float64 with Brian2's spike-queue order of synaptic sums and the
elementary functions of the target (``math="libm"`` for cpp_standalone,
numpy's for the numpy runtime), so in float64 both give the same spikes and
the same readout, step for step; `evaluate` measures that instead of assuming it.

With ``workers`` (or a Dask ``scheduler``), the Brian2 part is sharded: the
samples are cut into contiguous shards, one per worker process, each of
which compiles the network once and runs its shard; the gathered readouts and
spikes are those of one process, sample for sample (every Brian2 run starts
from the same compiled state, whatever ran before it).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..backends.torch import Twin
from ..errors import ConfigError
from ..backends.registry import BACKENDS as _BACKENDS
from .config import TrainConfig
from .data import batches, make_dataset
from .losses import predict, score
from .params import apply_params, load_params

__all__ = ["evaluate", "trained_network", "brian_outputs"]

#: The Brian2 backends a trained network is evaluated on (`bioadapt.backends.registry.BACKENDS`).
EVALUATORS = _BACKENDS.where(evaluates=True)
BACKENDS = EVALUATORS.names


def trained_network(config: TrainConfig, params_path: str | Path, data=None):
    """``(spec, data)``: the configured network on the task's time grid with the trained values."""
    data = make_dataset(config) if data is None else data
    spec = dataclasses.replace(config.network, n_steps=data.n_steps)
    return apply_params(spec, load_params(params_path)), data


def _spike_lists(spikes: dict, b: int) -> dict:
    """Spikes of batch entry ``b`` from twin output: pop -> (i, step) sorted by step then i."""
    out = {}
    for pop, s in spikes.items():
        steps, idx = np.nonzero(s[:, b].cpu().numpy() > 0.5)
        out[pop] = (idx.astype(np.int64), steps.astype(np.int64))
    return out


def evaluate(config: TrainConfig, params_path: str | Path, backend: str = "cpp_standalone", split: str = "test", max_samples: int | None = None, out: str | Path | None = None, directory: str | None = None, progress=None,
             workers: int | None = None, scheduler: str | None = None, client=None, return_outputs: bool = False) -> dict:
    """Metrics of the twin and of Brian2 on ``split``, and their agreement.

    Returns a dict with ``twin`` and ``brian`` metrics (loss, accuracy or NMSE),
    ``prediction_agreement`` (fraction of samples with the same predicted
    class; for regression the largest readout difference), ``identical_spike_trains``
    (fraction of samples whose spikes agree in every population, step for step),
    spike counts of both and the largest readout difference. ``per_sample``
    holds each sample's spike counts and predictions (or largest readout
    difference, for regression). ``workers`` > 1 shards the Brian2 runs over
    that many local worker processes (a Dask LocalCluster), ``scheduler`` over
    the workers of a running Dask cluster (``client``: a connected
    ``dask.distributed.Client``); the result is the same. ``return_outputs``
    adds the Brian2 readouts and spikes (``outputs``).
    """
    EVALUATORS.check(backend, "evaluate: backend", ConfigError)
    if backend == "cuda_standalone":  # before anything is built: a GPU, the toolkit, brian2cuda
        from ..backends.brian.cuda import cuda_settings, require_gpu

        cuda_settings()
        require_gpu()
    c = config
    spec, data = trained_network(c, params_path)
    idx = data.subset(split)
    if max_samples is not None:
        idx = idx[:max_samples]
    if len(idx) == 0:
        raise ConfigError(f"{c.source}: the task's '{split}' split is empty.")
    pop, var = c.readout.population, c.readout.variable
    drive_vars = c.task.drive_vars
    neuron_pops = [p for p in spec.populations.values() if not p.is_input]

    # twin: float64, exact synaptic order, the target's elementary functions
    start = time.perf_counter()
    twin = Twin(spec, drive_vars=drive_vars, dtype=torch.float64, synapses="exact", math="numpy" if backend == "numpy" else "libm")
    twin_y, twin_spikes = [], []
    with torch.no_grad():
        for chunk in batches(idx, c.runtime.eval_batch_size, None):
            x = torch.as_tensor(np.ascontiguousarray(data.x[chunk].transpose(1, 0, 2)), dtype=torch.float64)
            inputs, drive = ({c.task.input_population: x}, {}) if c.task.input_variable is None else ({}, {c.task.input_population: {c.task.input_variable: x}})
            o = twin(inputs=inputs, drive=drive, record={pop: [var]})
            twin_y.append(o.traces[pop][var].numpy())
            twin_spikes += [_spike_lists({p.name: o.spikes[p.name] for p in neuron_pops if p.name in o.spikes}, b) for b in range(len(chunk))]
    twin_y = np.concatenate(twin_y, axis=1)
    twin_seconds = time.perf_counter() - start

    # Brian2
    start = time.perf_counter()
    samples = data.x[idx]
    sharded = (workers or 1) > 1 or scheduler is not None or client is not None
    if sharded:
        brian_y, brian_spikes, compile_seconds = _sharded(spec, c, samples, backend, directory, workers, scheduler, client, progress)
    else:
        brian_y, brian_spikes, compile_seconds = brian_outputs(spec, c, samples, backend, directory, progress)
    brian_y = np.stack(brian_y, axis=1)
    brian_seconds = time.perf_counter() - start

    if data.kind == "classification":
        target = data.y[idx]
    else:
        target = data.target[idx].transpose(1, 0, 2)
    identical = [all(np.array_equal(t[p][0], b[p][0]) and np.array_equal(t[p][1], b[p][1]) for p in t) for t, b in zip(twin_spikes, brian_spikes)]
    result = {
        "backend": backend,
        "split": split,
        "samples": int(len(idx)),
        "twin": score(c.readout.loss, twin_y, target, c.readout.ignore_first),
        "brian": score(c.readout.loss, brian_y, target, c.readout.ignore_first),
        "identical_spike_trains": float(np.mean(identical)),
        "spikes_twin": int(sum(len(t[p][0]) for t in twin_spikes for p in t)),
        "spikes_brian": int(sum(len(b[p][0]) for b in brian_spikes for p in b)),
        "max_readout_difference": float(np.max(np.abs(twin_y - brian_y))),
        "seconds": {"twin": twin_seconds, "brian": brian_seconds, "brian_compile": compile_seconds},
    }
    result["per_sample"] = {"spikes_twin": [int(sum(len(t[p][0]) for p in t)) for t in twin_spikes], "spikes_brian": [int(sum(len(b[p][0]) for p in b)) for b in brian_spikes], "identical_spike_trains": [bool(v) for v in identical]}
    if data.kind == "classification":
        twin_pred, brian_pred = predict(c.readout.loss, twin_y, c.readout.ignore_first), predict(c.readout.loss, brian_y, c.readout.ignore_first)
        result["prediction_agreement"] = float(np.mean(twin_pred == brian_pred))
        result["per_sample"].update(prediction_twin=twin_pred.tolist(), prediction_brian=brian_pred.tolist(), target=[int(v) for v in target])
    else:
        result["per_sample"]["max_readout_difference"] = np.max(np.abs(twin_y - brian_y), axis=(0, 2)).tolist()
    if sharded:
        result["workers"] = workers if scheduler is None and client is None else "dask"
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"evaluation_{backend}.json").write_text(json.dumps(result, indent=1))
        np.savez_compressed(out / f"evaluation_{backend}_sample0.npz", twin_y=twin_y[:, 0], brian_y=brian_y[:, 0], **{f"twin.{p}.i": twin_spikes[0][p][0] for p in twin_spikes[0]}, **{f"twin.{p}.step": twin_spikes[0][p][1] for p in twin_spikes[0]}, **{f"brian.{p}.i": brian_spikes[0][p][0] for p in brian_spikes[0]}, **{f"brian.{p}.step": brian_spikes[0][p][1] for p in brian_spikes[0]}, x=data.x[idx[0]])
    if return_outputs:
        result["outputs"] = {"brian_y": brian_y, "brian_spikes": brian_spikes, "twin_y": twin_y, "twin_spikes": twin_spikes}
    return result


def brian_outputs(spec, config: TrainConfig, samples: np.ndarray, backend: str, directory: str | None = None, progress=None, reuse: bool = False) -> tuple:
    """Run ``samples`` (n, steps, channels) through the network in Brian2: readout traces
    ``[(steps, outputs)]``, spikes ``[{population: (i, step)}]`` and the compile time
    (``reuse``: keep the compiled network for the next call in this process)."""
    c = config
    pop, var = c.readout.population, c.readout.variable
    drive_vars = c.task.drive_vars
    neuron_pops = [p for p in spec.populations.values() if not p.is_input]
    brian_y, brian_spikes = [], []
    if backend in ("cpp_standalone", "cuda_standalone"):
        net = _standalone(spec, directory, reuse, record={pop: [var]}, drive_vars=drive_vars, target=backend)
        compile_seconds = net.compile_time
        try:
            for n, sample in enumerate(samples):
                sample = sample.astype(np.float64)
                r = net.run(inputs={c.task.input_population: sample}) if c.task.input_variable is None else net.run(drive={c.task.input_population: {c.task.input_variable: sample}})
                brian_y.append(r.traces[pop][var])
                brian_spikes.append({p.name: r.spikes[p.name] for p in neuron_pops})
                if progress:
                    progress(n + 1, len(samples))
        finally:
            if not reuse:
                net.close()
    else:
        from ..simulate import simulate

        compile_seconds = 0.0
        for n, sample in enumerate(samples):
            if c.task.input_variable is None:
                steps, channels = np.nonzero(sample)
                r = simulate(spec, backend="numpy", record={pop: [var]}, inputs={c.task.input_population: {"i": channels, "step": steps}})
            else:
                r = simulate(spec, backend="numpy", record={pop: [var]}, drive={c.task.input_population: {c.task.input_variable: sample.astype(np.float64)}})
            brian_y.append(r.traces[pop][var])
            brian_spikes.append({p.name: r.spikes[p.name] for p in neuron_pops})
            if progress:
                progress(n + 1, len(samples))
    return brian_y, brian_spikes, compile_seconds


#: a worker process's compiled network, reused by its next shard of the same network
_CACHE: dict = {}


def _standalone(spec, directory, reuse, **kwargs):
    """A compiled `StandaloneNetwork`; with ``reuse``, the one this process compiled last for the same network and options."""
    import hashlib
    import pickle

    from ..backends.brian.standalone import StandaloneNetwork

    if not reuse:
        return StandaloneNetwork(spec, directory=directory, **kwargs)
    key = hashlib.sha256(pickle.dumps((spec, directory, sorted(kwargs.items())))).hexdigest()
    net = _CACHE.get("net")
    if net is None or _CACHE.get("key") != key or net.superseded:
        if net is not None:
            net.close()
        net = StandaloneNetwork(spec, directory=directory, **kwargs)
        _CACHE.update(net=net, key=key)
    return net


def _shard_task(spec, config, samples, backend, directory):
    """One worker's shard: `brian_outputs` on a network compiled once per worker process."""
    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    outputs = brian_outputs(spec, config, samples, backend, directory, reuse=True)
    return outputs + (time.perf_counter() - start,)


def _sharded(spec, config, samples, backend, directory, workers, scheduler, client, progress) -> tuple:
    """`brian_outputs` over contiguous shards of the samples on Dask workers, gathered in sample order."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError("evaluate --workers/--scheduler needs dask.distributed: pip install 'bioadapt[distributed]'.") from None
    own = []
    if client is None:
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout=30)
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"--scheduler {scheduler}: no Dask scheduler answered ({exc}).") from None
            own = [client]
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40)
            client = Client(cluster)
            own = [client, cluster]
    try:
        n = workers or max(1, len(client.scheduler_info()["workers"]))
        shards = [s for s in np.array_split(np.arange(len(samples)), min(n, len(samples))) if len(s)]
        futures = {client.submit(_shard_task, spec, config, samples[s], backend, None if directory is None else str(Path(directory) / f"shard{k}"), pure=False): k for k, s in enumerate(shards)}
        parts, done = {}, 0
        for future in as_completed(futures):
            parts[futures[future]] = future.result()
            done += len(shards[futures[future]])
            if progress:
                progress(done, len(samples))
    finally:
        for thing in own:
            thing.close()
    ordered = [parts[k] for k in range(len(shards))]
    return [y for p in ordered for y in p[0]], [sp for p in ordered for sp in p[1]], max(p[2] for p in ordered)
