"""The one place that touches Brian2's global device and preferences.

Brian2 keeps its target device and preferences in module-level state. Every
other part of bioadapt goes through `brian_device`, which selects a device for
the duration of a ``with`` block and restores the runtime device and the
preferences it changed afterwards, so that a process can build several networks
on different devices in turn. What cuda_standalone needs is found by `cuda.py`
and applied here.

Brian2's random numbers (``rand()``, ``randn()``, ``xi``) come from a
generator seeded here from the network's ``seed``: on the numpy runtime
Brian2 draws from numpy's global generator, whose state is saved before and
restored after the block; a standalone project gets Brian2's seed call in its
``main`` (compiled in, so every rerun of the binary draws the same numbers).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile

from brian2 import BrianLogger, prefs, set_device
from brian2.devices.device import reset_device, get_device

from ...errors import BackendError
from ..registry import BACKENDS

__all__ = ["brian_device", "new_build", "latest_build", "FAITHFUL_GCC_FLAGS", "FAST_GCC_FLAGS", "FAITHFUL_NVCC_FLAGS", "FAST_NVCC_FLAGS", "BRIAN_TARGETS"]

#: Flags for bit-faithful C++: no fast math, no fused multiply-add contraction.
FAITHFUL_GCC_FLAGS = ["-w", "-O3", "-fno-fast-math", "-ffp-contract=off", "-std=c++11"]
#: Brian2's own defaults (fast math): faster, but results differ in the last bits.
FAST_GCC_FLAGS = ["-w", "-O3", "-ffast-math", "-fno-finite-math-only", "-march=native", "-std=c++11"]

#: CUDA 13's Thrust and CUB need C++17, for nvcc and for the host compiler.
#: Brian2CUDA 1.0a7's makefile template writes ``-std=c++11`` before these
#: flags; nvcc uses the last ``-std`` (with a warning, "incompatible
#: redefinition for option 'std'", in make's output), so a preference is
#: enough and no template is patched.
CUDA_STD = "-std=c++17"
#: nvcc without fast math and without fused multiply-add contraction.
FAITHFUL_NVCC_FLAGS = ["-w", CUDA_STD, "--fmad=false"]
#: Brian2CUDA's own default (fast math).
FAST_NVCC_FLAGS = ["-w", CUDA_STD, "-use_fast_math"]

#: Brian2 device targets (the registry's backends that run in Brian2)
BRIAN_TARGETS = tuple(b.brian_target for b in BACKENDS.values() if b.brian_target is not None)

prefs.logging.file_log = False
prefs.logging.delete_log_on_exit = True
# The twin builds Brian2 objects only to read their code and never runs them.
BrianLogger.suppress_name("unused_brian_object")


#: builds per standalone target in this process (Brian2 keeps one device per
#: target, so only the project built last can run): `new_build`, `latest_build`
_BUILDS: dict = {}


def new_build(target: str) -> int:
    """Count one more standalone build of ``target`` in this process; its number."""
    _BUILDS[target] = _BUILDS.get(target, 0) + 1
    return _BUILDS[target]


def latest_build(target: str) -> int:
    """The number of the last standalone build of ``target`` in this process (0: none)."""
    return _BUILDS.get(target, 0)


def _cuda_preferences(cuda, fast_math: bool, folder: str) -> dict:
    """Brian2 preference values for a cuda_standalone project in ``folder``."""
    from .cuda import ASSUMED_CUDA_VERSION, curand_link

    host = [CUDA_STD if flag.startswith("-std=") else flag for flag in (FAST_GCC_FLAGS if fast_math else FAITHFUL_GCC_FLAGS)]
    toolkit = cuda.toolkit
    values = {
        # bioadapt finds the GPU and the toolkit itself (cuda.py): Brian2CUDA's
        # detection needs a GPU and deviceQuery
        "devices.cuda_standalone.cuda_backend.detect_gpus": False,
        "devices.cuda_standalone.cuda_backend.detect_cuda": False,
        "devices.cuda_standalone.cuda_backend.gpu_id": 0,  # the first of CUDA_VISIBLE_DEVICES
        "devices.cuda_standalone.cuda_backend.compute_capability": cuda.compute_capability,
        "devices.cuda_standalone.cuda_backend.cuda_path": toolkit.path if toolkit else "/usr/local/cuda",
        "devices.cuda_standalone.cuda_backend.cuda_runtime_version": toolkit.version if toolkit else ASSUMED_CUDA_VERSION,
        # a fresh list: Brian2CUDA removes architecture flags from it in place
        "devices.cuda_standalone.cuda_backend.extra_compile_args_nvcc": list(FAST_NVCC_FLAGS if fast_math else FAITHFUL_NVCC_FLAGS),
        "codegen.cpp.extra_compile_args_gcc": host,
        # one nvcc per core: `make -j` alone starts one per source file, a few GB of memory
        "devices.cpp_standalone.extra_make_args_unix": ["-j", str(os.cpu_count() or 1)],
    }
    if toolkit is not None and toolkit.curand_include is not None:
        values["codegen.cpp.include_dirs"] = list(prefs.codegen.cpp.include_dirs) + [toolkit.curand_include]
        values["codegen.cpp.library_dirs"] = list(prefs.codegen.cpp.library_dirs) + [curand_link(toolkit, folder)]
        values["codegen.cpp.runtime_library_dirs"] = list(prefs.codegen.cpp.runtime_library_dirs) + [toolkit.curand_lib]
    return values


def _checked_preferences(preferences: dict, target: str) -> dict:
    """``preferences`` after checking every name and value with Brian2."""
    for name, value in preferences.items():
        try:
            old = prefs[name]
        except (KeyError, TypeError):
            known = sorted(n for n in prefs if n.startswith(f"devices.{target}.") or n.startswith("codegen.cpp."))
            raise BackendError(f"preferences: '{name}' is not a Brian2 preference; for {target}: {', '.join(known)}.") from None
        try:
            prefs[name] = value
        except Exception as exc:  # Brian2's PreferenceError, from the preference's validator
            raise BackendError(f"preferences: Brian2 rejects {value!r} for '{name}': {exc}") from None
        finally:
            prefs[name] = old
    return dict(preferences)


@contextlib.contextmanager
def _preferences(values: dict):
    """Set Brian2 preferences for a block and restore the old values."""
    old = {name: prefs[name] for name in values}
    try:
        for name, value in values.items():
            prefs[name] = value
        yield
    finally:
        for name, value in old.items():
            prefs[name] = value


def brian_seed(seed: int) -> int:
    """The seed handed to Brian2 for a network's ``seed``: Brian2 takes seeds
    below 2**32 (numpy's legacy generator; an ``unsigned long`` in C++)."""
    return int(seed) % 2**32


@contextlib.contextmanager
def _seeded_runtime(device, seed: int | None):
    """Seed the runtime device's generator (numpy's global one) for a block,
    and put the generator's state back afterwards."""
    if seed is None:
        yield
        return
    state = device.get_random_state()
    try:
        device.seed(brian_seed(seed))
        yield
    finally:
        device.set_random_state(state)


@contextlib.contextmanager
def brian_device(target: str, directory: str | None = None, fast_math: bool = False, keep: bool = False, cuda=None, seed: int | None = None, preferences: dict | None = None):
    """Select a Brian2 device for the body of a ``with`` block.

    Parameters
    ----------
    target : {"numpy", "cpp_standalone", "cuda_standalone"}
        ``numpy`` is Brian2's runtime with numpy code generation;
        ``cpp_standalone`` generates, compiles and runs a C++ project;
        ``cuda_standalone`` a CUDA project (Brian2CUDA).
    directory : str, optional
        Project folder for the standalone targets (a temporary one is made
        otherwise and removed afterwards, unless ``keep``).
    fast_math : bool
        Compile with Brian2's default fast-math flags (not bit-faithful).
    keep : bool
        Standalone targets: leave the device's project state intact on exit, so
        that the built binary can be rerun (`StandaloneNetwork`); the runtime
        device becomes current again either way.
    cuda : CudaSettings, optional
        cuda_standalone: compute capability and toolkit (`cuda.cuda_settings`).
    seed : int, optional
        Seed of Brian2's random numbers (the network's ``seed``): the numpy
        runtime's generator for the block (restored afterwards), or the
        standalone project's seed call.
    preferences : dict, optional
        Further Brian2 preferences (full names, e.g.
        ``"devices.cuda_standalone.push_synapse_bundles"``) for the block,
        set after bioadapt's own (a name set by both takes the value given
        here). An unknown name or a value Brian2 rejects raises `BackendError`.

    Yields
    ------
    (device, str or None)
        The Brian2 device and the standalone project directory.
    """
    if target not in BRIAN_TARGETS:
        raise BackendError(f"Unknown Brian2 target '{target}'; use one of {', '.join(BRIAN_TARGETS)}.")
    if target == "numpy":
        reset_device("runtime")
        prefs.codegen.target = "numpy"
        with _seeded_runtime(get_device(), seed):
            yield get_device(), None
        return
    if shutil.which("g++") is None and shutil.which("c++") is None:
        raise BackendError(f"{target} needs a C++ compiler (g++), and none was found on PATH.")
    own = directory is None
    folder = tempfile.mkdtemp(prefix="bioadapt_cpp_" if target == "cpp_standalone" else "bioadapt_cuda_") if own else directory
    if target == "cuda_standalone":
        if cuda is None:
            raise BackendError("brian_device('cuda_standalone') needs the settings of cuda.cuda_settings().")
        from brian2cuda.utils import gputools

        # Brian2CUDA's progress messages (preferences, GPU) at info level would fill the console
        logging.getLogger("brian2.brian2cuda").setLevel(logging.WARNING)
        # Brian2CUDA caches the toolkit and GPU it found; forget them so the preferences count
        gputools.reset_cuda_installation()
        gputools.reset_gpu_selection()
        values = _cuda_preferences(cuda, fast_math, folder)
    else:
        values = {"codegen.cpp.extra_compile_args_gcc": FAST_GCC_FLAGS if fast_math else FAITHFUL_GCC_FLAGS, "devices.cpp_standalone.openmp_threads": 0}
    values.update(_checked_preferences(preferences or {}, target))
    with _preferences(values):
        set_device(target, directory=folder, build_on_run=False)
        device = get_device()
        # forget any earlier project of this device in this process (Brian2 keeps one device per target)
        device.reinit()
        device.activate(directory=folder, build_on_run=False)
        if seed is not None:  # first in main(): before any code that draws
            device.seed(brian_seed(seed))
        try:
            yield device, folder
        finally:
            if not keep:
                device.reinit()
            reset_device("runtime")
            if own and not keep:
                shutil.rmtree(folder, ignore_errors=True)
