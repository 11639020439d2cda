"""Test set-up: deterministic torch, fixed seeds, warnings are errors
(pyproject's filterwarnings), and automatic skips for missing capabilities."""

import os
import random
import shutil

import numpy as np
import pytest
import torch

# cuBLAS is deterministic only with a fixed workspace (torch raises otherwise
# in deterministic mode); read at the first cuBLAS call (the `gpu` tests)
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
torch.use_deterministic_algorithms(True)


@pytest.fixture(autouse=True)
def _seeds():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


def _cuda_missing(need_gpu: bool) -> str | None:
    """Why cuda_standalone tests cannot run here (None if they can)."""
    from bioadapt import BackendError
    from bioadapt.backends.brian import cuda
    from helpers import HAVE_BRIAN2CUDA

    if not HAVE_BRIAN2CUDA:
        return "brian2cuda is not installed (pip install 'bioadapt[cuda]')"
    try:
        cuda.find_cuda_toolkit()
        if need_gpu:
            cuda.require_gpu()
    except BackendError as exc:
        return str(exc)
    return None


def pytest_collection_modifyitems(config, items):
    del config
    if shutil.which("g++") is None:
        skip = pytest.mark.skip(reason="cpp_standalone needs g++")
        for item in items:
            if any(item.get_closest_marker(name) for name in ("brian_standalone", "cuda_build", "cuda")):
                item.add_marker(skip)
    for marker, need_gpu in (("cuda_build", False), ("cuda", True)):
        marked = [item for item in items if item.get_closest_marker(marker)]
        reason = _cuda_missing(need_gpu) if marked else None
        for item in marked if reason else []:
            item.add_marker(pytest.mark.skip(reason=reason))
