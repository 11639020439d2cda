"""Empirical order of convergence of a scheme against a closed-form solution.

The smooth test problem is the LIF membrane driven by an exponentially
decaying synaptic current, below threshold:

    tau_m dv/dt = -v + I,  tau_s dI/dt = -I,  v(0) = 0, I(0) = I0
    v(t) = I0 * tau_s/(tau_s - tau_m) * (exp(-t/tau_s) - exp(-t/tau_m))

Each scheme runs the shipped ``lif`` model at a sequence of time steps (in the
twin, which is bit-identical to Brian2's numpy runtime); the error at the end
time is compared with the formula, and the order is the slope of log(error)
against log(dt).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network import network_from_dict

__all__ = ["ConvergenceResult", "lif_closed_form", "convergence"]

TAU_M, TAU_S, I0, T_END = 20e-3, 5e-3, 2.0, 40e-3


def lif_closed_form(t, tau_m=TAU_M, tau_s=TAU_S, i0=I0):
    """v(t) of the smooth test problem (tau_m != tau_s)."""
    return i0 * tau_s / (tau_s - tau_m) * (np.exp(-t / tau_s) - np.exp(-t / tau_m))


@dataclass(frozen=True)
class ConvergenceResult:
    scheme: str
    dts: np.ndarray  # seconds
    errors: np.ndarray  # |v_scheme(T) - v(T)|

    @property
    def order(self) -> float:
        """Least-squares slope of log(error) against log(dt)."""
        slope, _ = np.polyfit(np.log(self.dts), np.log(self.errors), 1)
        return float(slope)


def convergence(scheme: str, dts_ms=(1.0, 0.5, 0.25, 0.125)) -> ConvergenceResult:
    """Errors at ``T_END`` of ``scheme`` on the smooth LIF problem for each dt."""
    from ..simulate import simulate

    errors = []
    for dt in dts_ms:
        steps = int(round(T_END * 1e3 / dt))
        spec = network_from_dict(
            {
                "dt": f"{dt}*ms",
                "duration": f"{steps * dt}*ms",
                "populations": {"n": {"model": "lif", "size": 1, "scheme": scheme, "values": {"tau_m": f"{TAU_M}*second", "tau_syn": f"{TAU_S}*second", "I": I0, "theta": 1e9}}},
            }
        )
        res = simulate(spec, backend="torch", record={"n": ["v"]})
        errors.append(abs(res.traces["n"]["v"][-1, 0] - lif_closed_form(T_END)))
    return ConvergenceResult(scheme, np.asarray(dts_ms) * 1e-3, np.asarray(errors))
