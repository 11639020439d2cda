"""Backends: Brian2 (numpy runtime, cpp_standalone) and the torch twin."""
