"""Fixtures for the research-loop tests: a real workspace repository, fakes for the paper library and kernels.

The kernel fake executes cells in this process (no sandbox): the loop's own logic is under test here, and
``tools.kernel`` has its own sandbox tests. Every LLM reply goes through the real ``openai`` SDK via
``ScriptedLLM``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel, ConfigDict

from assistant.budget import Budget
from assistant.cards import Knob, MetricSpec, ToolCard
from assistant.graph import compile_graph, start_run
from assistant.graph.context import RunContext
from assistant.llm.client import OpenAIClient
from assistant.recipes import Recipe, RecipeRegistry, default_registry
from assistant.runlog import RunLog
from assistant.schemas import RunOutcome
from tools.papers.citations import resolved_citation
from tools.papers.models import ResolvedCitation, UnknownCitationError
from tools.vcs import RunDir, Workspace


@dataclass(frozen=True)
class FakeHit:
    """A retrieved passage (the fields of ``tools.papers.Hit`` the loop reads)."""

    key: str
    title: str
    text: str
    anchor: str = "Introduction"
    score: float = 1.0


@dataclass
class FakeLibrary:
    """Returns the same hits for every query and records the queries."""

    hits: list[FakeHit]
    queries: list[str] = field(default_factory=list)

    def search(self, query: str, k: int = 6) -> list[FakeHit]:
        self.queries.append(query)
        return self.hits[:k]

    def resolve(self, key: str) -> ResolvedCitation:
        """The citation a key names (``UnknownCitationError`` when unknown), as ``PaperLibrary.resolve`` does."""
        for hit in self.hits:
            if hit.key == key:
                return resolved_citation(key, title=hit.title, year=2023, section=hit.anchor)
        raise UnknownCitationError(key)


@dataclass(frozen=True)
class FakeCellResult:
    """The fields of ``tools.kernel.CellResult`` the loop reads."""

    status: str
    stdout: str = ""
    stderr: str = ""
    error_name: str | None = None
    error_value: str | None = None
    traceback: tuple[str, ...] = ()


@dataclass
class InProcessSession:
    """Runs each cell with ``exec`` in one namespace; ``override`` can replace a cell's result (kernel output)."""

    run_dir: Path
    executed: list[str]
    override: Callable[[str, int], FakeCellResult | None] | None = None
    slow_marker: str | None = None
    namespace: dict[str, Any] = field(default_factory=dict)

    async def execute(self, code: str, timeout: float) -> FakeCellResult:
        self.executed.append(code)
        if self.override is not None:
            forced = self.override(code, len(self.executed) - 1)
            if forced is not None:
                return forced
        if self.slow_marker is not None and self.slow_marker in code:
            await asyncio.sleep(120)
        out = io.StringIO()
        try:
            with contextlib.chdir(self.run_dir), contextlib.redirect_stdout(out):
                exec(compile(code, "<cell>", "exec"), self.namespace)
        except Exception as err:  # noqa: BLE001 - a kernel reports any exception of the cell as its result
            return FakeCellResult(
                status="error",
                stdout=out.getvalue(),
                error_name=type(err).__name__,
                error_value=str(err),
                traceback=tuple(traceback.format_exception(err)),
            )
        return FakeCellResult(status="ok", stdout=out.getvalue())


@dataclass
class InProcessPool:
    """A kernel pool whose sessions run cells in this process."""

    executed: list[str] = field(default_factory=list)
    override: Callable[[str, int], FakeCellResult | None] | None = None
    shut_down: bool = False
    slow_marker: str | None = None
    """Cells containing this text wait (asynchronously, like a real kernel) for two minutes."""

    async def acquire(self, run_dir: Path) -> InProcessSession:
        return InProcessSession(run_dir, self.executed, self.override, self.slow_marker)

    async def shutdown(self) -> None:
        self.shut_down = True


class DivideConfig(BaseModel):
    """Test recipe config: the cell divides 1 by ``denominator`` (0 fails)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    denominator: int = 1


def _render_divide(config: BaseModel, out_dir: Path) -> str:
    assert isinstance(config, DivideConfig)
    return (
        "import json, pathlib\n"
        f"out = pathlib.Path({str(out_dir)!r}); out.mkdir(parents=True, exist_ok=True)\n"
        f"ratio = 1 / {config.denominator}\n"
        "doc = {'schema': 'ara.results/1', 'tool': 'tests.divide', 'title': 'divide', 'config': {},\n"
        "       'metrics': {'ratio': {'value': ratio}}, 'tables': {}, 'figures': {}, 'provenance': {}}\n"
        "(out / 'results.json').write_text(json.dumps(doc))\n"
        f"(out / 'config.json').write_text({config.model_dump_json()!r})\n"
    )


DIVIDE_CARD = ToolCard(
    name="divide",
    family="Divide one by a number: the research loop's test tool.",
    answers=["Does dividing one by two give one half?", "Does dividing by two halve one?", "What is one divided by n?"],
    conditions=["numerator", "denominator"],
    knobs=[Knob(name="denominator", meaning="what one is divided by")],
    metrics=[MetricSpec(name="ratio", meaning="one divided by the denominator")],
    method="The cell divides one by the configured denominator and writes the ratio.",
    seeds_field=None,
)
"""The test recipe's card: the loop's test questions are its examples, so the ranker offers it for them."""

DIVIDE = Recipe(
    name="divide",
    summary="Divide one by a number (test recipe).",
    load_config=lambda: DivideConfig,
    render=_render_divide,
    card=DIVIDE_CARD,
)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh workspace repository."""
    return Workspace.open_or_create(tmp_path / "ws")


def make_context(
    llm: OpenAIClient,
    workspace: Workspace,
    run_dir: Path,
    *,
    pool: InProcessPool | None = None,
    library: FakeLibrary | None = None,
    budget: Budget | None = None,
    policy: str = "auto-approve",
    code_mode: str = "recipe",
) -> RunContext:
    """A run context over the given fakes (the ``divide`` test recipe registered beside the built-ins)."""
    return RunContext(
        llm=llm,
        runlog=RunLog(run_dir / "events.jsonl"),
        workspace=workspace,
        kernels=pool or InProcessPool(),
        library=library,
        budget=budget or Budget(),
        approval_policy=policy,  # type: ignore[arg-type]
        code_mode=code_mode,  # type: ignore[arg-type]
        recipes=recipes_with_divide(),
    )


def recipes_with_divide() -> RecipeRegistry:
    """The built-in recipes plus the ``divide`` test recipe."""
    recipes = default_registry()
    recipes.register(DIVIDE)
    return recipes


async def start_in_memory(ctx: RunContext, run: RunDir, workspace: Workspace, question: str) -> RunOutcome:
    """Start ``run`` over an in-memory checkpointer (the common case of the loop tests)."""
    return await start_run(
        compile_graph(InMemorySaver()),
        ctx,
        run_id=run.run_id,
        question=question,
        run_dir=run.path,
        workspace=workspace.path,
    )


# -- scripted replies ---------------------------------------------------------------------------------------
def brief(queries: list[str] | None = None) -> dict[str, Any]:
    return {
        "objective": "Measure weak-to-strong generalization on a synthetic task.",
        "key_terms": ["weak-to-strong", "PGR"],
        "search_queries": queries if queries is not None else ["weak to strong generalization"],
        "success_criteria": "PGR above zero",
    }


def plans(
    recipe: str = "divide", config: dict[str, Any] | None = None, citations: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    plan = {
        "title": "Divide test",
        "hypothesis": "A strong student recovers part of the gap.",
        "method": "Run the recipe.",
        "recipe": recipe,
        "config": config if config is not None else {"denominator": 2},
        "expected_outcome": "ratio is one half",
        "controls": [],
        "seeds": [0],
        "citations": citations if citations is not None else [],
        **extra,
    }
    return {"plans": [plan]}


def analysis(metric: str = "ratio", **extra: Any) -> dict[str, Any]:
    return {
        "claims": [{"statement": "The ratio is what the plan expected.", "about": [metric], "stance": "describes"}],
        "limitations": ["a single seed"],
        **extra,
    }


def tool_choice(tool: str = "divide", reason: str = "its metric measures what the question asks") -> dict[str, Any]:
    return {"tool": tool, "reason": reason}


def critique(tests: str = "yes") -> dict[str, Any]:
    return {
        "tests_question": tests,
        "why": "the metric is the quantity asked about",
        "confounds": ["floating-point rounding"],
        "follow_ups": ["divide by other numbers"],
    }


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
