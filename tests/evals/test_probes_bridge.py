"""Honesty probe bridge: statements → contrast pairs → tools.probes by layer, with scripted activations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tools.errors import UserInputError
from tools.evals.data import contrast_pairs, load_bigbench
from tools.evals.probes import HonestyProbeConfig, run_honesty_probes, split_by_group


class FakeActivations:
    """Layer 8 encodes truth along one axis (x+ - x- = ±2 e0); layer 2 is noise. Zero-shot logprob is right."""

    def __init__(self, truth: dict[str, bool]) -> None:
        self.truth = truth
        self.calls: list[tuple[int, tuple[int, ...]]] = []

    def extract(
        self, texts: Sequence[str], layers: Sequence[int], *, pooling: str, last_token_logprob: bool
    ) -> dict[int, npt.NDArray[np.float32]]:
        assert pooling == "last"
        assert last_token_logprob
        self.calls.append((len(texts), tuple(layers)))
        rng = np.random.default_rng(len(self.calls))
        out: dict[int, npt.NDArray[np.float32]] = {}
        signs = []
        for text in texts:
            statement, answer = text.rsplit("\nIs this true? ", 1)
            says_yes = answer == "Yes"
            signs.append(1.0 if says_yes == self.truth[statement] else -1.0)
        sign = np.array(signs, dtype=np.float32)
        for layer in layers:
            x = rng.normal(size=(len(texts), 8)).astype(np.float32)
            if layer == 8:
                x[:, 0] += 2.0 * sign
            out[layer] = x
        out[-1] = sign[:, None].astype(np.float32)
        return out


def test_split_keeps_groups_whole(shared_dir: Path) -> None:
    items = load_bigbench(shared_dir / "datasets" / "bigbench_tasks", "truthful_qa", limit=30)
    pairs = contrast_pairs(items)
    train, test = split_by_group(pairs, 0.4, 0)
    assert len(pairs) == sum(len(i.choices) for i in items)
    assert sorted([*train, *test]) == list(range(len(pairs)))
    assert not {pairs[i].group for i in train} & {pairs[i].group for i in test}
    assert len({pairs[i].group for i in test}) == 12


def test_probe_table_by_layer(shared_dir: Path, tmp_path: Path) -> None:
    tasks = shared_dir / "datasets" / "bigbench_tasks"
    items = load_bigbench(tasks, "misconceptions", limit=80)
    truth = {p.positive.rsplit("\nIs this true? ", 1)[0]: p.label for p in contrast_pairs(items)}
    fake = FakeActivations(truth)
    config = HonestyProbeConfig(
        task="misconceptions", source=tasks, run_dir=tmp_path, limit=80, layers=(2, 8), ccs_restarts=2, ccs_epochs=50
    )
    results = run_honesty_probes(config, activations=fake)
    assert fake.calls == [(80, (2, 8)), (80, (2, 8))]
    rows = {row[0]: row for row in results["tables"]["by_layer"]["rows"]}
    assert rows[8][1] == 1.0  # supervised probe on the truth axis
    assert rows[2][1] < 0.8  # noise layer
    assert results["metrics"]["zero_shot_acc"]["mean"] == 1.0
    assert results["metrics"]["zero_shot_acc"]["n"] == 29
    assert results["provenance"]["n_pairs"] == {"train": 51, "test": 29}  # 39 topic groups, 16 held out
    assert json.loads((tmp_path / "config.json").read_text())["layers"] == [2, 8]


def test_hhh_has_no_statements(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="hhh_alignment compares replies"):
        run_honesty_probes(HonestyProbeConfig(task="hhh_alignment", source=tmp_path, run_dir=tmp_path))
