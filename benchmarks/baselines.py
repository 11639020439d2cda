"""Reference implementations the twin is measured against.

`HandWritten` is the benchmark network (see `common.adlif_network`) written
directly in eager PyTorch, as one would write it by hand for speed: decay
factors computed once per forward, the input projection of the whole sequence
as one matrix product, one matrix product per pathway and step, the same
surrogate (the SE-adLIF paper's exponential kernel) and the same schedule as
the program Brian2 generates (update with last step's input, threshold, input
of this step's spikes, reset, then the SE update of ``w``). Its parameters are
copied from a twin, so both compute the same function (up to rounding, checked
by `training_step.py`).

`SnnTorchNet` is the closest snnTorch network: the same layer sizes with
recurrent leaky neurons (``snn.RLeaky``, all-to-all recurrence, per-neuron
trainable decay, reset to zero) and a leaky readout, written as in the
snnTorch tutorials (one call per layer and step). snnTorch has no adaptive
neuron with a second state variable, so it does less work per neuron.
"""

from __future__ import annotations

import torch
from torch import nn


class _SpikeFn(torch.autograd.Function):
    """Heaviside forward, SLAYER-style exponential surrogate backward (alpha 5, c 0.4)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (0.5 * 0.4 * 5.0) * torch.exp(-5.0 * x.abs())


def _matrix(twin, projection: str) -> torch.Tensor:
    syn = twin.program.synapses[projection]
    n_pre, n_post = twin.program.sizes[syn["source"]], twin.program.sizes[syn["target"]]
    w = torch.zeros(n_pre, n_post, dtype=twin.float_dtype)
    w[torch.as_tensor(syn["i"]), torch.as_tensor(syn["j"])] = twin.params[projection]["weight"].detach()
    return w


def _products(spikes, matrices):
    return [spikes @ m for m in matrices]


def _event_products(spikes, matrices):
    """The twin's event-driven products (`bioadapt.backends.torch.events`),
    the events found once for all matrices, as the twin does."""
    from bioadapt.backends.torch.events import Events, pays, spike_product

    found = Events.find(spikes.reshape(-1, spikes.shape[-1]), binary=True) if any(pays(spikes, m) for m in matrices) else None
    return [spike_product(spikes, m, True, found) if found is not None and pays(spikes, m) else spikes @ m for m in matrices]


class HandWritten(nn.Module):
    """The benchmark network in plain eager PyTorch, parameters copied from ``twin``.

    ``form="natural"`` writes the SE-adLIF update as one would by hand
    (``u = alpha*u + (1 - alpha)*(I - w)``, a multiplicative reset,
    ``w = beta*w + (1 - beta)*a*u + (1 - beta)*b*s`` with the gains
    multiplied once); ``form="program"`` writes, by hand, the very
    expressions of the program Brian2 generates for the ``symplectic_euler``
    scheme and that the twin executes (``_decay_u := exp(-dt/tau_u);
    u = _decay_u*u + (1 - _decay_u)*(I - w)``, the reset as a select,
    ``w = _decay_w*w + (1 - _decay_w)*(a*u + b*z)``), with the same hoisting
    of time-constant factors: the limit of eager PyTorch for that program,
    which separates the cost of the twin's generality from the cost of the
    expression form. ``events=True`` (natural form) multiplies spikes with
    weights as the twin's dense pathways do, from the spikes' events
    (`bioadapt.backends.torch.events`): the same algorithm, for the cost of
    generality alone.
    """

    def __init__(self, twin, form: str = "natural", events: bool = False):
        super().__init__()
        if form not in ("natural", "program"):
            raise ValueError(f"form must be 'natural' or 'program', got {form!r}")
        if events and form != "natural":
            raise ValueError("events=True is written for the natural form")
        self.form = form
        self.events = events
        self.layers = [g for g in ("h1", "h2", "h3", "h4") if g in twin.program.sizes]
        self.dt = twin.program.dt
        p = nn.ParameterDict()
        for g in self.layers:
            for var in ("tau_u", "tau_w", "a", "b", "theta"):
                p[f"{g}_{var}"] = nn.Parameter(twin.params[g][var].detach().clone())
        p["out_tau"] = nn.Parameter(twin.params["out"]["tau"].detach().clone())
        source = "inp"
        for g in self.layers:
            p[f"{g}_w_in"] = nn.Parameter(_matrix(twin, f"{source}_to_{g}"))
            p[f"{g}_w_rec"] = nn.Parameter(_matrix(twin, f"rec_{g}"))
            source = g
        p["w_out"] = nn.Parameter(_matrix(twin, f"{source}_to_out"))
        self.p = p

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list]:
        """``x (T, B, n_in)`` -> readout ``y (T, B, n_out)`` and spikes per layer."""
        if self.form == "program":
            return self._forward_program(x)
        p, dt = self.p, self.dt
        T, B, _ = x.shape
        n_layers = len(self.layers)
        # everything constant over time computed once
        alpha = [torch.exp(-dt / p[f"{g}_tau_u"]) for g in self.layers]
        beta = [torch.exp(-dt / p[f"{g}_tau_w"]) for g in self.layers]
        gain_u = [1 - a for a in alpha]
        gain_a = [(1 - bt) * p[f"{g}_a"] for bt, g in zip(beta, self.layers)]
        gain_b = [(1 - bt) * p[f"{g}_b"] for bt, g in zip(beta, self.layers)]
        theta = [p[f"{g}_theta"] for g in self.layers]
        w_in = [p[f"{g}_w_in"] for g in self.layers]
        w_rec = [p[f"{g}_w_rec"] for g in self.layers]
        alpha_o = torch.exp(-dt / p["out_tau"])
        gain_o = 1 - alpha_o
        # input projection of all steps at once; unbind, not x_in[k]: the
        # backward of indexing would build a (T, B, N) gradient per step
        product = _event_products if self.events else _products
        x_in = product(x, [w_in[0]])[0].unbind(0)
        zeros = [x.new_zeros(B, w.shape[1]) for w in w_in]
        u, w, current = list(zeros), list(zeros), list(zeros)
        y = current_o = x.new_zeros(B, p["w_out"].shape[1])
        ys, spikes = [], [[] for _ in self.layers]
        for k in range(T):
            # SE-adLIF step: u with last step's input and the old w, threshold,
            # this step's spikes into the inputs, reset (spike detached), then w
            for n in range(n_layers):
                u[n] = alpha[n] * u[n] + gain_u[n] * (current[n] - w[n])
            y = alpha_o * y + gain_o * current_o
            s = [_SpikeFn.apply(u[n] - theta[n]) for n in range(n_layers)]
            # each layer's spikes times its outgoing matrices
            out = [product(s[n], [w_rec[n], w_in[n + 1] if n + 1 < n_layers else p["w_out"]]) for n in range(n_layers)]
            for n in range(n_layers):
                current[n] = (x_in[k] if n == 0 else out[n - 1][1]) + out[n][0]
            current_o = out[-1][1]
            for n in range(n_layers):
                u[n] = u[n] * (1 - s[n].detach())  # reset to u_rest = 0
                w[n] = beta[n] * w[n] + gain_a[n] * u[n] + gain_b[n] * s[n]
                spikes[n].append(s[n])
            ys.append(y)
        return torch.stack(ys), [torch.stack(v) for v in spikes]

    def _forward_program(self, x: torch.Tensor) -> tuple[torch.Tensor, list]:
        p, dt = self.p, self.dt
        T, B, _ = x.shape
        n_layers = len(self.layers)
        a = [p[f"{g}_a"] for g in self.layers]
        b = [p[f"{g}_b"] for g in self.layers]
        theta = [p[f"{g}_theta"] for g in self.layers]
        w_in = [p[f"{g}_w_in"] for g in self.layers]
        w_rec = [p[f"{g}_w_rec"] for g in self.layers]
        decay_u = [torch.exp(-dt / p[f"{g}_tau_u"]) for g in self.layers]
        decay_w = [torch.exp(-dt / p[f"{g}_tau_w"]) for g in self.layers]
        gain_u = [1.0 - d for d in decay_u]
        gain_w = [1.0 - d for d in decay_w]
        decay_o = torch.exp(-dt / p["out_tau"])
        gain_o = 1.0 - decay_o
        x_in = (x @ w_in[0]).unbind(0)
        zeros = [x.new_zeros(B, w.shape[1]) for w in w_in]
        u, w, current = list(zeros), list(zeros), list(zeros)
        y = current_o = x.new_zeros(B, p["w_out"].shape[1])
        ys, spikes = [], [[] for _ in self.layers]
        for k in range(T):
            for n in range(n_layers):
                u[n] = decay_u[n] * u[n] + gain_u[n] * (current[n] - w[n])
            y = decay_o * y + gain_o * current_o
            s = [_SpikeFn.apply(u[n] - theta[n]) for n in range(n_layers)]
            for n in range(n_layers):
                feed = x_in[k] if n == 0 else s[n - 1] @ w_in[n]
                current[n] = feed + s[n] @ w_rec[n]
            current_o = s[-1] @ p["w_out"]
            for n in range(n_layers):
                u[n] = torch.where(s[n].detach() > 0, 0.0, u[n])
                w[n] = decay_w[n] * w[n] + gain_w[n] * (a[n] * u[n] + b[n] * s[n])
                spikes[n].append(s[n])
            ys.append(y)
        return torch.stack(ys), [torch.stack(v) for v in spikes]


class SnnTorchNet(nn.Module):
    """Recurrent leaky network of the same size in snnTorch (tutorial style)."""

    def __init__(self, n_in: int, hidden: tuple, n_out: int, seed: int = 0):
        super().__init__()
        import snntorch as snn

        torch.manual_seed(seed)
        sizes = [n_in, *hidden]
        self.fc = nn.ModuleList(nn.Linear(sizes[k], sizes[k + 1]) for k in range(len(hidden)))
        self.lif = nn.ModuleList(
            snn.RLeaky(beta=torch.empty(n).uniform_(0.8, 0.96), learn_beta=True, linear_features=n, reset_mechanism="zero") for n in hidden
        )
        self.fc_out = nn.Linear(hidden[-1], n_out)
        self.readout = snn.Leaky(beta=torch.full((n_out,), 0.93), learn_beta=True, reset_mechanism="none")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list]:
        state = [lif.reset_mem() for lif in self.lif]
        mem_out = self.readout.reset_mem()
        ys, spikes = [], [[] for _ in self.lif]
        for k in range(x.shape[0]):
            h = x[k]
            for n, (fc, lif) in enumerate(zip(self.fc, self.lif)):
                spk, mem = lif(fc(h), *state[n])
                state[n] = (spk, mem)
                spikes[n].append(spk)
                h = spk
            _, mem_out = self.readout(self.fc_out(h), mem_out)
            ys.append(mem_out)
        return torch.stack(ys), [torch.stack(v) for v in spikes]


def benchmark_models(spec, n_in: int, hidden: tuple, snntorch: bool = True) -> tuple[dict, list]:
    """The models of the training-step comparison, in float32: the twin
    (``synapses="dense"``; exact and compiled execution), the hand-written loops built from it (natural,
    program form, with the twin's event products) and, if installed and
    asked for, snnTorch. The hand-written loops reset to the constant 0 and
    have no ``u_rest`` to train, so the twin's ``u_rest`` are frozen (listed
    in the second value) and all models train the same parameters."""
    from bioadapt.backends.torch import Twin

    twin = Twin(spec, dtype=torch.float32, synapses="dense")
    compiled = Twin(spec, dtype=torch.float32, synapses="dense", execution="compiled")
    compiled.load_state_dict(twin.state_dict())
    models = {
        "twin": twin,
        "twin, compiled": compiled,
        "hand-written": HandWritten(twin),
        "hand-written, program form": HandWritten(twin, form="program"),
        "hand-written, event products": HandWritten(twin, events=True),
    }
    frozen = [f"{g}.u_rest" for g in models["hand-written"].layers]
    for name in frozen:
        pop, var = name.split(".")
        for model in (twin, compiled):
            model.params[pop][var].requires_grad_(False)
    if snntorch:
        try:
            models["snntorch"] = SnnTorchNet(n_in, tuple(hidden), 20)
        except ImportError:
            print("snntorch is not installed: skipped (pip install --no-deps snntorch)")
    return models, frozen
