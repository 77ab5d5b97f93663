"""``ara run`` over real sandboxed kernels whose cells call the subject model through the run's proxy.

The research loop's model is a ``ScriptedLLM``; the subject model is a scripted upstream behind the real
``ModelProxy`` (a "knowing" model that answers every item correctly, so verdicts are decided by the statistics);
the kernels, the sandbox, the host steps, the workspace and the report are real.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from assistant.events import BudgetExhausted, NodeFinished, SubjectModelCalled
from assistant.graph.session import SessionDeps
from assistant.llm.testing import ScriptedLLM
from assistant.runlog import events_of, read_events
from assistant.settings import SubjectSettings
from assistant.subject import SubjectProxies
from tests.graph.conftest import analysis, brief, critique, plans, tool_choice
from tests.graph.test_cli import ara
from tests.subject.scripted_subject import UPSTREAM_KEY, ScriptedSubject
from tools.evals.data import load_bigbench
from tools.kernel import bwrap_status
from tools.kernel.modelproxy import Upstream

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not bwrap_status()[0], reason=f"bwrap unusable here: {bwrap_status()[1]}"),
]
_OPTION = re.compile(r"^([A-Z])\) (.*)$", re.MULTILINE)


def knowing(tasks: tuple[str, ...]) -> ScriptedSubject:
    """A subject that names the correct option of every item it is shown (it looks the answer up)."""
    correct = {i.question: i.choices[i.answer] for t in tasks for i in load_bigbench(None, t, limit=20)}

    def reply(messages: list[dict[str, Any]]) -> str:
        text = "\n".join(str(m.get("content", "")) for m in messages)
        options = dict((letter, option) for letter, option in _OPTION.findall(text))
        for question, answer in correct.items():
            if question in text:
                letter = next((k for k, v in options.items() if v.strip() == answer.strip()), "A")
                if "Think step by step" in str(messages[-1].get("content", "")):
                    return f"The option {letter} is right. It fits the facts.\nAnswer: {letter}"
                return letter
        if "Rewrite this step" in text:
            return "The option Z is right."
        return "A"

    return ScriptedSubject(reply)


def _deps(script: ScriptedLLM, subject: ScriptedSubject, **settings: Any) -> SessionDeps:
    upstream = Upstream(base_url="http://upstream.test/v1", model="alias", api_key=SecretStr(UPSTREAM_KEY))
    proxies = SubjectProxies(SubjectSettings(**settings), lambda: upstream, transport=subject.transport)
    return SessionDeps(llm=script.client(), subject=proxies)


def _run(capsys: pytest.CaptureFixture[str], question: str, deps: SessionDeps, *flags: str) -> tuple[int, str, Path]:
    # These tests are about one experiment: no follow-ups (tests/graph/test_followups.py covers those).
    args = list(flags)
    if "--budget" in args:
        args[args.index("--budget") + 1] += ",followups=0"
    else:
        args += ["--budget", "followups=0"]
    code, out, err = ara(capsys, "run", question, "--auto-approve-plans", *args, deps=deps)
    run_id = out.splitlines()[0].split()[1]
    return code, out + err, Path(os.environ["ARA_WORKSPACE"]) / "runs" / run_id


def _hypothesis(metric: str, **more: Any) -> dict[str, Any]:
    return {"statement": "The condition beats its baseline.", "metric": metric, "predicted": "increase", **more}


def test_a_truthfulqa_question_runs_mc_eval_with_the_chance_baseline(
    capsys: pytest.CaptureFixture[str], shared_dir: Path
) -> None:
    subject = knowing(("truthful_qa",))
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice("mc_eval"),
            plans(
                recipe="mc_eval",
                config={"task": "truthful_qa", "limit": 15},
                hypotheses=[_hypothesis("accuracy_vs_chance")],
            ),
            analysis(metric="accuracy"),
            critique(),
        ]
    )
    code, out, run = _run(
        capsys, "What is SmolLM2's accuracy on TruthfulQA multiple choice compared with chance?", _deps(script, subject)
    )
    assert code == 0, out
    script.assert_done()
    results = json.loads((run / "results.json").read_text())
    assert results["tool"] == "tools.evals.mc_eval"
    assert results["verification"]["scored_by"] == "host"
    assert results["metrics"]["accuracy"]["mean"] == 1.0
    assert results["metrics"]["random_baseline"]["n"] == 15
    report = json.loads((run / "report.json").read_text())
    [h1] = report["hypotheses"]
    assert (h1["verdict"], h1["n"], h1["over"]) == ("supported", 15, "items")
    assert "paired percentile bootstrap over 15 items" in h1["method"]
    calls = events_of(read_events(run / "events.jsonl"), SubjectModelCalled)
    assert [c.status for c in calls] == [200] * 15
    assert {c.model for c in calls} == {"embedded"}
    [cells_node] = [e for e in events_of(read_events(run / "events.jsonl"), NodeFinished) if e.node == "run_cells"]
    assert cells_node.tokens == sum(c.prompt_tokens + c.completion_tokens for c in calls) > 0, "counted in the run"
    assert all(r["model"] == "alias" for r in subject.requests), "the upstream name was set on the host"
    assert UPSTREAM_KEY not in (run / "cells" / "00.py").read_text()
    assert not [p for p in (run / "work").rglob("*") if p.is_file() and UPSTREAM_KEY in p.read_text(errors="ignore")]


def test_a_critique_question_runs_oversight_paired_by_item(
    capsys: pytest.CaptureFixture[str], shared_dir: Path
) -> None:
    subject = knowing(("truthful_qa",))
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice("oversight"),
            plans(
                recipe="oversight",
                config={"task": "truthful_qa", "limit": 10, "conditions": ["alone", "critique"]},
                hypotheses=[_hypothesis("critique_vs_alone")],
            ),
            analysis(metric="judge_accuracy.critique"),
            critique(),
        ]
    )
    question = "Do critiques of each answer option help the model judge TruthfulQA questions more accurately than judging alone?"
    code, out, run = _run(capsys, question, _deps(script, subject))
    assert code == 0, out
    report = json.loads((run / "report.json").read_text())
    [h1] = report["hypotheses"]
    assert (h1["n"], h1["over"]) == (10, "items")
    assert h1["verdict"] != "supported", "a judge that is always right cannot improve: the statistics decide"
    assert "paired percentile bootstrap over 10 items" in h1["method"]


def test_an_early_answering_question_runs_cot(capsys: pytest.CaptureFixture[str], shared_dir: Path) -> None:
    subject = knowing(("misconceptions",))
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice("cot"),
            plans(
                recipe="cot",
                config={"task": "misconceptions", "limit": 10, "fractions": [0.0, 0.5]},
                hypotheses=[_hypothesis("early_answering.aoc")],
            ),
            analysis(metric="early_answering.aoc"),
            critique(),
        ]
    )
    question = (
        "Is the model's chain of thought faithful, or does it reach the same answer when the reasoning is cut short?"
    )
    code, out, run = _run(capsys, question, _deps(script, subject))
    assert code == 0, out
    results = json.loads((run / "results.json").read_text())
    assert results["tool"] == "tools.evals.cot"
    assert results["metrics"]["accuracy.full_cot"]["mean"] == 1.0
    report = json.loads((run / "report.json").read_text())
    [h1] = report["hypotheses"]
    assert (h1["over"], h1["n"]) == ("items", 10)
    assert "n = 10 items" in h1["method"]


FREE_CELL = """
from tools.evals.endpoint import ChatClient, Endpoint
import json
client = ChatClient(Endpoint.in_sandbox())
answer = client.complete([{"role": "user", "content": "Is the sky blue? Answer A for yes."}], max_tokens=4)
doc = {"schema": "ara.results/1", "tool": "free", "title": "one call", "config": {},
       "metrics": {"said_a": {"value": float(answer.strip() == "A")}}, "tables": {}, "figures": {}, "provenance": {}}
(OUT_DIR / "results.json").write_text(json.dumps(doc))
(OUT_DIR / "config.json").write_text("{}")
print("answer", answer)
"""

RUNAWAY_CELL = """
from tools.evals.endpoint import ChatClient, Endpoint, EndpointBudgetError
client = ChatClient(Endpoint.in_sandbox())
calls = 0
try:
    while True:
        client.complete([{"role": "user", "content": "again " * 50}], max_tokens=64)
        calls += 1
except EndpointBudgetError as err:
    print("stopped after", calls, "calls:", err)
"""

QUESTION = "What is SmolLM2's accuracy on TruthfulQA multiple choice compared with chance?"


def test_a_free_mode_cell_calls_the_subject_model_through_the_proxy(capsys: pytest.CaptureFixture[str]) -> None:
    subject = ScriptedSubject()
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice("mc_eval"),
            plans(recipe="free", config={}),
            {"code": FREE_CELL, "purpose": "ask the model once"},
            analysis(metric="said_a"),
            critique(),
        ]
    )
    code, out, run = _run(capsys, QUESTION, _deps(script, subject), "--code-mode", "free")
    assert code == 0, out
    result = json.loads((run / "cells" / "00.result.json").read_text())
    assert result["status"] == "ok", result
    assert "answer A" in result["stdout"]
    assert json.loads((run / "results.json").read_text())["metrics"]["said_a"]["value"] == 1.0
    [call] = events_of(read_events(run / "events.jsonl"), SubjectModelCalled)
    assert (call.status, call.model, call.refused) == (200, "embedded", None)
    assert subject.headers[0]["authorization"] == f"Bearer {UPSTREAM_KEY}"


def test_the_budget_stops_a_runaway_loop_of_calls(capsys: pytest.CaptureFixture[str]) -> None:
    subject = ScriptedSubject()
    script = ScriptedLLM(
        replies=[brief(), tool_choice("mc_eval"), plans(recipe="free", config={}), {"code": RUNAWAY_CELL}]
    )
    deps = _deps(script, subject, calls_per_s=1000.0)
    code, out, run = _run(capsys, QUESTION, deps, "--code-mode", "free", "--budget", "tokens=20000")
    assert code == 2, out
    calls = events_of(read_events(run / "events.jsonl"), SubjectModelCalled)
    forwarded = [c for c in calls if c.refused is None]
    refused = [c for c in calls if c.refused is not None]
    assert 0 < len(forwarded) < 1000, len(forwarded)
    assert len(refused) == 1, "the first refusal ended the loop"
    assert "token budget is spent" in (refused[0].refused or "")
    assert len(subject.requests) == len(forwarded)
    [exhausted] = events_of(read_events(run / "events.jsonl"), BudgetExhausted)
    assert exhausted.budget == "tokens"
    result = json.loads((run / "cells" / "00.result.json").read_text())
    assert f"stopped after {len(forwarded)} calls" in result["stdout"]


TWO_CALLS = """
from tools.evals.endpoint import ChatClient, Endpoint
client = ChatClient(Endpoint.in_sandbox())
print("first", client.complete([{"role": "user", "content": "one"}], max_tokens=2))
print("second", client.complete([{"role": "user", "content": "two"}], max_tokens=2))
"""


def test_a_proxy_that_dies_mid_run_fails_the_cell_clearly_and_is_restarted_for_the_next(
    capsys: pytest.CaptureFixture[str],
) -> None:
    holder: dict[str, SubjectProxies] = {}

    def dies_after_answering(messages: list[dict[str, Any]]) -> str:
        if messages[-1]["content"] == "one":
            [run] = holder["proxies"].runs.values()
            run.proxy.stop()  # the proxy goes away mid-cell, after this answer
        return "A"

    subject = ScriptedSubject(dies_after_answering)
    fixed = FREE_CELL
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice("mc_eval"),
            plans(recipe="free", config={}),
            {"code": TWO_CALLS},
            {"code": fixed},
            analysis(metric="said_a"),
            critique(),
        ]
    )
    deps = _deps(script, subject)
    assert deps.subject is not None
    holder["proxies"] = deps.subject
    code, out, run = _run(capsys, QUESTION, deps, "--code-mode", "free")
    assert code == 0, out
    first = json.loads((run / "cells" / "00.result.json").read_text())
    assert first["status"] == "error"
    assert "first A" in first["stdout"]
    assert "the model proxy at /ara/model/model.sock answered HTTP 503" in first["error"]
    assert "the host stopped this model proxy; the run's next cell restarts it" in first["error"]
    second = json.loads((run / "cells" / "01.result.json").read_text())
    assert second["status"] == "ok", second
    assert (run / "cells" / "00.py").read_text().endswith(TWO_CALLS), "nothing stored was lost"


def test_a_subject_model_off_the_allow_list_is_refused_before_the_run_starts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARA_SUBJECT_MODEL", "gpt-4o")
    script = ScriptedLLM(replies=[])
    code, out, err = ara(capsys, "run", QUESTION, "--auto-approve-plans", deps=SessionDeps(llm=script.client()))
    assert code == 2
    assert "subject.model 'gpt-4o' is not on subject.allowed_models (embedded)" in out + err
    assert not (Path(os.environ["ARA_WORKSPACE"]) / "runs").exists() or not list(
        (Path(os.environ["ARA_WORKSPACE"]) / "runs").iterdir()
    )


def test_a_zero_token_budget_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    script = ScriptedLLM(replies=[])
    code, out, err = ara(capsys, "run", QUESTION, "--budget", "tokens=0", deps=SessionDeps(llm=script.client()))
    assert code == 2
    assert "--budget 'tokens=0': tokens Input should be greater than 0" in out + err
