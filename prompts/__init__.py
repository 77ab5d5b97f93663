"""Versioned prompt templates, one per node purpose: ``<node>.<purpose>.md``, read with importlib.resources."""
