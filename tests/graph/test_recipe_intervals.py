"""The synthetic_w2s recipe's cell: intervals only where there are at least two seeds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.recipes import default_registry


@pytest.mark.parametrize(("seeds", "has_interval"), [([0], False), ([0, 1, 2], True)])
def test_interval_only_with_two_or_more_seeds(tmp_path: Path, seeds: list[int], has_interval: bool) -> None:
    recipe = default_registry().recipes["synthetic_w2s"]
    config = recipe.load_config().model_validate({"seeds": seeds})
    done = subprocess.run(
        [sys.executable, "-c", recipe.render(config, tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    pgr = json.loads((tmp_path / "results.json").read_text())["metrics"]["pgr"]
    assert pgr["n"] == len(seeds)
    if has_interval:
        assert pgr["ci"] == "bootstrap95"
        assert pgr["ci_low"] <= pgr["mean"] <= pgr["ci_high"]
    else:
        assert (pgr["ci_low"], pgr["ci_high"], pgr["ci"]) == (None, None, "none: fewer than 2 seeds")
