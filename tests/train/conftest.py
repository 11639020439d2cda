import pytest

from train_problem import write_problem


@pytest.fixture
def problem(tmp_path):
    return write_problem(tmp_path / "problem")
