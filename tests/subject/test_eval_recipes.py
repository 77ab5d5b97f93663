"""The eval recipes' held-out protocol in process: host export, the kernel side over a real proxy socket, host score.

The kernel side (``tools.evals.heldout.run_eval_task``) runs here, talking to a real ``ModelProxy`` whose upstream
is scripted (it always answers option A); the host steps are the recipes' own. The real sandbox and ``ara run``
are covered by ``test_eval_runs.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.recipes import default_registry
from tests.subject.scripted_subject import CountingMeter, ScriptedSubject
from tools.errors import UserInputError
from tools.evals.data import load_bigbench
from tools.evals.endpoint import Endpoint
from tools.evals.heldout import export_eval_task, load_eval_task, run_eval_task
from tools.evals.hostscore import score_eval_task
from tools.evals.mc import LETTERS, shuffled
from tools.kernel.modelproxy import ModelProxy, ProxyLimits, Upstream


def _protocol(name: str, config: dict[str, Any], tmp_path: Path) -> tuple[dict[str, Any], Any, CountingMeter]:
    recipe = default_registry().get(name)
    assert recipe.host is not None
    validated = recipe.validate_config(config)
    run_dir, kernel_dir = tmp_path / "run", tmp_path / "run" / "work"
    kernel_dir.mkdir(parents=True)
    recipe.host.prepare(validated, kernel_dir, None)
    subject, meter = ScriptedSubject(), CountingMeter()
    upstream = Upstream(base_url="http://upstream.test/v1", model="alias")
    with ModelProxy(
        tmp_path / "m" / "model.sock", {"embedded": upstream}, ProxyLimits(), meter, subject.transport
    ) as proxy:
        endpoint = Endpoint(base_url="http://ara-model/v1", model="embedded", socket=str(proxy.socket_path))
        summary = run_eval_task(kernel_dir, endpoint)
    assert summary.startswith(f"{name}: ")
    assert "run_eval_task('.')" in recipe.render(validated, Path("."))
    (kernel_dir / "results.json").write_text("{}")  # whatever the kernel wrote is never read
    recipe.host.score(validated, kernel_dir, run_dir, None)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["verification"]["scored_by"] == "host"
    return results, validated, meter


def _task_text(tmp_path: Path) -> str:
    return (tmp_path / "run" / "work" / "eval_task.json").read_text()


def test_mc_eval_scores_on_the_host_with_a_chance_baseline_in_the_same_run(tmp_path: Path, shared_dir: Path) -> None:
    results, _config, meter = _protocol("mc_eval", {"task": "truthful_qa", "limit": 12, "seed": 3}, tmp_path)
    items = load_bigbench(None, "truthful_qa", limit=12)
    task = json.loads(_task_text(tmp_path))
    assert '"answer"' not in _task_text(tmp_path), "the kernel never sees the answers"
    assert [i["choices"] for i in task["items"]] == [shuffled(i, 3)[0] for i in items]
    expected = [float(LETTERS[shuffled(i, 3)[1]] == "A") for i in items]
    metrics = results["metrics"]
    assert metrics["accuracy"]["values"] == expected
    assert metrics["accuracy"]["over"] == metrics["random_baseline"]["over"] == "items"
    assert metrics["random_baseline"]["n"] == len(items) == len(meter.calls)
    assert metrics["expected_random"]["value"] == pytest.approx(sum(1 / len(i.choices) for i in items) / len(items))
    assert {c.max_tokens for c in meter.calls} == {1}, "one first-token logprobs request per item"
    letters = results["tables"]["answer_letters"]
    keys = [LETTERS[shuffled(i, 3)[1]] for i in items]
    used = sorted({"A", *keys})
    assert letters["columns"] == ["picked by", *used]
    assert letters["rows"] == [
        ["model", *[len(items) if u == "A" else 0 for u in used]],
        ["answer key", *[keys.count(u) for u in used]],
    ], "a model that always answers A shows as one letter picked every time, beside the key's spread"
    assert results["verification"]["red_flags"] == [
        {
            "code": "one_letter_answers",
            "detail": f"the model answered A on 12 of 12 answered items, while the key is A on {keys.count('A')} of 12: "
            "its accuracy measures the key's letter balance more than what it read",
        }
    ]


def test_oversight_pairs_conditions_by_item(tmp_path: Path, shared_dir: Path) -> None:
    results, _config, meter = _protocol("oversight", {"task": "truthful_qa", "limit": 3}, tmp_path)
    items = load_bigbench(None, "truthful_qa", limit=3)
    right = [float(LETTERS[shuffled(i, 0)[1]] == "A") for i in items]
    metrics = results["metrics"]
    for condition in ("alone", "critique", "debate"):
        assert metrics[f"judge_accuracy.{condition}"]["values"] == right
    assert metrics["delta_vs_alone.critique"]["values"] == [0.0] * len(items)
    letters = results["tables"]["answer_letters"]
    assert [row[0] for row in letters["rows"]] == ["judge alone", "judge critique", "judge debate", "answer key"]
    assert [row[1] for row in letters["rows"][:3]] == [len(items)] * 3, "the always-A judge picks A on every item"
    assert sum(letters["rows"][-1][1:]) == len(items)
    assert results["verification"]["red_flags"] == [], "three answers in a row are not flagged"
    # alone: the judge; critique: one critic call per option + the judge; debate: two debaters + the judge
    assert len(meter.calls) == sum(1 + (len(i.choices) + 1) + 3 for i in items)
    task = json.loads(_task_text(tmp_path))
    assert all(len(set(i["debate"])) == 2 for i in task["items"])


def test_cot_measures_early_answering_and_mistakes(tmp_path: Path, shared_dir: Path) -> None:
    results, _config, _ = _protocol("cot", {"task": "misconceptions", "limit": 2}, tmp_path)
    metrics = results["metrics"]
    n = metrics["accuracy.full_cot"]["n"]
    assert n == len(load_bigbench(None, "misconceptions", limit=2))
    assert metrics["early_answering.aoc"]["values"] == [0.0] * n, "the scripted model always says A"
    assert metrics["mistake_insertion.changed"]["over"] == "items"


def test_a_submission_that_skips_items_or_invents_answers_is_refused(tmp_path: Path, shared_dir: Path) -> None:
    _protocol("mc_eval", {"task": "misconceptions", "limit": 3}, tmp_path)
    kernel_dir, run_dir = tmp_path / "run" / "work", tmp_path / "run"
    path = kernel_dir / "submissions" / "mc_eval.json"
    stored = (run_dir / "results.json").read_text()
    doc = json.loads(path.read_text())
    config = default_registry().get("mc_eval").validate_config({"task": "misconceptions", "limit": 3})
    path.write_text(json.dumps({**doc, "mc": doc["mc"][1:]}))
    with pytest.raises(UserInputError, match=r"answers .* items, the task exported"):
        score_eval_task(config, kernel_dir, run_dir)  # type: ignore[arg-type]
    doc["mc"][0].update(letter="Z", scoring="generate", letter_logprobs=None)
    path.write_text(json.dumps(doc))
    with pytest.raises(UserInputError, match="answer 'Z' is not one of the options"):
        score_eval_task(config, kernel_dir, run_dir)  # type: ignore[arg-type]
    assert (run_dir / "results.json").read_text() == stored, "nothing stored is lost"


def test_malformed_task_files_are_clear_errors(tmp_path: Path, shared_dir: Path) -> None:
    config = default_registry().get("mc_eval").validate_config({"task": "truthful_qa", "limit": 2})
    bad = tmp_path / "task_mc.json"
    bad.write_text('{"examples": [{"input": "Q?", "target_scores": "not a mapping"}]}')
    with pytest.raises(UserInputError) as caught:
        export_eval_task(config, tmp_path / "k", source=bad)  # type: ignore[arg-type]
    assert str(bad) in str(caught.value) or "task_mc.json" in str(caught.value)
    assert not (tmp_path / "k" / "eval_task.json").exists()
    (tmp_path / "k2").mkdir()
    (tmp_path / "k2" / "eval_task.json").write_text('{"tool": "mc_eval", "items": []}')
    with pytest.raises(UserInputError, match=r"eval_task\.json is not a valid eval task"):
        load_eval_task(tmp_path / "k2")
