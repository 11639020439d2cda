"""Next-frame prediction of bouncing squares with STC grid networks and LIF grid networks of the same size
=========================================================================================================

The experiment
--------------
The STC paper (Wang & Yu, ICML 2024) predicts Moving MNIST frames with layers
of spiking neurons whose memory and input are scaled by two gains driven by the
layer's previous spikes. Here the same idea runs at neuron level on a small,
locally generated video (`bioadapt.tasks.moving_shapes`: squares bouncing on a
G x G grid). All networks have the same shape:

    frame (G*G relays, analog x) -> hidden grid (C channels x G x G neurons) -> readout (G*G `li`)

- input: each hidden neuron reads the 3x3 pixel neighbourhood of its pixel
  (``I_post += weight*x_pre``);
- readout: each output pixel reads all channels of its 3x3 neighbourhood;
- recurrence, four variants with the same number of neurons:
  ``stc``: an autapse per neuron feeds the memory gain (``G_h_post += weight``)
  and the 3x3 x C neighbourhood (without the neuron itself) feeds the input
  gain (``G_x_post += weight``);
  ``stc_k``: as ``stc``, but the memory gain is fed by the whole 3x3 x C
  neighbourhood, autapses included, as the paper's K_h convolution is (twice
  the recurrent weights of the others);
  ``lif``: LIF neurons (exponential Euler, tau_syn = dt, no refractory
  period) with the synapses of ``stc`` (autapses + neighbourhood) adding to
  the input current (``I_post += weight``): exactly as many weights as ``stc``;
  ``lif_v``: ``lif`` plus the lateral synapses of ``stc_k`` kicking the
  voltage (``v_post += weight``): exactly as many weights as ``stc_k``, the
  control for its larger parameter count.
  Per neuron, STC trains its threshold ``theta`` and LIF its ``tau_m``.

All start from the same seeds and distributions where they share a
projection, and train with the same budget (epochs, samples, batch, learning
rate, schedule).

Mapping from the paper's convolutions to synapses: a convolution over a
feature map with kernel k x k is, at neuron level, a set of synapses from the
k x k spatial neighbourhood (all input channels) to each neuron, with one
weight per synapse instead of one shared kernel per channel pair (no weight
sharing: the network has more free weights than the convolution, and edge
pixels have fewer inputs). The paper's K_h (5x5 grouped convolution of the
previous spikes into the memory gain) becomes autapses (``stc``) or 3x3
(not 5x5) neighbourhood synapses (``stc_k``), its K_x lateral 3x3 synapses
into the input gain. The initial weights into G_h are mostly negative
(uniform(-0.5, 0.1)), so that a spike starts by shrinking the memory (without
spikes both gains are 1: the neuron starts as a non-leaky integrator). The
connectivity is written as a Brian2 condition on the neuron indices
(``connect = { condition = ... }``), so the Brian2 network is built with
exactly these pairs. The paper's GroupNorm after
the gate convolutions pools statistics over whole channel groups and has no
synaptic equivalent; it is left out.

Timing: frame t is written into the relays at step t, reaches the hidden grid
at step t + 1 and the readout at step t + 2, so the task is built with
``latency = 2``: the readout at step t predicts frame t - 1 from frames up to
t - 2 (one frame ahead of what it has seen). Baselines: copy the last frame the
readout can have seen (frame t - 2), and predict an empty frame.

Every model is trained for ``--seeds`` seeds (default 5; seed s draws the
data and the batch order, the network draws from s + 5) through
`bioadapt.sweep`: the script writes each model's base files (seed 0) to
``OUT/configs/MODEL/`` and the sweep file ``OUT/sweep.toml`` (a
``[variants.MODEL]`` per model, starting from its own base, and a ``[[list]]``
entry per seed), and runs its points as tasks on dask.distributed
(``--workers`` local processes, default one per core, or the workers of a
running ``--scheduler``) into ``OUT/runs/`` (ignored by git). On its worker,
each point also computes the test MSE in the float64 twin, the baselines, the
hidden spike rate and the parameter count (`extra`). Running the script again
skips the points done and continues interrupted ones. Then the first seed's
trained STC networks are simulated in Brian2 (cpp_standalone,
`bioadapt.train.evaluate`) on test clips and compared spike for spike with
the float64 twin, and the first seed's predictions are drawn::

    python examples/stc_moving_shapes.py --out examples/results/stc_moving_shapes                    # 4 models x 5 seeds
    python examples/stc_moving_shapes.py --full --out examples/results/stc_moving_shapes_full        # 12x12 grid, 8 channels (not run here)
    python examples/stc_moving_shapes.py --scheduler tcp://HOST:8786 --out /shared/stc_moving_shapes  # on a Dask cluster

``--out`` gets ``results.md`` and ``results.json`` (mean ± std over seeds per
model, the values per seed, the points that failed, and for each claim of the
Results the difference of the models' mean test MSE with its standard error,
Welch and paired by seed: `bioadapt.sweep.compare`), ``test_mse.png`` (test
MSE per model, a dot per seed) and ``frames.png``.

Results
-------

This page shows the committed results of that run (``examples/results/stc_moving_shapes/``);
the documentation does not retrain it: 20 points (4 models x 5 seeds) in 12 min on a
LocalCluster of two workers on two cores; ``--full`` (a 12x12 grid) was not run.

.. include:: ../../../examples/results/stc_moving_shapes/results.md
   :parser: myst_parser.sphinx_

.. image:: ../../../examples/results/stc_moving_shapes/test_mse.png
   :alt: test MSE of each model, a dot per seed

.. image:: ../../../examples/results/stc_moving_shapes/frames.png
   :alt: target frames and each model's prediction

With autapses alone feeding the memory gain, STC is worse than LIF with the
same synapses; with the memory gain fed by the neighbourhood, as the paper's
K_h convolution is, it has the lowest error, also against a LIF with as many
weights. With five seeds every one of these differences is separated, across
the seeds (Welch) and paired by seed: the spread between seeds (0.001 to
0.002 in test MSE) is far below the differences (0.003 to 0.026). The trained
STC networks of the first seed run in Brian2 cpp_standalone with spike trains
identical to the float64 twin on all test clips checked (readout difference 0).
"""

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch

from bioadapt.backends.torch import Twin
from bioadapt.sweep import compare, describe, load_sweep, run_sweep
from bioadapt.train import load_train_config
from bioadapt.train.evaluate import evaluate, trained_network

#: scale -> grid side G, channels C, samples, frames per clip, epochs, Brian2 test clips
SCALES = {
    "default": {"grid": 8, "channels": 6, "samples": 1000, "frames": 16, "epochs": 25, "brian_samples": 8},
    "full": {"grid": 12, "channels": 8, "samples": 4000, "frames": 20, "epochs": 60, "brian_samples": 32},
    "smoke": {"grid": 5, "channels": 1, "samples": 20, "frames": 6, "epochs": 1, "brian_samples": 0},
}

NETWORK = """# {title} ({G}x{G} pixels, {C} channel(s) per pixel); generated by examples/stc_moving_shapes.py
dt = "1*ms"
duration = "{T}*ms"
seed = {net_seed}

[populations.enc]
model = "relay"
size = {P}

[populations.hid]
model = "{model}"
size = {N}
{hidden_values}
[populations.out]
model = "li"
size = {P}
[populations.out.values]
tau = "uniform(1*ms, 3*ms)"

[[projections]]
name = "input"                   # 3x3 pixel neighbourhood of the neuron's pixel (j % P)
source = "enc"
target = "hid"
on_pre = "I_post += weight*x_pre"
connect = {{ condition = "abs(i % {G} - (j % {P}) % {G}) <= 1 and abs(i // {G} - (j % {P}) // {G}) <= 1" }}
weight = "uniform(-0.5, 1)"
{recurrence}
[[projections]]
name = "readout"                 # all channels of the 3x3 neighbourhood of the output pixel
source = "hid"
target = "out"
on_pre = "I_post += weight"
connect = {{ condition = "abs((i % {P}) % {G} - j % {G}) <= 1 and abs((i % {P}) // {G} - j // {G}) <= 1" }}
weight = "uniform(-0.1, 0.3)"
"""

NEIGHBOURS = "abs((i % {P}) % {G} - (j % {P}) % {G}) <= 1 and abs((i % {P}) // {G} - (j % {P}) // {G}) <= 1"

LATERAL = """
[[projections]]
name = "lateral"                 # input gain: previous spikes of the 3x3 neighbourhood, all channels
source = "hid"
target = "hid"
on_pre = "G_x_post += weight"
connect = {{ condition = "{neighbours} and i != j" }}
weight = "uniform(-0.3, 0.3)"
"""

STC_RECURRENCE = """
[[projections]]
name = "autapses"                # memory gain: the neuron's own previous spike
source = "hid"
target = "hid"
on_pre = "G_h_post += weight"
connect = "one_to_one"
weight = "uniform(-0.5, 0.1)"
""" + LATERAL

STC_K_RECURRENCE = """
[[projections]]
name = "memory"                  # memory gain: previous spikes of the 3x3 neighbourhood, all channels, itself included
source = "hid"
target = "hid"
on_pre = "G_h_post += weight"
connect = {{ condition = "{neighbours}" }}
weight = "uniform(-0.5, 0.1)"
""" + LATERAL

LIF_RECURRENCE = """
[[projections]]
name = "recurrent"               # the same pairs as STC's autapses + lateral, into the current
source = "hid"
target = "hid"
on_pre = "I_post += weight"
connect = {{ condition = "{neighbours}" }}
weight = "uniform(-0.3, 0.3)"
"""

LIF_V_RECURRENCE = LIF_RECURRENCE + """
[[projections]]
name = "lateral"                 # a second pathway, as stc_k has: the neighbourhood (without itself) kicks the voltage
source = "hid"
target = "hid"
on_pre = "v_post += weight"
connect = {{ condition = "{neighbours} and i != j" }}
weight = "uniform(-0.3, 0.3)"
"""

TRAIN = """# Next-frame prediction of bouncing squares; generated by examples/stc_moving_shapes.py
network = "network.toml"
seed = {seed}

[task]
name = "moving_shapes"
input = "enc.x"
samples = {samples}
height = {G}
width = {G}
frames = {T}
shapes = 2
size = 2
speed = 1
latency = 2

[readout]
population = "out"
variable = "y"
loss = "mse"
ignore_first = 3

[train]
epochs = {epochs}
batch_size = 16
lr = 0.01
clip_grad_norm = 1.0
schedule = "cosine"
surrogate = {{ kind = "exponential", alpha = 5.0, c = 0.4 }}

[train.params.hid]
{hidden_rule}
[train.params.out]
tau = {{ interpolate = ["1*ms", "5*ms"] }}
{weight_rules}
[runtime]
dtype = "float32"
checkpoint_every = 50
threads = 1
"""

#: hidden neurons and their trained per-neuron value
STC_NEURONS = {"model": "stc", "hidden_values": "[populations.hid.values]\ntheta = 1.0\n", "hidden_rule": "theta = { clamp = [0.2, 3.0] }"}
LIF_NEURONS = {
    "model": "lif",
    "hidden_values": 'scheme = "exponential_euler"\n[populations.hid.values]\ntau_m = "uniform(2*ms, 10*ms)"\ntau_syn = "1*ms"\nt_ref = "0*ms"\n',
    "hidden_rule": 'tau_m = { interpolate = ["1*ms", "20*ms"] }',
}

MODELS = {
    "stc": {
        "title": "STC grid: autapses -> memory gain, lateral synapses -> input gain",
        **STC_NEURONS,
        "recurrence": STC_RECURRENCE,
        "projections": ("input", "autapses", "lateral", "readout"),
    },
    "stc_k": {
        "title": "STC grid, the paper's K_h: 3x3 neighbourhood (autapses included) -> memory gain, lateral -> input gain",
        **STC_NEURONS,
        "recurrence": STC_K_RECURRENCE,
        "projections": ("input", "memory", "lateral", "readout"),
    },
    "lif": {
        "title": "LIF grid: the same synapses, recurrence into the input current",
        **LIF_NEURONS,
        "recurrence": LIF_RECURRENCE,
        "projections": ("input", "recurrent", "readout"),
    },
    "lif_v": {
        "title": "LIF grid with a second recurrent pathway into v: as many weights as stc_k",
        **LIF_NEURONS,
        "recurrence": LIF_V_RECURRENCE,
        "projections": ("input", "recurrent", "lateral", "readout"),
    },
}


def write_configs(model: str, scale: dict, folder: Path, seed: int = 0) -> Path:
    """The network and training files of one model at one scale; returns the training file.

    ``seed`` seeds the data and batch order; the network draws from ``seed + 5``.
    """
    m = MODELS[model]
    g, c = scale["grid"], scale["channels"]
    sizes = {"G": g, "C": c, "P": g * g, "N": c * g * g, "T": scale["frames"]}
    neighbours = NEIGHBOURS.format(**sizes)
    recurrence = m["recurrence"].format(neighbours=neighbours)
    network = NETWORK.format(title=m["title"], model=m["model"], hidden_values=m["hidden_values"], recurrence=recurrence, net_seed=seed + 5, **sizes)
    weight_rules = "".join(f"[train.params.{p}]\nweight = {{}}\n" for p in m["projections"])
    train = TRAIN.format(samples=scale["samples"], epochs=scale["epochs"], hidden_rule=m["hidden_rule"], weight_rules=weight_rules, seed=seed, **sizes)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "network.toml").write_text(network)
    (folder / "train.toml").write_text(train)
    return folder / "train.toml"


def predict_test(config, params_path) -> tuple:
    """Float64 twin on the test split: readout (steps, samples, pixels), targets, inputs, spikes per neuron and step."""
    spec, data = trained_network(config, params_path)
    idx = data.subset("test")
    twin = Twin(spec, drive_vars={"enc": ["x"]}, dtype=torch.float64, synapses="dense")
    x = torch.as_tensor(np.ascontiguousarray(data.x[idx].transpose(1, 0, 2)))
    with torch.no_grad():
        out = twin(drive={"enc": {"x": x}}, record={"out": ["y"]})
    y = out.traces["out"]["y"].numpy()
    rate = float(out.spikes["hid"].numpy().mean())
    return y, data.target[idx].transpose(1, 0, 2), data.x[idx].transpose(1, 0, 2), rate


def parameter_count(config) -> int:
    """Trained numbers: every synaptic weight plus the per-neuron values named in [train.params]."""
    spec = config.network
    sizes = {p.name: p.size for p in spec.projections}
    sizes.update({name: pop.size for name, pop in spec.populations.items()})
    return int(sum(sizes[rule.owner] for rule in config.train.params))


def figure(path: Path, frames: dict, grid: int, steps: list):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(frames)
    fig, axes = plt.subplots(len(rows), len(steps), figsize=(1.3 * len(steps), 1.4 * len(rows)), squeeze=False)
    for r, name in enumerate(rows):
        for c, k in enumerate(steps):
            ax = axes[r][c]
            ax.imshow(frames[name][k].reshape(grid, grid), vmin=0, vmax=1, cmap="gray_r")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"step {k}", fontsize=8)
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
    fig.suptitle("test clip: true frame t-1 vs readout at step t (frames <= t-2 seen)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: the claims of the Results, as (a, b, what differs): is test MSE(a) - test MSE(b) beyond the spread over seeds?
CLAIMS = [
    ("stc", "lif", "the same synapses: autapses into STC's memory gain, into LIF's current"),
    ("stc_k", "stc", "the memory gain fed by the neighbourhood instead of autapses"),
    ("stc_k", "lif", "STC with the paper's K_h against LIF"),
    ("stc_k", "lif_v", "as many weights"),
    ("lif_v", "lif", "LIF's second recurrent pathway, into v"),
]


def write_sweep(out: Path, scale: dict, seeds: int) -> Path:
    """Every model's base files (seed 0) in ``OUT/configs/MODEL/`` and the sweep file ``OUT/sweep.toml`` naming them."""
    lines = ["# Next-frame prediction of bouncing squares, every model and seed; generated by examples/stc_moving_shapes.py",
             'steps = ["train"]                        # test metrics: extra() in examples/stc_moving_shapes.py',
             'replicates = ["seed", "network.seed"]', 'metric = "test_mse"', ""]
    for seed in range(seeds):  # the seed draws data and batch order, the network draws from seed + 5
        lines += ["[[list]]", f"seed = {seed}", f'"network.seed" = {seed + 5}', ""]
    for model in MODELS:
        write_configs(model, scale, out / "configs" / model)
        lines += [f"[variants.{model}]", f'base = "configs/{model}/train.toml"', ""]
    (out / "sweep.toml").write_text("\n".join(lines))
    return out / "sweep.toml"


def extra(trainer, folder) -> dict:
    """The example's columns of a point's row (run on the Dask worker): float64 test MSE, its baselines, spikes, sizes."""
    config = trainer.config
    y, target, x, rate = predict_test(config, Path(folder) / "params.json")
    k0 = config.readout.ignore_first
    return {
        "hidden_neurons": config.network.populations["hid"].size,
        "trained_parameters": parameter_count(config),
        "test_mse": float(np.mean((y[k0:] - target[k0:]) ** 2)),
        "copy_last_frame_mse": float(np.mean((x[k0 - 2:-2] - target[k0:]) ** 2)),  # frame t-2, the last one the readout can have seen at step t
        "zeros_mse": float(np.mean(target[k0:] ** 2)),
        "hidden_spikes_per_neuron_step": rate,
        "valid_mse_per_epoch": [r["valid_loss"] for r in trainer.history],
    }


def brian_check(folder: Path, files: str, samples: int) -> dict:
    """Brian2 cpp_standalone against the float64 twin on a trained point's first test clips (kept in ``brian.json`` for the point's files)."""
    path = folder / "brian.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("files") == files and old.get("max_samples") == samples:
            return old
    ev = evaluate(load_train_config(folder / "train.toml"), folder / "params.json", backend="cpp_standalone", split="test", max_samples=samples, directory=str(folder / "brian"))
    check = {k: ev[k] for k in ("backend", "samples", "identical_spike_trains", "spikes_twin", "spikes_brian", "max_readout_difference")}
    check.update(mse_twin=ev["twin"]["loss"], mse_brian=ev["brian"]["loss"], files=files, max_samples=samples)
    path.write_text(json.dumps(check, indent=1))
    return check


def write_table(out: Path, scale_name: str, scale: dict, seeds: int, rows: list, claims: list, brian: dict) -> str:
    """``results.md`` from the sweep's rows; returns its text."""
    done = {m: sorted((r for r in rows if r["variant"] == m and r["status"] == "done"), key=lambda r: r["seed"]) for m in MODELS}

    def spread(m, key, digits):
        v = [r[key] for r in done[m]]
        return f"{np.mean(v):.{digits}f} ± {np.std(v):.{digits}f}" if v else "-"

    lines = [
        f"Scale `{scale_name}`: {scale['grid']}x{scale['grid']} grid, {scale['channels']} channel(s) per pixel, {scale['samples']} clips of {scale['frames']} frames (80/10/10 split), {scale['epochs']} epochs; "
        f"seeds 0 to {seeds - 1} (data, batch order; the network draws from seed + 5), the same for every model, run with `bioadapt.sweep` (`sweep.toml`).",
        "",
        "Target at step t: frame t-1; the readout has seen frames up to t-2 (latency 2). Baselines: copy the last frame seen (t-2), predict an empty frame. "
        "MSE per pixel over steps >= 3 of the test clips, float64 twin; mean ± std over seeds (ddof 0).",
        "",
        "| model | seeds done | hidden neurons | trained parameters | test MSE | copy-last-frame MSE | all-zeros MSE | hidden spikes / neuron / step | train s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in MODELS:
        first = done[m][0] if done[m] else {}
        lines.append(f"| {m} | {len(done[m])} | {first.get('hidden_neurons', '-')} | {first.get('trained_parameters', '-')} | {spread(m, 'test_mse', 4)} | {spread(m, 'copy_last_frame_mse', 4)} | "
                     f"{spread(m, 'zeros_mse', 4)} | {spread(m, 'hidden_spikes_per_neuron_step', 3)} | {spread(m, 'train_seconds', 0)} |")
    lines += ["", "Test MSE per seed:", ""] + [f"- {m}: " + ", ".join(f"{r['test_mse']:.4f}" for r in done[m]) for m in MODELS if done[m]]
    failed = [r for r in rows if r["status"] != "done"]
    if failed:
        lines += ["", f"{len(failed)} point(s) failed:", ""] + [f"- `{r['point']}`: {r['error']}" for r in failed]
    lines += ["", "Differences of the test MSE (a difference is separated when it exceeds two standard errors):", ""]
    lines += [f"- {what}: {describe(c, 4)}" for (_, _, what), c in zip(CLAIMS, claims)]
    for m, b in brian.items():
        lines += ["", f"Brian2 {b['backend']} vs float64 twin ({m}, seed {done[m][0]['seed']}, {b['samples']} test clips): identical spike trains in {b['identical_spike_trains']:.0%} of clips, "
                      f"{b['spikes_brian']} vs {b['spikes_twin']} spikes, largest readout difference {b['max_readout_difference']:.3g}, MSE {b['mse_brian']:.6f} (Brian2) vs {b['mse_twin']:.6f} (twin)."]
    text = "\n".join(lines) + "\n"
    (out / "results.md").write_text(text)
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="stc_moving_shapes")
    parser.add_argument("--full", action="store_true", help="larger grid, more channels, samples and epochs")
    parser.add_argument("--smoke", action="store_true", help="tiny run that only checks the pipeline (no Brian2)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 to N-1 per model (data and batch order; the networks draw from seed + 5)")
    parser.add_argument("--workers", type=int, default=None, help="local Dask workers (default: one per core)")
    parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (its workers must see --out)")
    args = parser.parse_args()
    scale_name = "full" if args.full else "smoke" if args.smoke else "default"
    scale = SCALES[scale_name]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = out / "runs"
    result = run_sweep(load_sweep(write_sweep(out, scale, args.seeds)), runs, workers=args.workers, scheduler=args.scheduler, extra=extra)
    rows = result.rows
    claims = [compare(rows, "test_mse", a, b) for a, b, _ in CLAIMS]

    # the first seed's trained networks: Brian2 against the twin, and the figure
    torch.set_num_threads(1)
    first = {m: min((r for r in rows if r["variant"] == m and r["status"] == "done"), key=lambda r: r["seed"], default=None) for m in MODELS}
    brian = {m: brian_check(runs / r["point"], r["files"], scale["brian_samples"]) for m, r in first.items() if r and MODELS[m]["model"] == "stc" and scale["brian_samples"]}
    (out / "results.json").write_text(json.dumps({"scale": scale_name, **scale, "seeds": args.seeds, "sweep": "sweep.toml", "rows": rows, "claims": claims, "brian": brian}, indent=1))
    print(write_table(out, scale_name, scale, args.seeds, rows, claims, brian))
    if (runs / "summary.png").is_file():
        shutil.copyfile(runs / "summary.png", out / "test_mse.png")  # the sweep's figure: test MSE per model, a dot per seed
    seed = min((r["seed"] for r in first.values() if r), default=None)
    shown = {}
    for m, r in first.items():
        if r and r["seed"] == seed:
            config = load_train_config(runs / r["point"] / "train.toml")
            y, target, x, _ = predict_test(config, runs / r["point"] / "params.json")
            shown.setdefault("true frame t-1", target[:, 0])
            shown.setdefault("frame t-2 (copy)", x[:, 0][np.maximum(np.arange(len(x)) - 2, 0)])
            shown[f"{m} readout"] = y[:, 0]
    if shown:
        figure(out / "frames.png", shown, scale["grid"], list(range(config.readout.ignore_first, scale["frames"])))


if __name__ == "__main__":
    main()
