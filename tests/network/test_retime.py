"""Networks on another time grid: same physics, delays re-rounded with a warning."""

import warnings

import numpy as np
import pytest

from bioadapt import RoundingWarning, at_dt, network_from_dict, simulate
from helpers import model_network


def _spec():
    return network_from_dict(model_network("lif", steps=2000))


def test_refining_by_an_integer_factor_changes_nothing_physical():
    spec = _spec()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RoundingWarning)
        fine = at_dt(spec, spec.dt / 4)
    assert fine.n_steps == 4 * spec.n_steps and fine.duration == pytest.approx(spec.duration)
    for a, b in zip(spec.projections, fine.projections):
        np.testing.assert_allclose(b.delay_steps * fine.dt, a.delay_steps * spec.dt, rtol=1e-12)
    inp, finp = spec.populations["inp"], fine.populations["inp"]
    np.testing.assert_allclose(finp.input_steps * fine.dt, inp.input_steps * spec.dt, rtol=1e-12)
    assert np.array_equal(finp.input_indices, inp.input_indices)
    assert fine.populations["hid"].values["tau_m"] is spec.populations["hid"].values["tau_m"]


def test_coarsening_warns_about_delays_and_spikes():
    spec = _spec()
    with pytest.warns(RoundingWarning) as record:
        coarse = at_dt(spec, 4 * spec.dt)
    messages = [str(w.message) for w in record]
    assert any("projection 'inp_to_hid_0' at dt = 0.4 ms:" in m and "delays re-rounded" in m for m in messages)
    assert any("input population 'inp' at dt = 0.4 ms:" in m for m in messages)
    assert coarse.n_steps == spec.n_steps // 4


def test_finer_dt_spikes_stay_close():
    """The same physical network at dt and dt/2 (both with euler): most spikes
    move by at most a few steps."""
    spec = _spec()
    a = simulate(spec, backend="torch")
    b = simulate(at_dt(spec, spec.dt / 2), backend="torch")
    ta = a.spikes["hid"][1] * spec.dt
    tb = b.spikes["hid"][1] * spec.dt / 2
    assert abs(len(ta) - len(tb)) < 0.1 * len(ta)
