"""The morning summary: every entry's outcome, key numbers, proposals awaiting review, failures and spend.

Covers building a typed ``MorningSummary`` from the queue and rendering it as Markdown (for the terminal, the
TUI and ``<workspace>/.ara/campaigns/<id>/summary.md``). Does not fetch anything beyond the queue's records.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from assistant.campaign.queue import CampaignQueue, EntryStatus
from assistant.paths import ensure_state_dir


class EntryLine(BaseModel):
    """One row of the summary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entry_id: str
    kind: str
    status: EntryStatus
    attempts: int
    run_id: str
    proposal_id: str | None
    report_path: str | None
    key_metrics: dict[str, float]
    reason: str | None
    worker: str | None = None
    """The worker that finished it (campaigns run by workers)."""
    push_error: str | None = None
    """Why its proposal branch did not reach the review remote (the proposal is kept)."""


class MorningSummary(BaseModel):
    """What a researcher reads in the morning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    campaign_id: str
    name: str
    status: str
    stop_reason: str | None
    entries: list[EntryLine]
    awaiting_review: list[str]
    """Proposal ids awaiting a human reviewer."""
    failures: list[EntryLine]
    tokens: int
    dollars: float
    kernel_hours: float
    wall_hours: float


def build_summary(queue: CampaignQueue, campaign_id: str) -> MorningSummary:
    """Collect the summary of one campaign."""
    record = queue.get(campaign_id)
    lines = [
        EntryLine(
            entry_id=e.entry.id,
            kind=e.entry.kind,
            status=e.status,
            attempts=e.attempts,
            run_id=e.run_id,
            proposal_id=e.outcome.proposal_id if e.outcome else None,
            report_path=e.outcome.report_path if e.outcome else None,
            key_metrics=e.outcome.key_metrics if e.outcome else {},
            reason=(e.outcome.detail if e.outcome and e.outcome.status != "done" else None) or e.error,
            worker=e.outcome.worker if e.outcome else None,
            push_error=e.outcome.push_error if e.outcome else None,
        )
        for e in record.entries
    ]
    return MorningSummary(
        campaign_id=record.id,
        name=record.name,
        status=record.status,
        stop_reason=record.stop_reason,
        entries=lines,
        awaiting_review=[line.proposal_id for line in lines if line.proposal_id and line.status == "done"],
        failures=[line for line in lines if line.status in ("failed", "waiting_human", "skipped") or line.push_error],
        tokens=record.tokens,
        dollars=record.dollars,
        kernel_hours=record.kernel_s / 3600,
        wall_hours=record.wall_s / 3600,
    )


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")[:160]


def render_markdown(summary: MorningSummary) -> str:
    """The summary as Markdown."""
    out = [
        f"# Campaign {summary.name} ({summary.campaign_id})",
        "",
        f"Status: **{summary.status}**" + (f" ({summary.stop_reason})" if summary.stop_reason else ""),
        "",
        f"Spend: {summary.tokens:,} tokens, ${summary.dollars:.2f}, {summary.kernel_hours:.2f} kernel-hours, "
        f"{summary.wall_hours:.2f} h wall time.",
        "",
        "| entry | kind | status | attempts | proposal | key numbers | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for line in summary.entries:
        numbers = ", ".join(f"{k}={v:.3g}" for k, v in list(line.key_metrics.items())[:4])
        out.append(
            f"| {_cell(line.entry_id)} | {line.kind} | {line.status} | {line.attempts} | {line.proposal_id or ''} "
            f"| {_cell(numbers)} | {_cell(line.reason)} |"
        )
    out += ["", "## Proposals awaiting review", ""]
    out += [f"- `{p}`: `ara review show {p}`" for p in summary.awaiting_review] or ["(none)"]
    out += ["", "## Needs attention", ""]
    out += [
        f"- {f.entry_id} ({f.status}): {f.push_error if f.push_error and f.status == 'done' else f.reason or 'no reason recorded'}"
        for f in summary.failures
    ] or ["(none)"]
    workers: dict[str, int] = {}
    for line in summary.entries:
        if line.worker:
            workers[line.worker] = workers.get(line.worker, 0) + 1
    if workers:
        out += ["", "## Workers", ""]
        out += [f"- {name}: {count} entries" for name, count in sorted(workers.items())]
    return "\n".join(out) + "\n"


def write_summary(workspace: Path, summary: MorningSummary) -> Path:
    """Write ``summary.md`` under ``<workspace>/.ara/campaigns/<id>/``."""
    path = ensure_state_dir(workspace, "campaigns", summary.campaign_id) / "summary.md"
    stamp = datetime.now().astimezone().isoformat(timespec="seconds")
    path.write_text(render_markdown(summary) + f"\n_Written {stamp}._\n", encoding="utf-8")
    return path
