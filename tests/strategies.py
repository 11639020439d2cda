"""Hypothesis strategies shared by the property-based tests: random networks
over the shipped spiking models (heterogeneous delays, some 0, optional
recurrent synapses with autapses)."""

from hypothesis import strategies as st

SPIKING = ["adlif", "cadlif", "lif", "mtc", "stc"]
DRIVE = {"adlif": "I", "cadlif": "I", "lif": "I", "mtc": "I", "stc": "I"}
RECURRENT_TARGET = {"adlif": ["I"], "cadlif": ["I"], "lif": ["I", "v"], "mtc": ["I"], "stc": ["G_h", "G_x", "I"]}


@st.composite
def networks(draw, max_steps=600):
    model = draw(st.sampled_from(SPIKING))
    discrete = model in ("adlif", "cadlif", "stc")
    dt = 1.0 if discrete else 0.1
    size = draw(st.integers(1, 25))
    n_in = draw(st.integers(1, 15))
    net = {
        "dt": f"{dt}*ms",
        "duration": f"{draw(st.integers(50, max_steps))}*{dt}*ms",
        "seed": draw(st.integers(0, 2**31 - 1)),
        "populations": {
            "inp": {"kind": "poisson", "size": n_in, "rate": f"{draw(st.integers(5, 200))}*Hz"},
            "hid": {"model": model, "size": size},
        },
        "projections": [],
    }
    if model == "stc":
        w_in, w_rec = (0.3, 0.2), (-0.2, 0.3)
    elif discrete:
        w_in, w_rec = (3.0, 1.0), (0.0, 1.0)
    else:
        w_in, w_rec = (0.8, 0.3), (0.0, 0.3)
    max_delay = draw(st.integers(0, 6))
    net["projections"].append({
        "source": "inp", "target": "hid", "on_pre": f"{DRIVE[model]}_post += weight",
        "connect": {"p": draw(st.floats(0.1, 1.0))},
        "weight": f"normal({w_in[0]}, {w_in[1]})", "delay": f"uniform(0*ms, {max_delay * dt}*ms)",
    })
    if draw(st.booleans()):
        net["projections"].append({
            "source": "hid", "target": "hid",
            "on_pre": f"{draw(st.sampled_from(RECURRENT_TARGET[model]))}_post += weight",
            "connect": {"p": draw(st.floats(0.0, 1.0)), "autapses": draw(st.booleans())},
            "weight": f"normal({w_rec[0]}, {w_rec[1]})", "delay": f"uniform(0*ms, {draw(st.integers(0, 6)) * dt}*ms)",
        })
    return model, net
