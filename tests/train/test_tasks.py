"""Task data against their definitions: BSD profiles, the closed-form spring chain, SHD binning."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from bioadapt import ConfigError
from bioadapt.tasks import burst_sequence_detection, load_heidelberg, spring_chain
from bioadapt.tasks.bsd import bsd_probabilities
from bioadapt.tasks.oscillator import chain_positions, chain_stiffness_matrix


def test_bsd_is_a_function_of_its_seed():
    a = burst_sequence_detection(200, seed=3)
    b = burst_sequence_detection(200, seed=3)
    c = burst_sequence_detection(200, seed=4)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)
    assert a.x.shape == (200, 200, 10) and a.x.dtype == np.uint8 and set(np.unique(a.x)) <= {0, 1}
    assert np.array_equal(np.bincount(a.y), np.full(20, 10))  # balanced
    s = a.splits
    assert (len(s["train"]), len(s["valid"]), len(s["test"])) == (140, 20, 40)
    assert len(np.unique(np.concatenate(list(s.values())))) == 200


def test_bsd_spike_probabilities_follow_the_class_bursts():
    """Empirical spike probabilities (no jitter) equal the class profiles: p_high at a burst centre, p_low far away."""
    data = burst_sequence_detection(4000, seed=1, classes=4, jitter=0.0)
    channels, centres, profiles = bsd_probabilities(1, classes=4)
    for c in range(4):
        x = data.x[data.y == c].astype(float)  # ~1000 samples
        empirical = x.mean(axis=0)
        assert np.abs(empirical - profiles[c]).max() < 5 * np.sqrt(0.25 / len(x))
        for ch, mu in zip(channels[c], centres[c]):
            assert profiles[c, int(mu * 200), ch] > 0.75
        silent = sorted(set(range(10)) - set(channels[c].tolist()))
        assert np.allclose(profiles[c][:, silent], 0.05)
    # classes are distinct sequences
    assert len({tuple(r) for r in channels}) == 4


def test_spring_chain_is_the_exact_solution():
    k = np.array([800.0, 5000.0, 2500.0, 9000.0])
    x0 = np.array([0.3, -1.2, 0.5, 0.9])
    K = chain_stiffness_matrix(k)
    assert np.allclose(K, K.T) and np.all(np.linalg.eigvalsh(K) > 0)
    times = np.arange(202) / 402.0

    def rhs(t, y):
        return np.concatenate([y[4:], -K @ y[:4]])

    sol = solve_ivp(rhs, (0, times[-1]), np.concatenate([x0, np.zeros(4)]), t_eval=times, rtol=1e-11, atol=1e-12, method="DOP853")
    assert np.abs(chain_positions(k, x0, times) - sol.y[:4].T).max() < 1e-8


def test_spring_chain_dataset():
    data = spring_chain(16, seed=2)
    assert data.x.shape == (16, 201, 4) and data.target.shape == (16, 201, 4)
    assert np.array_equal(data.x[:, 1:], data.target[:, :-1])  # target is the next sample
    assert np.array_equal(spring_chain(16, seed=2).x, data.x)
    with pytest.raises(ConfigError, match="k_min"):
        spring_chain(4, k_min=0)


def _write_shd(path, samples):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        vlen_f = h5py.vlen_dtype(np.float32)
        vlen_u = h5py.vlen_dtype(np.uint16)
        times = f.create_dataset("spikes/times", (len(samples),), dtype=vlen_f)
        units = f.create_dataset("spikes/units", (len(samples),), dtype=vlen_u)
        for k, (t, u, _) in enumerate(samples):
            times[k] = np.asarray(t, dtype=np.float32)
            units[k] = np.asarray(u, dtype=np.uint16)
        f.create_dataset("labels", data=np.array([s[2] for s in samples], dtype=np.uint8))


def test_heidelberg_loader_bins_and_merges_channels(tmp_path):
    train = [
        ([0.0005, 0.0035, 0.0041, 0.0100, 0.0101], [0, 4, 5, 699, 695], 3),  # 0,4 -> ch 0 (step 0); 5 -> ch 1 (step 1)
        ([0.0210], [10], 1),  # latest spike: bin 5
        ([0.0010, 0.0020], [7, 9], 0),  # two spikes, same bin, same merged channel -> one spike
    ]
    test = [([0.0001], [1], 2)]
    _write_shd(tmp_path / "train.h5", train)
    _write_shd(tmp_path / "test.h5", test)
    data = load_heidelberg(tmp_path / "train.h5", test=tmp_path / "test.h5", dt=0.004, valid_fraction=0.0)
    assert data.x.shape == (4, 6, 140)  # latest spike at 21 ms -> 6 bins of 4 ms
    x = data.x
    assert x[0, 0, 0] == 1 and x[0, 1, 1] == 1 and x[0, 2, 139] == 1 and x[0].sum() == 3
    assert x[1, 5, 2] == 1 and x[1].sum() == 1
    assert x[2, 0, 1] == 1 and x[2].sum() == 1
    assert list(data.y) == [3, 1, 0, 2] and data.n_classes == 4
    assert list(data.splits["train"]) == [0, 1, 2] and list(data.splits["test"]) == [3]
    counts = load_heidelberg(tmp_path / "train.h5", dt=0.004, counts=True, valid_fraction=0.0)
    assert counts.x[2, 0, 1] == 2 and counts.x[0, 2, 139] == 2
    held = load_heidelberg(tmp_path / "train.h5", dt=0.004, valid_fraction=1 / 3, seed=1)
    assert len(held.splits["valid"]) == 1 and len(held.splits["train"]) == 2


def test_heidelberg_loader_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_heidelberg(tmp_path / "missing.h5")
    (tmp_path / "bad.h5").write_text("not hdf5")
    with pytest.raises(ConfigError, match="bad.h5"):
        load_heidelberg(tmp_path / "bad.h5")
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "nolabels.h5", "w") as f:
        f.create_dataset("spikes/times", data=np.zeros(1))
        f.create_dataset("spikes/units", data=np.zeros(1))
    with pytest.raises(ConfigError, match="nolabels.h5.*labels"):
        load_heidelberg(tmp_path / "nolabels.h5")
