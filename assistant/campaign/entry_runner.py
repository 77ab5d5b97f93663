"""Run one campaign entry as a research-loop run, with the campaign's policy answering the plan approval.

Covers starting (or resuming, on the entry's fixed run id) a run, answering its plan-approval interrupt from
the campaign ``ApprovalPolicy`` (allowed recipes and limits are approved as ``policy:campaign:<name>``; an explicit
plan entry replaces the model's plans through a ``modify`` approval; anything else is left waiting for a human),
stopping cleanly when the campaign stops (the graph task is cancelled and its last checkpoint kept), and turning
the run's outcome into an ``EntryOutcome`` with key numbers read from the run's ``results.json``. Does not approve
or merge change proposals: those wait for ``ara review``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from assistant.budget import Budget, budget_from_settings
from assistant.campaign.queue import EntryOutcome
from assistant.campaign.runner import EntryContext, EntryInterrupted
from assistant.graph import compile_graph, open_checkpointer, resume_run, start_run
from assistant.graph.context import RunContext
from assistant.graph.runner import RunOutcome
from assistant.schemas import Approval, ExperimentPlan
from assistant.settings import Settings

log = logging.getLogger(__name__)

ContextFactory = Callable[[Settings, Path, Budget], AbstractAsyncContextManager[RunContext]]
"""Builds the run's dependencies (LLM, kernels, library, workspace) for ``run_path`` under ``budget``."""


def key_metrics(run_dir: Path, limit: int = 6) -> dict[str, float]:
    """Headline numbers from the newest ``results.json`` under ``run_dir`` (means, or plain values)."""
    found = sorted(run_dir.rglob("results.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    if not found:
        return {}
    try:
        metrics = json.loads(found[0].read_text(encoding="utf-8")).get("metrics", {})
    except (OSError, ValueError):
        return {}
    out: dict[str, float] = {}
    for name, metric in metrics.items():
        value = metric.get("mean", metric.get("value")) if isinstance(metric, dict) else None
        if isinstance(value, (int, float)) and value == value:
            out[name] = float(value)
        if len(out) >= limit:
            break
    return out


def _explicit_plan(ctx: EntryContext) -> ExperimentPlan | None:
    entry = ctx.entry
    if entry.recipe is None:
        return None
    return ExperimentPlan(
        title=f"campaign entry {entry.id}",
        hypothesis=f"Explicit experiment from the campaign file (entry {entry.id}).",
        method=f"Run the '{entry.recipe}' recipe with the configuration given in the campaign file.",
        recipe=entry.recipe,
        config=entry.config,
    )


def _question(ctx: EntryContext) -> str:
    if ctx.entry.question is not None:
        return ctx.entry.question
    return f"Run the '{ctx.entry.recipe}' experiment with config {json.dumps(ctx.entry.config, sort_keys=True)}."


class ResearchEntryRunner:
    """The production ``EntryRunner``: one research-loop run per entry.

    Args:
        settings: Effective settings (workspace, LLM, kernels, budgets).
        open_context: Dependency factory; defaults to the one ``ara run`` uses.
    """

    def __init__(self, settings: Settings, open_context: ContextFactory | None = None) -> None:
        self.settings = settings
        if open_context is None:
            from assistant.graph.session import open_run_context

            open_context = open_run_context
        self.open_context = open_context
        self._git_lock = threading.Lock()

    def __call__(self, ctx: EntryContext) -> EntryOutcome:
        return asyncio.run(self._run_until_stopped(ctx))

    async def _run_until_stopped(self, ctx: EntryContext) -> EntryOutcome:
        task = asyncio.ensure_future(self._run(ctx))
        while not task.done():
            await asyncio.wait({task}, timeout=0.2)
            if ctx.stop.is_set() and not task.done():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    raise EntryInterrupted(
                        f"campaign stopping; run {ctx.run_id} keeps its last checkpoint and resumes later"
                    ) from None
        return task.result()

    def _run_dir(self, ctx: EntryContext) -> Path:
        from tools.vcs import Workspace
        from tools.vcs.errors import RunNotFoundError

        with self._git_lock:
            workspace = Workspace.open_or_create(self.settings.workspace)
            try:
                return workspace.run(ctx.run_id).path
            except RunNotFoundError:
                return workspace.new_run(f"{ctx.entry.id}", run_id=ctx.run_id).path

    def _budget(self, ctx: EntryContext) -> Budget:
        base = budget_from_settings(self.settings.run, ctx.token_budget or self.settings.llm.token_budget)
        if ctx.policy.max_wall_time_s is not None:
            base = base.model_copy(update={"wall_s": ctx.policy.max_wall_time_s})
        return base.model_copy(update={"cells": min(base.cells, ctx.policy.max_cells)})

    def _decide(self, ctx: EntryContext, outcome: RunOutcome) -> Approval | str:
        explicit = _explicit_plan(ctx)
        candidates: list[dict[str, Any]] = [explicit.model_dump()] if explicit else list(outcome.plans)
        reasons = []
        for index, plan in enumerate(candidates):
            allowed, why = ctx.policy.allows(str(plan.get("recipe")), cells=1)
            if allowed:
                reviewer = f"policy:campaign:{ctx.campaign_id}"
                if explicit is not None:
                    return Approval(decision="modify", reviewer=reviewer, plan=explicit, comment="explicit plan")
                return Approval(decision="approve", reviewer=reviewer, plan_index=index, comment=why)
            reasons.append(why)
        return "; ".join(reasons) or "the run proposed no plan"

    async def _run(self, ctx: EntryContext) -> EntryOutcome:
        run_dir = self._run_dir(ctx)
        async with (
            self.open_context(self.settings, run_dir, self._budget(ctx)) as run_ctx,
            open_checkpointer(self.settings.workspace) as saver,
        ):
            graph = compile_graph(saver)
            snapshot = await graph.aget_state({"configurable": {"thread_id": ctx.run_id}})
            if snapshot.values:
                outcome = await resume_run(graph, run_ctx, ctx.run_id)
            else:
                outcome = await start_run(
                    graph,
                    run_ctx,
                    run_id=ctx.run_id,
                    question=_question(ctx),
                    run_dir=run_dir,
                    workspace=self.settings.workspace,
                )
            if outcome.status == "awaiting_approval":
                decision = self._decide(ctx, outcome)
                if isinstance(decision, str):
                    return EntryOutcome(
                        status="waiting_human",
                        detail=f"{decision}; a person decides with: ara resume {ctx.run_id} --approve N",
                        tokens=outcome.tokens,
                    )
                outcome = await resume_run(graph, run_ctx, ctx.run_id, approval=decision)
        return self._outcome(outcome, run_dir)

    @staticmethod
    def _outcome(outcome: RunOutcome, run_dir: Path) -> EntryOutcome:
        if outcome.status == "done":
            return EntryOutcome(
                status="done",
                detail="proposal awaiting review" if outcome.proposal_id else "finished",
                proposal_id=outcome.proposal_id,
                report_path=outcome.report_path,
                key_metrics=key_metrics(run_dir),
                tokens=outcome.tokens,
            )
        return EntryOutcome(
            status="failed",
            detail=f"run ended {outcome.status}: {outcome.failure or 'no reason recorded'}",
            report_path=outcome.report_path,
            tokens=outcome.tokens,
        )
