"""Test set-up: float64, deterministic torch, fixed seeds, warnings are errors
(pyproject's filterwarnings), and automatic skips for missing capabilities."""

import random
import shutil

import numpy as np
import pytest
import torch

torch.set_default_dtype(torch.float64)
torch.use_deterministic_algorithms(True)


@pytest.fixture(autouse=True)
def _seeds():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


def pytest_collection_modifyitems(config, items):
    del config
    if shutil.which("g++") is None:
        skip = pytest.mark.skip(reason="cpp_standalone needs g++")
        for item in items:
            if "brian_standalone" in item.keywords:
                item.add_marker(skip)
