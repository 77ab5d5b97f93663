"""Weak-to-strong generalisation experiments (Burns et al. 2023) on offline data, CPU only.

A weak supervisor is trained on ground truth (split A) and labels split B; a strong student (a linear or MLP
head on frozen strong features: MiniLM or SmolLM2-135M hidden states) learns from those weak labels; a strong
ceiling learns from B's ground truth. All three are scored on a held-out test split by a host-side scorer.

Main entry points:
- ``W2SConfig``: dataset, weak features/head, strong features/head, loss (``xent`` | ``aux_conf`` | ``bootstrap``),
  epochs, seeds, split sizes, cache dir. Invalid names raise with the list of valid ones.
- ``run_w2s(config, out_dir) -> W2SResult``: every seed, bootstrap CIs, ``config.json`` + ``results.json`` +
  figures in ``out_dir``.
- ``run_sweep(base, grid, out_dir) -> SweepResult``: a grid over config fields, with a PGR figure.
- ``HeldoutScorer`` / ``KernelTask``: keep test labels on the host; kernel code submits predictions.

Datasets: ``rotten_tomatoes`` (text), ``strategyqa`` / ``misconceptions`` / ``truthful_qa`` (BIG-bench; pass
``data_root``), ``sk_breast_cancer`` / ``sk_digits_parity`` (tabular). Features: ``bow`` (weak only), ``minilm``,
``smollm2_l<k>`` for text; ``tab_raw``, ``tab_coarse`` for tabular.

Example:
    >>> from tools.w2s import W2SConfig, run_w2s
    >>> cfg = W2SConfig(dataset="sk_digits_parity", weak_features="tab_coarse", strong_features="tab_raw",
    ...                 strong_head="mlp", loss="aux_conf", n_weak_train=300, n_strong_train=300, n_test=300,
    ...                 seeds=[0, 1, 2], cache_dir=None)
    >>> result = run_w2s(cfg, "/tmp/w2s-digits")
    >>> sorted(result.model_dump())[:3]
    ['agreement', 'cache', 'ceiling_acc']
"""

from __future__ import annotations

from tools.research.cache import ArrayCache
from tools.research.heads import Loss
from tools.research.metrics import Summary, bootstrap_summary, pgr
from tools.research.scoring import HeldoutScorer, KernelTask, Score
from tools.w2s.config import W2SConfig
from tools.w2s.harness import CacheStats, SeedResult, SweepResult, W2SResult, run_sweep, run_w2s

__all__ = [
    "ArrayCache",
    "CacheStats",
    "HeldoutScorer",
    "KernelTask",
    "Loss",
    "Score",
    "SeedResult",
    "Summary",
    "SweepResult",
    "W2SConfig",
    "W2SResult",
    "bootstrap_summary",
    "pgr",
    "run_sweep",
    "run_w2s",
]
