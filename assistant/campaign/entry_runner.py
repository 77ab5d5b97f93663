"""Run one campaign entry as a research-loop run, with the campaign's policy answering the plan approval.

A thin caller of ``assistant.graph.session.RunSession`` (as ``ara run`` and the TUI are). Covers starting (or
resuming, on the entry's fixed run id) a run, answering its plan-approval interrupt from the campaign
``ApprovalPolicy`` (allowed recipes and limits are approved as ``policy:campaign:<name>``; an explicit plan entry
replaces the model's plans through a ``modify`` approval; each follow-up the loop then proposes is approved as
proposed when the policy allows its tool; anything else is left waiting for a human), stopping
cleanly when the campaign stops or gives up on a silent entry (the graph task is cancelled and its last checkpoint
kept), marking the entry's progress on every run-log event (the campaign's liveness check), and turning the run's
outcome into an ``EntryOutcome`` with key numbers from the run's ``results.json`` and the run's spend summed from its
run log (``run_spend``: every model call and cell the run made, across attempts and resumes, also when the run ends
in an error such as an exhausted budget). Does not approve or merge change proposals: those wait for ``ara review``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from assistant.budget import Budget, budget_from_settings
from assistant.campaign.queue import EntryOutcome
from assistant.campaign.runner import EntryContext, EntryInterrupted, TransientError, classify
from assistant.errors import AssistantError, BudgetExceededError
from assistant.events import CellExecuted, Event, LLMCalled
from assistant.graph.session import RunSession, SessionDeps, run_path
from assistant.runlog import events_of, read_events
from assistant.schemas import Approval, CodeMode, ExperimentPlan, RunOutcome
from assistant.settings import Settings
from tools.results import ResultsFileError, read_results

log = logging.getLogger(__name__)


def key_metrics(results_path: Path | None, limit: int = 6) -> dict[str, float]:
    """Headline numbers (means, or plain values) of the run's ``results.json``; none when it is absent or bad."""
    if results_path is None:
        return {}
    try:
        return read_results(results_path).headline(limit)
    except ResultsFileError as err:
        log.warning("no key numbers for the campaign summary: %s", err)
        return {}


class RunSpend(NamedTuple):
    """What a run spent, summed from its run log."""

    tokens: int
    """Prompt and completion tokens of every model call."""
    dollars: float
    """``tokens`` priced per million (0.0 when no prices are set)."""
    kernel_s: float
    """Seconds spent executing cells."""


def run_spend(events_path: Path, price_in_per_mtok: float | None, price_out_per_mtok: float | None) -> RunSpend:
    """The spend of the run whose log is ``events_path`` (all zero when the run never wrote one).

    The run log is the record: graph state counts a node's tokens only when the node finishes, so a run stopped by
    its budget or an error mid-node has spent more than its state says.
    """
    events = read_events(events_path)
    calls = events_of(events, LLMCalled)
    prompt = sum(c.prompt_tokens for c in calls)
    completion = sum(c.completion_tokens for c in calls)
    dollars = ((prompt * (price_in_per_mtok or 0.0)) + completion * (price_out_per_mtok or 0.0)) / 1e6
    kernel_s = sum(c.duration_s for c in events_of(events, CellExecuted))
    return RunSpend(tokens=prompt + completion, dollars=round(dollars, 6), kernel_s=kernel_s)


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
        deps: Injected dependencies of every entry's ``RunSession`` (None = built from settings).
    """

    def __init__(self, settings: Settings, deps: SessionDeps | None = None) -> None:
        self.settings = settings
        self.deps = deps

    def __call__(self, ctx: EntryContext) -> EntryOutcome:
        """Run the entry; a fault that ends the entry (not a transient one) becomes a ``failed`` outcome carrying
        the run's spend, which the supervisor could not know."""
        try:
            outcome = asyncio.run(self._run_until_stopped(ctx))
        except BudgetExceededError as err:
            detail = f"run budget exhausted: {str(err).replace('RUN_ID', ctx.run_id)}"
            outcome = EntryOutcome(status="failed", detail=detail)
        except (TransientError, EntryInterrupted):
            raise
        except AssistantError as err:
            if classify(err) != "entry":
                raise
            outcome = EntryOutcome(status="failed", detail=f"{type(err).__name__}: {err}")
        spend = run_spend(
            run_path(self.settings, ctx.run_id) / "events.jsonl",
            self.settings.llm.price_in_per_mtok,
            self.settings.llm.price_out_per_mtok,
        )
        return outcome.model_copy(update=spend._asdict())

    async def _run_until_stopped(self, ctx: EntryContext) -> EntryOutcome:
        task = asyncio.ensure_future(self._run(ctx))
        while not task.done():
            await asyncio.wait({task}, timeout=0.2)
            if (ctx.stop.is_set() or ctx.progress.abandoned.is_set()) and not task.done():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    raise EntryInterrupted(
                        f"campaign stopping; run {ctx.run_id} keeps its last checkpoint and resumes later"
                    ) from None
        return task.result()

    def _budget(self, ctx: EntryContext) -> Budget:
        base = budget_from_settings(self.settings.run, ctx.token_budget or self.settings.llm.token_budget)
        if ctx.policy.max_wall_time_s is not None:
            base = base.model_copy(update={"wall_s": ctx.policy.max_wall_time_s})
        return base.model_copy(update={"cells": min(base.cells, ctx.policy.max_cells)})

    def _decide(self, ctx: EntryContext, outcome: RunOutcome) -> Approval | str:
        # a follow-up the loop chose is approved as proposed when the policy allows its tool (the entry's explicit
        # plan answers only the first approval)
        explicit = None if outcome.next_node == "approve_followup" else _explicit_plan(ctx)
        candidates = [explicit] if explicit else list(outcome.plans)
        reasons = []
        for index, plan in enumerate(candidates):
            allowed, why = ctx.policy.allows(plan.recipe, cells=1)
            if allowed:
                reviewer = f"policy:campaign:{ctx.campaign_id}"
                if explicit is not None:
                    return Approval(decision="modify", reviewer=reviewer, plan=explicit, comment="explicit plan")
                return Approval(decision="approve", reviewer=reviewer, plan_index=index, comment=why)
            reasons.append(why)
        return "; ".join(reasons) or "the run proposed no plan"

    async def _run(self, ctx: EntryContext) -> EntryOutcome:
        listeners: list[Callable[[Event], None]] = [lambda event: ctx.progress.mark(type(event).__name__)]
        # a policy that never approves free code gets no free-code plans: offered beside the chosen tool, the
        # default model proposed three free-code plans for the critique question and the entry waited for a person
        code_mode: CodeMode | None = None if "free" in ctx.policy.allowed_recipes else "recipe"
        async with RunSession(
            self.settings, deps=self.deps, budget=self._budget(ctx), listeners=listeners, code_mode=code_mode
        ) as session:
            if await session.has_checkpoint(ctx.run_id):
                outcome = await session.resume(ctx.run_id)
            else:
                question = _question(ctx)
                run = session.new_run(question, run_id=ctx.run_id, slug=ctx.entry.id)
                outcome = await session.start(run, question)
            while outcome.status == "awaiting_approval":  # the plan, then each follow-up the loop proposes
                decision = self._decide(ctx, outcome)
                if isinstance(decision, str):
                    return EntryOutcome(
                        status="waiting_human",
                        detail=f"{decision}; a person decides with: ara resume {ctx.run_id} --approve N",
                        tokens=outcome.tokens,
                    )
                outcome = await session.resume(ctx.run_id, decision)
            return self._outcome(outcome, session.run_dir(ctx.run_id).path)

    @staticmethod
    def _outcome(outcome: RunOutcome, run_dir: Path) -> EntryOutcome:
        if outcome.status == "done":
            return EntryOutcome(
                status="done",
                detail="proposal awaiting review" if outcome.proposal_id else "finished",
                proposal_id=outcome.proposal_id,
                report_path=outcome.report_path,
                key_metrics=key_metrics(run_dir / outcome.results_path if outcome.results_path else None),
                tokens=outcome.tokens,
            )
        return EntryOutcome(
            status="failed",
            detail=f"run ended {outcome.status}: {outcome.failure or 'no reason recorded'}",
            report_path=outcome.report_path,
            tokens=outcome.tokens,
        )
