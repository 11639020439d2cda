"""The per-step program: the intermediate representation both backends consume.

- `ir`: the program as data (`Program`, `Block`, `Statement`, `Ref`, block kinds);
- `analysis`: what the network's code does to its variables (written, assigned
  and restored names; what samples and drives may not do).

The program is read out of the Brian2 objects the Brian2 builder makes by
`bioadapt.backends.brian.extract.extract_program` (with the builder it depends
on, above this package).

The pipeline: equations (`bioadapt.models`) -> network (`bioadapt.network`) ->
scheme (`bioadapt.schemes`) -> Brian2 objects (`bioadapt.backends.brian`) ->
program (here) -> twin (`bioadapt.backends.torch`).
"""

from .ir import INDEX_POST, INDEX_PRE, INDEX_SCALAR, INDEX_SELF, Block, Inputs, Kind, Pathway, Program, Ref, Statement, Summed, Threshold, TimedInput, dtype_kind

__all__ = ["Block", "Inputs", "Kind", "Pathway", "Program", "Ref", "Statement", "Summed", "Threshold", "TimedInput",
           "INDEX_SELF", "INDEX_PRE", "INDEX_POST", "INDEX_SCALAR", "dtype_kind"]
