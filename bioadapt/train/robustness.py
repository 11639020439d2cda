"""A trained network's accuracy (or NMSE) in the twin under perturbations of its
values (`bioadapt.analysis.perturb`), under input spikes flipped with a
probability, and at a finer dt (`bioadapt.network.at_dt`)."""

from __future__ import annotations

import numpy as np

from ..analysis.heterogeneity import perturb
from ..errors import ConfigError
from ..network.retime import at_dt

__all__ = ["robustness"]


def robustness(config, params_path, targets, relative=(0.0, 0.05, 0.1, 0.2), input_flip=(0.0,), split: str = "test", max_samples: int | None = None, seeds=(0,), dtype=None, refine=(1,), timing: str = "trained") -> list:
    """Twin accuracy (or NMSE) of a trained network under value perturbations, input noise and a finer dt.

    ``targets`` is a list of ``(owner, [variables])`` perturbed together by each
    ``relative`` level; ``input_flip`` flips each input spike bit with that
    probability (spike inputs only); each ``refine`` factor k runs the network
    at ``dt/k`` (`bioadapt.network.at_dt` with ``timing``: the same physics,
    one-step inputs with their charge, delays in the new steps, each input
    spike at its original time) and reads the readout at the end of every
    original step. A finer dt is refused for networks defined per step (see
    `per_step_values`). Returns one row per (relative, flip, refine, seed).
    """
    import torch

    from ..backends.torch import Twin
    from ..train.data import batches, twin_inputs
    from ..train.evaluate import trained_network
    from ..train.losses import score

    spec, data = trained_network(config, params_path)
    idx = data.subset(split)[:max_samples] if max_samples else data.subset(split)
    dtype = dtype or torch.float64
    if any(k != 1 for k in refine):
        if any(not (isinstance(k, int) and k >= 1) for k in refine):
            raise ConfigError(f"robustness: refine factors must be whole numbers >= 1, got {list(refine)}.")
        if config.task.input_variable is not None:
            raise ConfigError(f"robustness: a finer dt needs spike input; '{config.task.input}' is driven with one value per step.")
        at_dt(spec, spec.dt / max(refine), timing=timing)  # refuses a network defined per step, before any run
    task, readout = config.task, config.readout
    rows = []
    for level in relative:
        for flip in input_flip:
            for k, seed in [(k, seed) for k in refine for seed in seeds]:
                s = spec
                for owner, variables in targets:
                    s = perturb(s, owner, variables, level, seed=seed) if level else s
                s = at_dt(s, s.dt / k, timing=timing) if k != 1 else s
                twin = Twin(s, drive_vars={task.input_population: [task.input_variable]} if task.input_variable else None, dtype=dtype, synapses="dense")
                rng = np.random.default_rng([int(seed), 17])
                ys = []
                with torch.no_grad():
                    for chunk in batches(idx, config.runtime.eval_batch_size, None):
                        x = data.x[chunk].transpose(1, 0, 2).astype(np.float64)
                        if flip:
                            if task.input_variable is not None:
                                raise ConfigError("robustness: input_flip applies to spike inputs.")
                            x = np.where(rng.random(x.shape) < flip, 1 - x, x)
                        if k != 1:  # each spike at its time, in the first of the k fine steps
                            fine = np.zeros((x.shape[0] * k,) + x.shape[1:])
                            fine[::k] = x
                            x = fine
                        xt = torch.as_tensor(x, dtype=dtype)
                        inputs, drive = twin_inputs(config, xt)
                        out = twin(inputs=inputs, drive=drive, record={readout.population: [readout.variable]})
                        y = out.traces[readout.population][readout.variable].to(torch.float64)
                        ys.append(y[k - 1::k])  # at the end of every original step
                y = torch.cat(ys, dim=1)
                target = data.y[idx] if data.kind == "classification" else data.target[idx].transpose(1, 0, 2)
                rows.append({"relative": level, "input_flip": flip, "refine": k, "dt": s.dt, "seed": seed, **score(readout.loss, y, torch.as_tensor(target), readout.ignore_first)})
    return rows
