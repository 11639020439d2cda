"""The one place that touches Brian2's global device and preferences.

Brian2 keeps its target device and preferences in module-level state. Every
other part of bioadapt goes through `brian_device`, which selects a device for
the duration of a ``with`` block and restores the runtime device afterwards, so
that a process can build several networks on different devices in turn.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile

from brian2 import BrianLogger, prefs, set_device
from brian2.devices.device import reset_device, get_device

from ...errors import BackendError

__all__ = ["brian_device", "FAITHFUL_GCC_FLAGS", "FAST_GCC_FLAGS", "BRIAN_TARGETS"]

#: Flags for bit-faithful C++: no fast math, no fused multiply-add contraction.
FAITHFUL_GCC_FLAGS = ["-w", "-O3", "-fno-fast-math", "-ffp-contract=off", "-std=c++11"]
#: Brian2's own defaults (fast math): faster, but results differ in the last bits.
FAST_GCC_FLAGS = ["-w", "-O3", "-ffast-math", "-fno-finite-math-only", "-march=native", "-std=c++11"]

BRIAN_TARGETS = ("numpy", "cpp_standalone")

prefs.logging.file_log = False
prefs.logging.delete_log_on_exit = True
# The twin builds Brian2 objects only to read their code and never runs them.
BrianLogger.suppress_name("unused_brian_object")


@contextlib.contextmanager
def brian_device(target: str, directory: str | None = None, fast_math: bool = False, keep: bool = False):
    """Select a Brian2 device for the body of a ``with`` block.

    Parameters
    ----------
    target : {"numpy", "cpp_standalone"}
        ``numpy`` is Brian2's runtime with numpy code generation;
        ``cpp_standalone`` generates, compiles and runs a C++ project.
    directory : str, optional
        Project folder for cpp_standalone (a temporary one is made otherwise
        and removed afterwards, unless ``keep``).
    fast_math : bool
        Compile with Brian2's default fast-math flags (not bit-faithful).
    keep : bool
        cpp_standalone: leave the device's project state intact on exit, so
        that the built binary can be rerun (`StandaloneNetwork`); the runtime
        device becomes current again either way.

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
        yield get_device(), None
        return
    if shutil.which("g++") is None and shutil.which("c++") is None:
        raise BackendError("cpp_standalone needs a C++ compiler (g++), and none was found on PATH.")
    own = directory is None
    folder = tempfile.mkdtemp(prefix="bioadapt_cpp_") if own else directory
    old_flags = list(prefs.codegen.cpp.extra_compile_args_gcc)
    prefs.codegen.cpp.extra_compile_args_gcc = FAST_GCC_FLAGS if fast_math else FAITHFUL_GCC_FLAGS
    prefs.devices.cpp_standalone.openmp_threads = 0
    set_device("cpp_standalone", directory=folder, build_on_run=False)
    device = get_device()
    # forget any earlier standalone project of this process (Brian2 keeps one device)
    device.reinit()
    device.activate(directory=folder, build_on_run=False)
    try:
        yield device, folder
    finally:
        if not keep:
            device.reinit()
        reset_device("runtime")
        prefs.codegen.cpp.extra_compile_args_gcc = old_flags
        if own and not keep:
            shutil.rmtree(folder, ignore_errors=True)
