"""Latent-knowledge probing on SmolLM2-135M-Instruct: activations per layer, supervised probes and CCS, offline.

Main entry points:
- ``ProbeConfig`` / ``run_probe_comparison(config, out_dir) -> ProbeResult``: contrast pairs from a text
  dataset (``rotten_tomatoes``, ``strategyqa``, ``misconceptions``, ``truthful_qa``), per-layer supervised
  probe vs CCS (several restarts, sign fixed on a labelled dev slice) vs zero-shot; ``results.json`` + figure.
- ``SmolLM2Activations``: cached per-layer hidden states (mean or last token) from the installed GGUF.
- ``train_ccs`` / ``train_probe`` / ``compare_on_arrays``: the methods on any activations you already have.

Test labels are scored on the host side (``tools.w2s.HeldoutScorer``) and never written to the run directory.

Example:
    >>> import numpy as np
    >>> from tools.probes import compare_on_arrays
    >>> rng = np.random.default_rng(0); y = rng.integers(0, 2, 300); base = rng.normal(size=(300, 16))
    >>> pos = {1: (base + np.outer(2 * y - 1, np.eye(16)[0])).astype(np.float32)}
    >>> neg = {1: (base - np.outer(2 * y - 1, np.eye(16)[0])).astype(np.float32)}
    >>> idx = np.arange(300)
    >>> [r] = compare_on_arrays(neg, pos, y, idx[:200], idx[:40], idx[200:], restarts=3, epochs=200)
    >>> r.probe_acc > 0.9
    True
"""

from __future__ import annotations

from tools.probes.ccs import CCSFit, ccs_predict, train_ccs, train_probe
from tools.probes.comparison import LayerResult, ProbeConfig, ProbeResult, compare_on_arrays, run_probe_comparison
from tools.research.activations import SmolLM2Activations, gguf_path

__all__ = [
    "CCSFit",
    "LayerResult",
    "ProbeConfig",
    "ProbeResult",
    "SmolLM2Activations",
    "ccs_predict",
    "compare_on_arrays",
    "gguf_path",
    "run_probe_comparison",
    "train_ccs",
    "train_probe",
]
