"""What `Twin.forward` is given, checked once with one error naming the key."""

from __future__ import annotations

import torch

from ...errors import BackendError

__all__ = ["capturing", "check_forward"]


def capturing(device: torch.device) -> bool:
    """Whether ``device``'s current CUDA stream is being captured into a CUDA
    graph (`CudaGraphStep`): nothing may be read back to the host then."""
    return device.type == "cuda" and torch.cuda.is_current_stream_capturing()


def _tensor(value, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise BackendError(f"{what}: expected a torch tensor (n_steps, batch, size), got {type(value).__name__} (torch.as_tensor converts numpy arrays).")
    if value.dim() != 3:
        raise BackendError(f"{what}: expected a tensor (n_steps, batch, size), got shape {tuple(value.shape)}.")
    # a finite sum (one cheap pass) proves every entry finite; else look closer.
    # Not while a CUDA graph is captured (nothing can be read back then):
    # `CudaGraphStep` checks each call's tensors as it copies them in
    if value.is_floating_point() and not capturing(value.device) and not bool(torch.isfinite(value.detach().sum())) and not bool(torch.isfinite(value.detach()).all()):
        raise BackendError(f"{what}: contains NaN or infinite values.")
    return value


def check_forward(twin, inputs: dict, drive: dict, state: dict | None, record: dict, n_steps: int | None, start_step) -> tuple[int, int]:
    """Check the arguments of ``twin.forward``; return ``(batch, n_steps)``.

    Inputs and drives are ``(n_steps, batch, size)`` tensors of known input
    populations and declared drive variables, one for each of them, all of one batch size and at
    least ``n_steps`` long; ``state`` holds only the twin's state variables
    and spike histories, at that batch size; ``record`` names neuron
    populations or projections; ``start_step`` is a non-negative integer.
    """
    sizes = twin.program.sizes
    arrays = []
    for pop, x in inputs.items():
        if pop not in twin.layout.generators:
            raise BackendError(f"inputs: '{pop}' is not an input population ({', '.join(sorted(twin.layout.generators)) or 'none'}).")
        arrays.append((f"inputs['{pop}']", _tensor(x, f"inputs['{pop}']"), sizes[pop]))
    for pop, variables in drive.items():
        for var, v in variables.items():
            if var not in twin.drive_vars.get(pop, []):
                raise BackendError(f"drive for '{pop}.{var}' was not declared when the twin was built (drive_vars).")
            arrays.append((f"drive['{pop}']['{var}']", _tensor(v, f"drive['{pop}']['{var}']"), sizes[pop]))
    for what, x, size in arrays:
        if x.shape[2] != size:
            raise BackendError(f"{what}: the population has {size} neurons, the tensor's last dimension is {x.shape[2]}.")
    if len({x.shape[1] for _, x, _ in arrays}) > 1 or len({x.shape[0] for _, x, _ in arrays}) > 1:
        raise BackendError(f"inputs and drives disagree on (n_steps, batch): {', '.join(f'{w} {tuple(x.shape[:2])}' for w, x, _ in arrays)}.")
    if n_steps is not None and (isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1):
        raise BackendError(f"n_steps must be a positive integer, got {n_steps!r}.")
    if arrays:
        length, batch = arrays[0][1].shape[:2]
        if n_steps is not None and n_steps > length:
            raise BackendError(f"n_steps = {n_steps}, but the inputs hold {length} steps.")
    else:
        length = twin.spec.n_steps
        batch = None
    if isinstance(start_step, bool) or not isinstance(start_step, int) or start_step < 0:
        raise BackendError(f"start_step must be a non-negative integer, got {start_step!r}.")
    if state:
        known = set(twin.program.written) | {("_history", g) for g in twin.program.spiking}
        for key, value in state.items():
            if key not in known:
                raise BackendError(f"state: {key!r} is not a state of this twin (use initial_state() or a previous output's state).")
            if key[0] == "_history":
                depth = twin.layout.max_delay.get(key[1], 0) + 1
                expected = (depth, batch if batch is not None else value.shape[1], sizes[key[1]])
            else:
                expected = (batch if batch is not None else value.shape[0], value.shape[1] if value.dim() == 2 and value.shape[1] == 1 else sizes[key[0]])
            if tuple(value.shape) != expected:
                raise BackendError(f"state {key!r}: expected shape {expected}, got {tuple(value.shape)} (a state of another twin or batch size?).")
            if batch is None:
                batch = value.shape[1] if key[0] == "_history" else value.shape[0]
    for block in twin.program.blocks:
        if block.kind == "generator" and block.group not in inputs:
            raise BackendError(f"no input spikes given for input population '{block.group}'.")
        if block.kind == "drive" and block.drive_var not in drive.get(block.group, {}):
            raise BackendError(f"drive for '{block.group}.{block.drive_var}' is missing in forward().")
    return (batch if batch is not None else 1), (n_steps if n_steps is not None else length)
