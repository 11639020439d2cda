"""What the cuda_standalone target needs, found before Brian2 is touched.

Brian2CUDA (the ``cuda`` extra) generates a CUDA project from the same Brian2
objects as cpp_standalone. This module finds, without a GPU, everything that
project needs and turns it into Brian2 preference values; `brian_device`
applies them (it stays the one place that sets Brian2's global state):

- brian2cuda itself, imported only when the target is asked for;
- the CUDA toolkit (``nvcc``) and its version;
- cuRAND headers and library: from the toolkit, or from the ``nvidia-curand``
  wheel when the toolkit has none (CUDA 13 installs without it);
- the GPU and its compute capability, through ``nvidia-smi``. Brian2CUDA's own
  detection is switched off (it needs ``nvidia-smi`` and ``deviceQuery`` and
  fails without a GPU), so code generation and compilation work on a machine
  without one; only running the binary needs a GPU.

Every failure is a one-line `BackendError` naming what is missing and how to
install it.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

from ...errors import BackendError

__all__ = [
    "CudaSettings",
    "CudaToolkit",
    "Gpu",
    "cuda_settings",
    "find_cuda_toolkit",
    "find_gpus",
    "import_brian2cuda",
    "require_gpu",
    "FALLBACK_COMPUTE_CAPABILITY",
]

#: Compute capability compiled for when none is given and no GPU is found:
#: sm_75 is the oldest architecture nvcc 13 accepts; its PTX is compiled
#: again by the driver for any newer GPU.
FALLBACK_COMPUTE_CAPABILITY = 7.5
#: Where a CUDA toolkit is looked for after CUDA_PATH/CUDA_HOME and ``nvcc`` on PATH.
CUDA_SEARCH_PATHS = ("/usr/local/cuda", "/usr/local/cuda-*", "/opt/cuda")
#: CUDA version assumed when code is only generated and no toolkit is installed.
ASSUMED_CUDA_VERSION = 13.0

INSTALL_HINT = "pip install 'bioadapt[cuda]'"
#: Name of the network clock on cuda_standalone. Brian2CUDA 1.0a7's synapses
#: template refers to a C++ clock called ``defaultclock`` (homogeneous-delay
#: branch of the effect kernel launch), whichever clock the synapses use; a
#: network whose clock has another name does not compile.
CUDA_CLOCK_NAME = "defaultclock"


@dataclass(frozen=True)
class CudaToolkit:
    """A CUDA toolkit and where its cuRAND lives."""

    path: str
    nvcc: str
    version: float
    #: extra folders for cuRAND (empty when the toolkit has it)
    curand_include: str | None = None
    curand_lib: str | None = None


@dataclass(frozen=True)
class Gpu:
    """An NVIDIA GPU as ``nvidia-smi`` reports it."""

    index: int
    name: str
    compute_capability: float


@dataclass(frozen=True)
class CudaSettings:
    """Everything cuda_standalone needs besides the network.

    ``toolkit`` is None when none was found and the project is only generated.
    """

    compute_capability: float
    toolkit: CudaToolkit | None


def import_brian2cuda():
    """Import brian2cuda (it registers the ``cuda_standalone`` device)."""
    try:
        import brian2cuda
    except ImportError as exc:
        raise BackendError(f"The cuda_standalone backend needs brian2cuda, which is not installed ({exc}); install it with {INSTALL_HINT}.") from None
    return brian2cuda


def _nvcc_version(nvcc: str) -> float:
    try:
        text = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackendError(f"The CUDA compiler {nvcc} does not run ({exc}); reinstall the CUDA toolkit or set CUDA_PATH to a working one.") from None
    match = re.search(r"release (\d+)\.(\d+)", text)
    if match is None:
        raise BackendError(f"Could not read the CUDA version from '{nvcc} --version'; set CUDA_PATH to a CUDA toolkit.")
    return float(f"{match.group(1)}.{match.group(2)}")


def _toolkit_folders(cuda_path: str | None) -> list[str]:
    if cuda_path is not None:
        return [cuda_path]
    folders = [os.environ[key] for key in ("CUDA_PATH", "CUDA_HOME") if os.environ.get(key)]
    on_path = shutil.which("nvcc")
    if on_path is not None:
        folders.append(os.path.dirname(os.path.dirname(on_path)))
    for pattern in CUDA_SEARCH_PATHS:
        folders += sorted(glob.glob(pattern), reverse=True)
    return folders


def _wheel_curand(major: int) -> tuple[str, str] | None:
    """Include and library folders of the nvidia-curand wheel for CUDA ``major``."""
    for site in sys.path:
        for sub in (f"nvidia/cu{major}", "nvidia/curand"):
            root = os.path.join(site, sub)
            if os.path.isfile(os.path.join(root, "include", "curand.h")) and glob.glob(os.path.join(root, "lib", "libcurand.so*")):
                return os.path.join(root, "include"), os.path.join(root, "lib")
    return None


def find_cuda_toolkit(cuda_path: str | None = None) -> CudaToolkit:
    """Find ``nvcc`` and cuRAND.

    Parameters
    ----------
    cuda_path : str, optional
        The toolkit folder (with ``bin/nvcc``). Otherwise CUDA_PATH, CUDA_HOME,
        ``nvcc`` on PATH and `CUDA_SEARCH_PATHS`, in this order.

    Raises
    ------
    BackendError
        No toolkit, or no cuRAND in it nor in the nvidia-curand wheel.
    """
    for folder in _toolkit_folders(cuda_path):
        nvcc = os.path.join(folder, "bin", "nvcc")
        if os.access(nvcc, os.X_OK):
            break
    else:
        where = f"in {cuda_path}" if cuda_path else "(CUDA_PATH, CUDA_HOME, nvcc on PATH, " + ", ".join(CUDA_SEARCH_PATHS) + ")"
        raise BackendError(f"cuda_standalone needs the CUDA toolkit (nvcc), and none was found {where}; install the CUDA toolkit or set CUDA_PATH to it.")
    version = _nvcc_version(nvcc)
    has_own = any(os.path.isfile(os.path.join(folder, inc, "curand.h")) for inc in ("include", "targets/x86_64-linux/include")) and any(
        glob.glob(os.path.join(folder, lib, "libcurand.so")) for lib in ("lib64", "lib", "targets/x86_64-linux/lib")
    )
    if has_own:
        return CudaToolkit(path=folder, nvcc=nvcc, version=version)
    wheel = _wheel_curand(int(version))
    if wheel is None:
        raise BackendError(
            f"cuda_standalone needs cuRAND, which the CUDA {version:g} toolkit in {folder} lacks and no nvidia-curand wheel for CUDA {int(version)} provides; "
            f"install it with {INSTALL_HINT} (or pip install nvidia-curand)."
        )
    return CudaToolkit(path=folder, nvcc=nvcc, version=version, curand_include=wheel[0], curand_lib=wheel[1])


def find_gpus() -> list[Gpu]:
    """The NVIDIA GPUs this process may use (``nvidia-smi``; CUDA_VISIBLE_DEVICES honoured)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "--query-gpu=name,compute_cap", "--format=csv,noheader"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for index, line in enumerate(out.stdout.splitlines() if out.returncode == 0 else []):
        name, _, capability = line.rpartition(",")
        try:
            gpus.append(Gpu(index, name.strip(), float(capability)))
        except ValueError:
            continue
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        wanted = [int(v) for v in visible.split(",") if v.strip().lstrip("-").isdigit()]
        chosen = []
        for position, index in enumerate(i for i in wanted if i >= 0):
            if index >= len(gpus):
                break  # CUDA stops at the first invalid ordinal
            chosen.append(Gpu(position, gpus[index].name, gpus[index].compute_capability))
        gpus = chosen
    return gpus


def require_gpu() -> Gpu:
    """The GPU a cuda_standalone binary will run on (the first visible one)."""
    gpus = find_gpus()
    if not gpus:
        raise BackendError(
            "cuda_standalone needs an NVIDIA GPU to run, and nvidia-smi found none (or CUDA_VISIBLE_DEVICES hides them); "
            "generate and compile without one through StandaloneNetwork(spec, target='cuda_standalone'), or use --backend cpp_standalone."
        )
    return gpus[0]


def cuda_settings(compute_capability: float | None = None, compile: bool = True, cuda_path: str | None = None) -> CudaSettings:
    """Check that cuda_standalone can be used and settle its options.

    Parameters
    ----------
    compute_capability : float, optional
        Architecture to compile for (e.g. 9.0 for an H100). Default: the
        first visible GPU's, or `FALLBACK_COMPUTE_CAPABILITY` without a GPU.
    compile : bool
        Whether the project will be compiled (needs the toolkit); code
        generation alone needs only brian2cuda, and uses a toolkit if found.
    cuda_path : str, optional
        CUDA toolkit folder (see `find_cuda_toolkit`).
    """
    import_brian2cuda()
    try:
        toolkit = find_cuda_toolkit(cuda_path)
    except BackendError:
        if compile:
            raise
        toolkit = None
    if compute_capability is None:
        gpus = find_gpus()
        compute_capability = gpus[0].compute_capability if gpus else FALLBACK_COMPUTE_CAPABILITY
    compute_capability = float(compute_capability)
    cuda_version = toolkit.version if toolkit is not None else ASSUMED_CUDA_VERSION
    if cuda_version >= 13 and compute_capability < FALLBACK_COMPUTE_CAPABILITY:
        raise BackendError(f"compute capability {compute_capability:g} is not supported by CUDA {int(cuda_version)}; use {FALLBACK_COMPUTE_CAPABILITY:g} or above (9.0 for an H100).")
    return CudaSettings(compute_capability=compute_capability, toolkit=toolkit)


def curand_link(toolkit: CudaToolkit, folder: str) -> str | None:
    """A folder with ``libcurand.so`` for the linker's ``-lcurand``.

    The wheel ships only ``libcurand.so.N``; the link goes into the project
    folder rather than into site-packages. Returns None when not needed.
    """
    if toolkit.curand_lib is None:
        return None
    link_dir = os.path.join(folder, "curand_link")
    os.makedirs(link_dir, exist_ok=True)
    link = os.path.join(link_dir, "libcurand.so")
    target = sorted(glob.glob(os.path.join(toolkit.curand_lib, "libcurand.so*")))[0]
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(target, link)
    return link_dir
