"""A steering question through the loop: the steering tool is chosen, the kernel fits directions, the host measures
them against random directions of the same norm on held-out items, and the verdict comes from that interval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.budget import Budget
from assistant.events import InjectionBlocked
from assistant.llm.testing import ScriptedLLM
from assistant.recipes import default_registry
from assistant.runlog import events_of, read_events
from tests.graph.conftest import brief, critique, make_context, plans, start_in_memory, tool_choice
from tools.vcs import Workspace

QUESTION = "Does adding a truthfulness steering vector at a middle layer reduce the model's false answers?"


def test_the_steering_recipe_renders_a_cell_that_only_fits_directions() -> None:
    recipe = default_registry().get("steering")
    config = recipe.validate_config({"layer": 12, "coefficients": [2.0], "seeds": [0, 1, 2]})
    code = recipe.render(config, Path("."))
    assert "from tools.steering.heldout import fit_steering_task" in code
    assert recipe.host is not None
    assert set(recipe.host_fields) == {"cache_dir", "data_root"}
    assert recipe.card is not None
    assert recipe.card.seeds_field == "seeds"
    assert recipe.card.writes("effect.vs_random")


@pytest.mark.anyio
async def test_a_plan_naming_a_model_the_host_cannot_load_loses_it_before_approval(workspace: Workspace) -> None:
    """Seen with the default model: config 'model': 'subject_model' was approved, and the host's prepare step failed
    on it twice (the debug step may not change an approved field) before the run stopped."""
    config = {"model": "subject_model", "layer": 15, "coefficients": [1.0], "seeds": [0, 1, 2]}
    script = ScriptedLLM(replies=[brief(), tool_choice("steering"), plans(recipe="steering", config=config)])
    run = workspace.new_run("steering-model")
    ctx = make_context(script.client(), workspace, run.path, policy="ask")
    outcome = await start_in_memory(ctx, run, workspace, QUESTION)
    script.assert_done()
    assert outcome.status == "awaiting_approval"
    [plan] = outcome.plans
    assert plan.config["model"] == "smollm2-135m-instruct"
    assert (plan.config["layer"], plan.config["coefficients"]) == (15, [1.0])
    blocked = [(e.rule, e.detail) for e in events_of(read_events(run.path / "events.jsonl"), InjectionBlocked)]
    assert ("config_value_invalid", "steering: ['model']") in blocked


@pytest.mark.slow
@pytest.mark.timeout(1500)
@pytest.mark.anyio
async def test_a_steering_question_runs_the_steering_tool_with_its_random_control(
    workspace: Workspace, shared_dir: Path
) -> None:
    hypothesis = {
        "statement": "Steering along the truth direction beats a random direction of the same norm.",
        "metric": "effect.vs_random",
        "predicted": "increase",
    }
    config = {"layer": 12, "coefficients": [4.0], "seeds": [0, 1, 2], "n_direction": 8, "n_eval": 10}
    analysis = {
        "claims": [{"statement": "The steering effect was measured.", "about": ["H1"], "stance": "describes"}],
        "limitations": ["ten held-out items"],
    }
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice("steering"),
            plans(recipe="steering", config=config, hypotheses=[hypothesis]),
            analysis,
            critique(),
        ]
    )
    run = workspace.new_run("steering")
    ctx = make_context(script.client(), workspace, run.path, budget=Budget(followups=0))
    ctx.host_cache_dir = workspace.path / ".ara" / "cache"
    outcome = await start_in_memory(ctx, run, workspace, QUESTION)
    assert outcome.status == "done", outcome
    script.assert_done()
    results = json.loads((run.path / "results.json").read_text())
    assert results["verification"]["scored_by"] == "host"
    assert "accuracy.random.coef_4" in results["metrics"]
    held_out = results["provenance"]["eval_items"]
    assert len(held_out) == 10
    assert not any(item in (run.path / "work/steering_task.json").read_text() for item in held_out)
    assert sorted(p.name for p in (run.path / "work/submissions").iterdir()) == [
        "direction_seed0.npy",
        "direction_seed1.npy",
        "direction_seed2.npy",
    ]
    report = json.loads((run.path / "report.json").read_text())
    (h1,) = [h for h in report["hypotheses"] if h["id"] == "H1"]
    assert h1["verdict"] in ("supported", "refuted", "inconclusive")
    assert h1["over"] == "items"
