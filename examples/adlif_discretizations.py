"""AdLIF discretizations: error against the exact solution, and stability
=======================================================================

Run it::

    python examples/adlif_discretizations.py [--out-dir .]

1. Error vs dt: one AdLIF neuron (tau_u = 25 ms, tau_w = 60 ms, a = 2, b = 0,
   no spikes) driven by a constant current I = 1 from rest; every scheme runs
   at several dt, and the error of u at t = 200 ms is measured against the
   exact solution of the linear ODE, x(t) = exp(A t) x0 + A^-1 (exp(A t) - 1) b.
   Writes adlif_error_vs_dt.png and prints the empirical orders.
2. Stability: spectral radius of the sub-threshold step map of EF
   (exponential_euler) and SE (symplectic_euler) over (a, tau_w), measured on
   the generated code (bioadapt.analysis). Writes adlif_stability.png.
"""

import argparse
from pathlib import Path

import numpy as np
import scipy.linalg

from bioadapt import network_from_dict, simulate
from bioadapt.analysis import discrete_map, stability_grid

TAU_U, TAU_W, A_COUPLING, CURRENT, T_END = 25e-3, 60e-3, 2.0, 1.0, 200e-3
SCHEMES = ("euler", "exponential_euler", "symplectic_euler", "rk2", "rk4", "exact")


def exact_u(t):
    A = np.array([[-1 / TAU_U, -1 / TAU_U], [A_COUPLING / TAU_W, -1 / TAU_W]])
    b = np.array([CURRENT / TAU_U, 0.0])
    return (np.linalg.solve(A, (scipy.linalg.expm(A * t) - np.eye(2)) @ b))[0]


def error_vs_dt(dts_ms):
    errors = {}
    for scheme in SCHEMES:
        errors[scheme] = []
        for dt in dts_ms:
            steps = int(round(T_END * 1e3 / dt))
            spec = network_from_dict({"dt": f"{dt}*ms", "duration": f"{steps * dt}*ms", "populations": {"n": {"model": "adlif", "size": 1, "scheme": scheme, "values": {"tau_u": "25*ms", "tau_w": "60*ms", "a": A_COUPLING, "b": 0, "theta": "inf"}}}})
            res = simulate(spec, backend="torch", record={"n": ["u"]}, drive={"n": {"I": np.full((steps, 1), CURRENT)}})
            errors[scheme].append(abs(res.traces["n"]["u"][-1, 0] - exact_u(T_END)))
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out-dir", default=".")
    args = parser.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dts = np.array([2.0, 1.0, 0.5, 0.25, 0.125])
    errors = error_vs_dt(dts)
    fig, ax = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    for scheme, err in errors.items():
        err = np.maximum(np.asarray(err), 1e-17)
        order = np.polyfit(np.log(dts), np.log(err), 1)[0]
        print(f"{scheme:18s} error at dt = 1 ms: {err[1]:.3e}   empirical order: {order:5.2f}")
        ax.loglog(dts, err, "o-", label=f"{scheme} ({order:.1f})")
    ax.set_xticks(dts, [f"{d:g}" for d in dts])
    ax.minorticks_off()
    ax.set_xlabel("dt (ms)")
    ax.set_ylabel("|u(200 ms) - exact|")
    ax.set_title("AdLIF, constant current: error vs dt (order)")
    ax.legend(fontsize=8)
    fig.savefig(out / "adlif_error_vs_dt.png", dpi=120)
    print(f"wrote {out / 'adlif_error_vs_dt.png'}")

    worked = {"tau_u": "25*ms", "tau_w": "60*ms", "a": 120, "b": 0}
    for scheme in ("exponential_euler", "symplectic_euler", "exact"):
        m = discrete_map("adlif", scheme, worked)
        print(f"{scheme:18s} tau_u=25 ms tau_w=60 ms a=120 dt=1 ms: |lambda| = {m.spectral_radius[0]:.5f}, f = {m.frequency[0]:.1f} Hz, stable = {bool(m.stable[0])}")
    a = np.linspace(0, 400, 81)
    tau_w = np.linspace(20e-3, 300e-3, 57)
    grids = {s: stability_grid("adlif", s, ("a", a), ("tau_w", tau_w), {"tau_u": "25*ms", "b": 0}) for s in ("exponential_euler", "symplectic_euler")}
    for scheme, (_, _, m) in grids.items():
        print(f"{scheme:18s} unstable grid points: {int((~m.stable).sum())} of {m.stable.size}")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, constrained_layout=True)
    for ax, (scheme, (X, Y, m)) in zip(axes, grids.items()):
        radius = m.spectral_radius.reshape(X.shape)
        image = ax.pcolormesh(X, Y * 1e3, radius, vmin=0.9, vmax=1.1, cmap="RdBu_r", shading="auto")
        ax.contour(X, Y * 1e3, radius, levels=[1.0], colors="k")
        ax.set_title(f"{scheme}: max |lambda|")
        ax.set_xlabel("a")
    axes[0].set_ylabel("tau_w (ms)")
    fig.colorbar(image, ax=axes, label="spectral radius (black: 1)")
    fig.savefig(out / "adlif_stability.png", dpi=120)
    print(f"wrote {out / 'adlif_stability.png'}")


if __name__ == "__main__":
    main()
