"""Stability of the AdLIF sub-threshold map: EF (exponential_euler) vs SE (symplectic_euler).

    python examples/adlif_stability.py [--out adlif_stability.png]

Measures the step map of each scheme on the generated code (bioadapt.analysis)
over a grid of adaptation strength a and adaptation time constant tau_w
(tau_u = 25 ms, dt = 1 ms), prints the worked example of science.md, and draws
the spectral radius of both schemes with the |lambda| = 1 contour.
"""

import argparse

import numpy as np

from bioadapt.analysis import discrete_map, stability_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="adlif_stability.png")
    args = parser.parse_args()

    worked = {"tau_u": "25*ms", "tau_w": "60*ms", "a": 120, "b": 0}
    for scheme in ("exponential_euler", "symplectic_euler"):
        m = discrete_map("adlif", scheme, worked)
        print(f"{scheme:18s} tau_u=25 ms tau_w=60 ms a=120 dt=1 ms: |lambda| = {m.spectral_radius[0]:.5f}, f = {m.frequency[0]:.1f} Hz, stable = {bool(m.stable[0])}")

    a = np.linspace(0, 400, 81)
    tau_w = np.linspace(20e-3, 300e-3, 57)
    grids = {s: stability_grid("adlif", s, ("a", a), ("tau_w", tau_w), {"tau_u": "25*ms", "b": 0}) for s in ("exponential_euler", "symplectic_euler")}
    for scheme, (_, _, m) in grids.items():
        print(f"{scheme:18s} unstable grid points: {int((~m.stable).sum())} of {m.stable.size}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, constrained_layout=True)
    for ax, (scheme, (X, Y, m)) in zip(axes, grids.items()):
        radius = m.spectral_radius.reshape(X.shape)
        image = ax.pcolormesh(X, Y * 1e3, radius, vmin=0.9, vmax=1.1, cmap="RdBu_r", shading="auto")
        ax.contour(X, Y * 1e3, radius, levels=[1.0], colors="k")
        ax.set_title(f"{scheme}: max |lambda|")
        ax.set_xlabel("a")
    axes[0].set_ylabel("tau_w (ms)")
    fig.colorbar(image, ax=axes, label="spectral radius (black: 1)")
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
