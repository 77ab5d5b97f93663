"""write_code and debug: the next cell, from the approved recipe config (recipe mode) or model-written code (free).

In recipe mode the recipe's template renders the cell of the next experiment of the run's tree
(``assistant.graph.tree.active_node``) from its config frozen at approval: what a person approved
is what runs, and no model text becomes code. In free mode the model's cell passes ``guard.check_free_code`` (import
allow-list, no dynamic code) or it is recorded as a blocked cell and never sent to a kernel. ``debug`` shows the
model the failing cell and its error quoted as data; in recipe mode it may change only the plan's ``open_fields``
(a change to any other field is refused and logged), and with none open the run stops with the error. The cell waits
in ``pending_code`` for ``run_cells``. Does not execute anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from assistant.events import DebugAttempted
from assistant.graph.context import RunContext
from assistant.graph.guard import ALLOWED_IMPORTS, check_free_code
from assistant.graph.nodes._common import (
    Update,
    ask,
    is_run_file,
    log_blocked,
    read_run_json,
    read_run_text,
    run_dir,
    traced,
)
from assistant.graph.nodes.planning import FREE
from assistant.graph.prompts import has_markers, quote_data
from assistant.graph.state import GraphState, plan_of
from assistant.graph.tree import PRIMARY, ExperimentNode, active_node
from assistant.recipes import Recipe
from assistant.schemas import ExperimentPlan, FreeCell

RESULTS_DIR = "."
"""Where cells write config.json, results.json and figures/: the kernel's working directory itself
(``runs/<id>/work/``, mounted at /ara/run inside the sandbox, so cells only ever use relative paths). The host
scores into, or adopts the cell's results into, the same relative place in ``runs/<id>/``, where
``assistant.report`` reads them; each cell's code and output stay in the host's cells/."""


def _free_prelude(out_dir: Path) -> str:
    return (
        "# ara: prelude written by the research loop\nimport pathlib\n"
        f"OUT_DIR = pathlib.Path({str(out_dir)!r})\nOUT_DIR.mkdir(parents=True, exist_ok=True)\n"
        "# ara: model-written cell below\n"
    )


def _free_pending(ctx: RunContext, state: GraphState, cell: FreeCell, node: str, source: str) -> dict[str, Any]:
    rel = RESULTS_DIR
    blocked = check_free_code(cell.code)
    for item in blocked:
        log_blocked(ctx, state, node, item.rule, item.detail)
    code = _free_prelude(Path(rel)) + cell.code
    return {
        "source": source,
        "recipe": None,
        "code": code,
        "out_dir": rel,
        "blocked": [b.for_model() for b in blocked],
    }


def _recipe_pending(recipe: Recipe, config: dict[str, Any], source: str, node: ExperimentNode | None) -> dict[str, Any]:
    """The cell of ``node`` (the main experiment when None): rendered in the kernel's directory as always; the host
    scores it, or adopts its results, into the node's own ``host_dir``."""
    validated = recipe.validate_config(config)
    rel = RESULTS_DIR
    return {
        "source": source,
        "recipe": recipe.name,
        "config": validated.model_dump(mode="json"),
        "code": recipe.render(validated, Path(rel)),
        "out_dir": rel,
        "host_dir": node.host_dir if node else rel,
        "experiment": node.id if node else PRIMARY,
        "blocked": [],
    }


def node_config(state: GraphState, plan: ExperimentPlan) -> tuple[ExperimentNode | None, dict[str, Any]]:
    """The node that runs next and its frozen config (the plan's config in a run from before the tree)."""
    node = active_node(state)
    return node, (dict(node.config) if node is not None else dict(plan.config))


@traced("write_code")
async def write_code(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Produce the first cell of the approved plan."""
    ctx = runtime.context
    plan = plan_of(state)
    if plan.recipe == FREE:
        cell = await ask(
            ctx,
            state,
            node="write_code",
            prompt="write_code.free",
            schema=FreeCell,
            plan=plan.model_dump_json(indent=1),
            allowed_imports=", ".join(sorted(ALLOWED_IMPORTS)),
        )
        return {"pending_code": _free_pending(ctx, state, cell, "write_code", "free")}
    node, config = node_config(state, plan)
    return {"pending_code": _recipe_pending(ctx.recipes.get(plan.recipe), config, "recipe", node)}


def failure_text(state: GraphState) -> tuple[str, str]:
    """The last cell's code and its error/output (read from the run directory)."""
    last = state["cells"][-1]
    directory = run_dir(state)
    code = read_run_text(directory, last["code_path"])
    result_rel = f"cells/{last['index']:02d}.result.json"
    result = read_run_json(directory, result_rel) if is_run_file(directory, result_rel) else {}
    parts = [f"status: {last['status']}", f"error: {last.get('error') or ''}"]
    for key in ("traceback", "stderr", "stdout"):
        if result.get(key):
            parts.append(f"{key}:\n{result[key]}")
    return code, "\n".join(parts)


@traced("debug")
async def debug(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Ask the model to fix the failing cell (a new config in recipe mode, new code in free mode)."""
    ctx = runtime.context
    attempt = state.get("debug_attempts", 0) + 1
    last = state["cells"][-1]
    ctx.runlog.append(DebugAttempted(run_id=state["run_id"], attempt=attempt, error=last.get("error") or ""))
    plan = plan_of(state)
    code, error = failure_text(state)
    if has_markers(error):
        log_blocked(ctx, state, "debug", "quote_markers_in_data", f"cell {last['index']} output")
    quoted_error = quote_data(error, source=f"cell {last['index']} output", limit=3000)
    if plan.recipe == FREE:
        cell = await ask(
            ctx,
            state,
            node="debug",
            prompt="debug.fix",
            schema=FreeCell,
            what="cell (JSON with 'code')",
            plan=plan.model_dump_json(indent=1),
            code=quote_data(code, source=f"cell {last['index']} code", limit=6000),
            error=quoted_error,
        )
        pending = _free_pending(ctx, state, cell, "debug", "debug")
    elif not plan.open_fields:
        fix = "edit the plan and start a new run, or resume after fixing the cause"
        if last["status"] == "timeout":  # the approved size is frozen; the time limit is the user's to raise
            fix = (
                f"a cell may run {ctx.cell_timeout_s:g} s: raise kernel.cell_timeout_s (ARA_KERNEL_CELL_TIMEOUT_S) "
                "and resume, or start a new run with a smaller plan (fewer items, seeds or conditions)"
            )
        return {
            "status": "failed",
            "failure": (
                f"the approved config of recipe {plan.recipe!r} failed ({last.get('error') or last['status']}) and the "
                f"plan left no field open for the loop to change; {fix} (ara resume {state['run_id']})"
            ),
            "debug_attempts": attempt,
        }
    else:
        recipe = ctx.recipes.get(plan.recipe)
        proposal = await ask(
            ctx,
            state,
            node="debug",
            prompt="debug.fix",
            schema=recipe.load_config(),
            what=f"config for recipe {plan.recipe} (you may change only: {', '.join(plan.open_fields)})",
            plan=plan.model_dump_json(indent=1),
            code=quote_data(code, source=f"cell {last['index']} code", limit=6000),
            error=quoted_error,
        )
        proposed = proposal.model_dump(mode="json")
        node, config = node_config(state, plan)
        for key, value in proposed.items():
            if key in plan.open_fields:
                config[key] = value
            elif key in config and value != config[key]:
                log_blocked(ctx, state, "debug", "approved_field_changed", f"{key}: {config[key]!r} -> {value!r}")
        pending = _recipe_pending(recipe, config, "debug", node)
    return {"pending_code": pending, "debug_attempts": attempt}
