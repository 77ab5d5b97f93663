"""Multiple-choice evals on Inspect with scripted models: logprob scoring, fallback, parsing, failures, files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from inspect_ai.log import read_eval_log
from inspect_ai.model import ChatMessage, GenerateConfig, Logprob, Logprobs, ModelOutput, TopLogprob, get_model
from pydantic import BaseModel

from tools.errors import UserInputError
from tools.evals.data import MCItem
from tools.evals.mc import MCEvalConfig, build_task, format_prompt, letter_logprobs, parse_letter, run_mc_eval, shuffled

ITEMS = [
    MCItem(
        id="t/a/0", task="misconceptions", category="a", question="Sky is blue.", choices=("True", "False"), answer=0
    ),
    MCItem(
        id="t/a/1", task="misconceptions", category="a", question="Fire is cold.", choices=("True", "False"), answer=1
    ),
    MCItem(id="t/b/2", task="misconceptions", category="b", question="2+2=5.", choices=("True", "False"), answer=1),
    MCItem(id="t/b/3", task="misconceptions", category="b", question="Ice melts.", choices=("True", "False"), answer=0),
]


def _config(tmp_path: Path, scoring: str = "logprobs") -> MCEvalConfig:
    return MCEvalConfig.model_validate(
        {
            "task": "misconceptions",
            "source": tmp_path,
            "endpoint": {"base_url": "http://127.0.0.1:9/v1", "model": "unused"},
            "run_dir": tmp_path / "run",
            "scoring": scoring,
            "max_connections": 1,
            "n_boot": 200,
        }
    )


def _target(messages: list[ChatMessage]) -> str:
    """The correct letter for the prompt in ``messages`` (scripted models know the answers)."""
    prompt = messages[0].text
    [item] = [i for i in ITEMS if i.question in prompt]
    return "AB"[shuffled(item, 0)[1]]


def _model(reply: Callable[[list[ChatMessage], GenerateConfig], ModelOutput], seen: list[dict[str, Any]]) -> Any:
    def outputs(messages: list[ChatMessage], tools: Any, tool_choice: Any, config: GenerateConfig) -> ModelOutput:
        seen.append({"prompt": messages[-1].text, "logprobs": config.logprobs, "max_tokens": config.max_tokens})
        return reply(messages, config)

    return get_model("mockllm/model", custom_outputs=outputs, memoize=False)


def _with_logprobs(top: list[tuple[str, float]]) -> ModelOutput:
    output = ModelOutput.from_content("mockllm", top[0][0])
    output.choices[0].logprobs = Logprobs(
        content=[
            Logprob(token=top[0][0], logprob=top[0][1], top_logprobs=[TopLogprob(token=t, logprob=lp) for t, lp in top])
        ]
    )
    return output


def test_prompt_format_and_shuffle_are_fixed() -> None:
    item = MCItem(id="x/x/0", task="truthful_qa", category="x", question="Q: 1+1?", choices=("2", "3", "4"), answer=0)
    choices, answer = shuffled(item, 0)
    assert sorted(choices) == ["2", "3", "4"]
    assert choices[answer] == "2"
    assert shuffled(item, 0) == (choices, answer)
    assert format_prompt(item, ["2", "3", "4"]) == (
        "Q: 1+1?\n\nA) 2\nB) 3\nC) 4\n\nWhich answer to the last question is true? Answer with the letter only."
    )


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("B", "B"),
        (" (b)", "B"),
        ("A) True", "A"),
        ("The answer is B.", "B"),
        ("False", "B"),
        ("maybe", None),
        ("Z", None),
    ],
)
def test_parse_letter(text: str, letter: str | None) -> None:
    assert parse_letter(text, 2, ["True", "False"]) == letter


def test_letter_logprobs_takes_best_variant_per_letter() -> None:
    top = [("The", -0.5), (" B", -1.0), ("A", -2.0), ("B", -1.5), ("C", -0.1)]
    assert letter_logprobs(top, 2) == {"B": -1.0, "A": -2.0}


def test_logprob_scoring_writes_log_and_results(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def reply(messages: list[ChatMessage], config: GenerateConfig) -> ModelOutput:
        target = _target(messages)
        wrong = "B" if target == "A" else "A"
        first = messages[0].text
        # right on category a, wrong on category b: accuracy 0.5, a = 1.0, b = 0.0
        best = target if ("Sky" in first or "Fire" in first) else wrong
        other = wrong if best == target else target
        return _with_logprobs([(best, -0.2), ("The", -1.0), (f" {other}", -2.0)])

    result = run_mc_eval(_config(tmp_path), items=ITEMS, model=_model(reply, seen))
    assert result.accuracy["mean"] == 0.5
    assert result.accuracy["values"] == [1.0, 1.0, 0.0, 0.0]
    assert {c: m["mean"] for c, m in result.by_category.items()} == {"a": 1.0, "b": 0.0}
    assert result.scoring_counts == {"logprobs": 4}
    assert result.expected_random == 0.5
    assert len(result.random_baseline["values"]) == 4
    assert all(s["logprobs"] is True and s["max_tokens"] == 1 for s in seen)
    assert sorted(s["prompt"] for s in seen)[0].endswith("Is the statement true or false? Answer with the letter only.")
    results = json.loads(result.results_path.read_text())
    assert results["schema"] == "ara.results/1"
    assert results["tool"] == "tools.evals.mc"
    assert results["metrics"]["accuracy"]["mean"] == 0.5
    assert results["metrics"]["accuracy_by_category.b"]["mean"] == 0.0
    assert results["tables"]["by_category"]["rows"][0][:2] == ["a", 2]
    assert "api_key" not in json.dumps(results["config"])
    assert json.loads((tmp_path / "run" / "config.json").read_text())["scoring"] == "logprobs"
    log = read_eval_log(str(result.log_path))
    assert log.status == "success"
    assert len(log.samples or []) == 4
    assert (
        result.log_path.parent == (tmp_path / "run" / "logs").resolve()
        or result.log_path.parent == tmp_path / "run" / "logs"
    )


def test_backend_without_logprobs_falls_back_and_says_so(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def reply(messages: list[ChatMessage], config: GenerateConfig) -> ModelOutput:
        return ModelOutput.from_content("mockllm", f"The answer is {_target(messages)}.")

    result = run_mc_eval(_config(tmp_path), items=ITEMS, model=_model(reply, seen))
    assert result.accuracy["mean"] == 1.0
    assert result.scoring_counts == {"generate": 4}
    assert result.fallback_reasons == {"the backend returned no top_logprobs for the first answer token": 4}
    assert [s["logprobs"] for s in seen].count(True) == 4
    assert [s["max_tokens"] for s in seen].count(16) == 4
    results = json.loads(result.results_path.read_text())
    assert results["metrics"]["n_fallback"] == {"value": 4}
    assert results["tables"]["fallback_reasons"]["rows"] == [
        ["the backend returned no top_logprobs for the first answer token", 4]
    ]


def test_answers_outside_the_choices_are_wrong_and_explained(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def reply(messages: list[ChatMessage], config: GenerateConfig) -> ModelOutput:
        return ModelOutput.from_content("mockllm", "I like turtles")

    result = run_mc_eval(_config(tmp_path, "generate"), items=ITEMS, model=_model(reply, seen))
    assert result.accuracy["mean"] == 0.0
    assert result.fallback_reasons == {}
    log = read_eval_log(str(result.log_path))
    score = next(iter((log.samples or [])[0].scores.values()))  # type: ignore[union-attr]
    assert score.answer is None
    assert score.explanation == "answer outside the choices: 'I like turtles'"


def test_failing_samples_count_as_wrong_not_dropped(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def reply(messages: list[ChatMessage], config: GenerateConfig) -> ModelOutput:
        if "Ice" in messages[0].text:
            raise TimeoutError("scripted timeout on Ice")
        if "Fire" in messages[0].text:
            raise RuntimeError("scripted server error on Fire")
        return ModelOutput.from_content("mockllm", _target(messages))

    result = run_mc_eval(_config(tmp_path, "generate"), items=ITEMS, model=_model(reply, seen))
    assert result.accuracy["n"] == 4
    assert result.accuracy["values"] == [1.0, 0.0, 1.0, 0.0]
    assert result.scoring_counts == {"generate": 2, "error": 2}
    fire, ice = sorted(result.errors)
    assert fire.startswith("t/a/1: ")
    assert "scripted server error on Fire" in fire
    assert ice == "t/b/3: no model output (the request timed out or failed)"
    assert json.loads(result.results_path.read_text())["metrics"]["n_errors"] == {"value": 2}


def test_empty_slice_is_an_error() -> None:
    with pytest.raises(UserInputError, match=r"no items to evaluate \(empty dataset slice\)"):
        build_task([])


def test_out_dir_overrides_run_dir_like_a_recipe_cell(tmp_path: Path) -> None:
    def reply(messages: list[ChatMessage], config: GenerateConfig) -> ModelOutput:
        return ModelOutput.from_content("mockllm", "A")

    result = run_mc_eval(_config(tmp_path, "generate"), tmp_path / "cell-out", items=ITEMS, model=_model(reply, []))
    assert result.results_path == tmp_path / "cell-out" / "results.json"
    assert json.loads(result.results_path.read_text())["config"]["run_dir"] == str(tmp_path / "cell-out")
    assert not (tmp_path / "run").exists()


def test_configs_have_model_fillable_schemas() -> None:
    from tools.evals import CoTConfig, HonestyProbeConfig, OversightConfig

    cases: list[tuple[type[BaseModel], list[str]]] = [
        (MCEvalConfig, ["task", "endpoint"]),
        (OversightConfig, ["task", "judge", "critic"]),
        (CoTConfig, ["task", "model"]),
        (HonestyProbeConfig, ["task"]),
    ]
    for cls, required in cases:
        assert cls.model_json_schema()["required"] == required


def test_default_source_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tools.evals.data import default_source

    monkeypatch.setenv("ARA_BIGBENCH_TASKS", str(tmp_path))
    assert default_source() == tmp_path
