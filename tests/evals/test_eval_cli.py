"""``ara eval TASK`` end to end: the shipped BIG-bench file, Inspect, and the configured endpoint (a scripted model
served on loopback HTTP, reached through Inspect's own OpenAI client), logs written beside runs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from inspect_ai.log import read_eval_log

from assistant.cli import main
from assistant.llm.testing import function_llm
from tests.foundation.scripted_http import serve


def ara(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_an_unknown_task_lists_the_known_ones_and_makes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = ara(capsys, "eval", "truthfulqa")
    assert (code, out) == (2, "")
    assert err == (
        "error: Unknown eval task\n"
        "unknown eval task 'truthfulqa'; the shipped tasks are: fever, hhh_alignment, misconceptions, politifact, "
        "strategyqa, truthful_qa. Run one with: ara eval fever --limit 20\n"
    )
    assert not (tmp_path / "workspace").exists()


def test_eval_runs_on_inspect_against_the_configured_endpoint(
    capsys: pytest.CaptureFixture[str], shared_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    prompts: list[str] = []

    def answer(body: dict[str, Any]) -> str:
        prompts.append(body["messages"][-1]["content"])
        return "A"

    script = function_llm(answer, calls=100)
    with serve(script) as base_url:
        monkeypatch.setenv("ARA_LLM_BASE_URL", base_url)
        monkeypatch.setenv("ARA_LLM_MODEL", "scripted")
        source = shared_dir / "datasets" / "bigbench_tasks"
        code, out, err = ara(capsys, "eval", "misconceptions", "--limit", "3", "--source", str(source), "--json")
    assert code == 0, err
    result = json.loads(out)
    run_dir = tmp_path / "workspace" / "runs" / result["eval_id"]
    assert Path(result["results_path"]) == run_dir / "results.json"
    assert Path(result["log_path"]).parent == run_dir / "logs"
    log = read_eval_log(result["log_path"])
    assert log.status == "success"
    assert log.eval.model == "openai-api/ara/scripted"
    assert len(log.samples or []) == result["accuracy"]["n"] == len({p for p in prompts})
    assert result["scoring_counts"] == {"generate": result["accuracy"]["n"]}, "a chat reply has no logprobs"
    assert json.loads((run_dir / "results.json").read_text())["schema"] == "ara.results/1"
    assert re.fullmatch(r"[0-9A-Z]{26}", result["eval_id"])
