"""tools.selfreported: a results.json the experiment code wrote is checked, copied to the host and labelled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.results import SCHEMA, ResultsFileError, read_results
from tools.selfreported import adopt_results

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _kernel(tmp_path: Path, document: dict[str, object]) -> tuple[Path, Path]:
    kernel, host = tmp_path / "run" / "work", tmp_path / "run"
    kernel.mkdir(parents=True)
    (kernel / "results.json").write_text(json.dumps({"schema": SCHEMA, "tool": "free", **document}))
    return kernel, host


def test_free_mode_results_are_copied_to_the_host_and_labelled_self_reported(tmp_path: Path) -> None:
    forged_claim = {"scored_by": "host", "note": "trust me", "red_flags": []}
    kernel, host = _kernel(
        tmp_path,
        {
            "metrics": {"acc": {"value": 0.9}},
            "figures": {"curve": "plots/curve.png", "secret": "plots/secret.png", "junk": "plots/junk.png"},
            "verification": forged_claim,
        },
    )
    (kernel / "plots").mkdir()
    (kernel / "plots" / "curve.png").write_bytes(PNG)
    (kernel / "plots" / "secret.png").symlink_to("/etc/hostname")
    (kernel / "plots" / "junk.png").write_text("not an image")
    (kernel / "config.json").write_text('{"lr": 0.1}')
    document = adopt_results(kernel, host)
    assert document is not None
    written = read_results(host / "results.json")
    assert written.verification is not None
    assert (written.verification.scored_by, written.verification.note) == (
        "experiment",
        "self-reported by the experiment code, not verified by the host",
    )
    assert written.figures == {"curve": "figures/00-curve.png"}
    assert (host / "figures" / "00-curve.png").read_bytes() == PNG
    assert [f.code for f in written.verification.red_flags] == ["figure_not_copied", "figure_not_copied"]
    details = " ".join(f.detail for f in written.verification.red_flags)
    assert "plots/secret.png is a symbolic link" in details
    assert "plots/junk.png is not a PNG, JPEG, GIF or WebP image" in details
    assert json.loads((host / "config.json").read_text()) == {"lr": 0.1}


def test_bad_kernel_results_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    kernel, host = _kernel(tmp_path, {"metrics": {"acc": {"value": "high"}}})
    with pytest.raises(
        ResultsFileError, match=r"work/results\.json does not follow ara\.results/1: metrics\.acc\.value"
    ):
        adopt_results(kernel, host)
    assert sorted(p.name for p in host.iterdir()) == ["work"]
    (kernel / "results.json").unlink()
    assert adopt_results(kernel, host) is None
    (kernel / "results.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(ResultsFileError, match=r"work/results\.json is a symbolic link"):
        adopt_results(kernel, host)
    (kernel / "results.json").unlink()
    (kernel / "results.json").write_bytes(b"{" + b" " * (9 * 1024 * 1024) + b"}")
    with pytest.raises(ResultsFileError, match=r"over the 8,388,608-byte limit"):
        adopt_results(kernel, host)
    assert sorted(p.name for p in host.iterdir()) == ["work"]
