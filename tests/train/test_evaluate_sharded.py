"""Brian2 evaluation sharded over Dask worker processes (a real 2-worker LocalCluster) equals the evaluation in one process, sample for sample."""

import numpy as np
import pytest

from bioadapt.train import evaluate, load_train_config
from bioadapt.train.trainer import Trainer


@pytest.mark.parametrize("backend", ["numpy", pytest.param("cpp_standalone", marks=[pytest.mark.brian_standalone, pytest.mark.slow])])  # cpp: three compilations
def test_sharded_evaluation_equals_one_process(problem, tmp_path, backend):
    config = load_train_config(problem).with_(epochs=1)
    params = Trainer(config, tmp_path / "run").fit().params_path
    one = evaluate(config, params, backend=backend, max_samples=5, return_outputs=True)
    two = evaluate(config, params, backend=backend, max_samples=5, workers=2, return_outputs=True)  # shards of 3 and 2 samples
    a, b = one.pop("outputs"), two.pop("outputs")
    assert np.array_equal(a["brian_y"], b["brian_y"])
    assert all(np.array_equal(x[p][k], y[p][k]) for x, y in zip(a["brian_spikes"], b["brian_spikes"]) for p in x for k in (0, 1))
    assert [sorted(x) for x in a["brian_spikes"]] == [sorted(y) for y in b["brian_spikes"]]
    assert two.pop("workers") == 2
    one.pop("seconds"), two.pop("seconds")
    assert one == two  # predictions, spike counts, per-sample numbers, scores
    assert one["identical_spike_trains"] == 1.0 and one["spikes_brian"] > 0
