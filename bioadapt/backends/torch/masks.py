"""Two graph passes of the compiled execution: booleans between CPU kernels as floats.

The CPU code torch 2.13's inductor generates stores a boolean tensor slowly:
a (64, 256) comparison stored as booleans took 200 us where the same values
stored as 0/1 floats took 33 us, and loading one took 55 us against 32 us
(one core, AVX-512; `benchmarks/compiled_steps.py` measures the effect on a
training step). A twin's threshold makes booleans each step (``v > v_th``),
and between the kernels of consecutive steps, or from the forward to the
backward, they were stored as booleans. The passes keep every value the
same, bit for bit:

- `RecomputeMasks` (on the joint forward-backward graph, before torch
  decides what the forward saves for the backward): every boolean on the
  CPU is recomputed in the backward from the values it compares (saved
  as floats, most of them saved anyway) instead of saved as booleans;
- `MasksAsFloats` (on each graph torch compiles, after that decision): a
  boolean that several operations read, and that the graph does not
  return, is kept as 0/1 floats, each reader comparing with 0 again in
  its own kernel.

Both leave graphs on other devices alone (GPU kernels store booleans fast).
"""

from __future__ import annotations

import torch
from torch._inductor.custom_graph_pass import CustomGraphPass, get_hash_for_files
from torch.utils.checkpoint import CheckpointPolicy

__all__ = ["MasksAsFloats", "RecomputeMasks", "compiler_options"]


def _cpu_booleans(graph: torch.fx.Graph):
    """The nodes of ``graph`` that compute a boolean tensor on the CPU."""
    for node in graph.nodes:
        value = node.meta.get("val")
        if node.op == "call_function" and isinstance(value, torch.Tensor) and value.dtype == torch.bool and value.device.type == "cpu":
            yield node


class _Pass(CustomGraphPass):
    def uuid(self):  # torch's compile cache keys on this: the source of the passes
        return get_hash_for_files((__file__,), type(self).__name__)


class RecomputeMasks(_Pass):
    """Booleans on the CPU are recomputed in the backward, never saved for it
    (except those drawn at random: recomputed, they would differ)."""

    def __call__(self, graph: torch.fx.Graph) -> None:
        for node in _cpu_booleans(graph):
            if torch.Tag.nondeterministic_seeded not in getattr(node.target, "tags", ()):
                node.meta["recompute"] = CheckpointPolicy.MUST_RECOMPUTE


class MasksAsFloats(_Pass):
    """Booleans on the CPU read by several operations, and not returned, kept as 0/1 floats."""

    def __call__(self, graph: torch.fx.Graph) -> None:
        returned = set(next(iter(graph.find_nodes(op="output"))).all_input_nodes)
        for node in list(_cpu_booleans(graph)):
            readers = list(node.users)
            if len(readers) < 2 or node in returned:
                continue
            with graph.inserting_after(node):
                floats = graph.call_function(torch.ops.prims.convert_element_type.default, (node, torch.float32))
            floats.meta["val"] = node.meta["val"].to(torch.float32)
            for reader in readers:
                with graph.inserting_before(reader):
                    again = graph.call_function(torch.ops.aten.ne.Scalar, (floats, 0))
                again.meta["val"] = node.meta["val"]
                reader.replace_input_with(node, again)


def compiler_options() -> dict:
    """`torch.compile`'s inductor options that install both passes."""
    return {"joint_custom_pre_pass": RecomputeMasks(), "post_grad_custom_post_pass": MasksAsFloats()}
