"""Exchange with other tools: NIR graphs (`bioadapt.interop.nir`, the ``nir`` extra)."""
