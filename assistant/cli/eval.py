"""``ara eval TASK``: a shipped multiple-choice eval on Inspect against the configured model, logs beside runs.

Covers choosing the endpoint (``llm.base_url`` from the settings, else the embedded model server, started if
needed and said so), making an eval directory under ``<workspace>/runs/`` (the run id names it, as research runs
are named), running ``tools.evals.mc.run_mc_eval`` there (Inspect's ``.eval`` log under ``logs/``, ``results.json``
and ``config.json`` beside it) and printing the accuracy with its interval against the random baseline measured
in the same run. An unknown task is refused before anything is made, with the known ones listed. Does not cover
the eval itself (``tools.evals``) or the research loop's use of it as a recipe.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import click

from assistant.cli.common import echo_json, settings_from
from assistant.errors import AssistantError
from assistant.settings import Settings


def known_tasks() -> list[str]:
    """The shipped multiple-choice eval tasks (BIG-bench files read offline), sorted."""
    from tools.datasets.bigbench import TaskName

    return sorted(get_args(TaskName))


def _endpoint(settings: Settings) -> tuple[dict[str, object], str | None]:
    """The endpoint to evaluate (as ``tools.evals.Endpoint`` fields) and a note when ara started a server for it."""
    llm = settings.llm
    if llm.base_url is not None:
        key = llm.api_key.get_secret_value() if llm.api_key else "none"
        fields: dict[str, object] = {"base_url": llm.base_url, "model": llm.model, "api_key": key or "none"}
        return {**fields, "timeout_s": llm.timeout_s}, None
    from assistant.llm.local_server import LocalServer

    server = LocalServer(settings.workspace, settings.local_llm)
    was_running = server.running() is not None
    info = server.ensure()
    note = None if was_running else f"started the embedded model server ({info.alias}); stop it with: ara llm stop"
    return {"base_url": info.base_url, "model": info.alias, "api_key": "local"}, note


def _f(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "n/a"


@click.command("eval")
@click.argument("task")
@click.option("--limit", type=click.IntRange(1), default=None, help="First N items per category (default: all).")
@click.option(
    "--scoring",
    type=click.Choice(["logprobs", "generate"]),
    default="logprobs",
    show_default=True,
    help="Letter log-probabilities (falls back to generation per item), or generation only.",
)
@click.option(
    "--source",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="BIG-bench benchmark_tasks directory, sdist tarball or task JSON (default: the shared copy).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Option shuffling, baseline and bootstrap seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def eval_(
    ctx: click.Context,
    task: str,
    limit: int | None,
    scoring: str,
    source: Path | None,
    seed: int,
    as_json: bool,
) -> None:
    """Run the shipped eval TASK (e.g. truthful_qa) on Inspect against the configured model.

    Inspect's log, results.json and config.json go to <workspace>/runs/<eval id>/ (open the log with
    'inspect view --log-dir <that dir>/logs').
    """
    tasks = known_tasks()
    if task not in tasks:
        raise AssistantError(
            f"unknown eval task {task!r}; the shipped tasks are: {', '.join(tasks)}. Run one with: ara eval "
            f"{tasks[0]} --limit 20",
            title="Unknown eval task",
        )
    from tools.evals.mc import MCEvalConfig, run_mc_eval
    from tools.vcs import Workspace

    settings = settings_from(ctx)
    endpoint, note = _endpoint(settings)
    if note and not as_json:
        click.echo(note, err=True)
    run = Workspace.open_or_create(settings.workspace).new_run(f"eval {task}")
    config = MCEvalConfig.model_validate(
        {
            "task": task,
            "source": source,
            "endpoint": endpoint,
            "run_dir": run.path,
            "limit": limit,
            "scoring": scoring,
            "seed": seed,
        }
    )
    if not as_json:
        click.echo(f"eval {task} ({endpoint['model']} @ {endpoint['base_url']}) in {run.path}", err=True)
    result = run_mc_eval(config)
    if as_json:
        echo_json({"eval_id": run.run_id, "task": task, **result.model_dump(mode="json")})
        return
    acc, base = result.accuracy, result.random_baseline
    click.echo(
        f"{task}: accuracy {_f(acc['mean'])} [{_f(acc['ci_low'])}, {_f(acc['ci_high'])}] over {acc['n']} item(s); "
        f"random baseline {_f(base['mean'])} (expected {_f(result.expected_random)})"
    )
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.scoring_counts.items()))
    click.echo(f"scored by: {counts}")
    for reason, n in result.fallback_reasons.items():
        click.echo(f"fell back to generation ({n}): {reason}")
    click.echo(f"results: {result.results_path}")
    click.echo(f"Inspect log: {result.log_path} (inspect view --log-dir {result.log_path.parent})")
