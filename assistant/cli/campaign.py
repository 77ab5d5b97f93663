"""``ara campaign run|resume|status|summary``, ``ara schedule add|list|remove|print-cron`` and ``ara scheduler``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click
from rich.console import Console
from rich.markdown import Markdown

from assistant.campaign.queue import CampaignQueue, QueueError
from assistant.campaign.runner import CampaignRunner, EntryRunner
from assistant.campaign.schedule import Misfire, Scheduler, ScheduleStore, cron_lines, launch_detached
from assistant.campaign.spec import load_campaign
from assistant.campaign.summary import build_summary, render_markdown, write_summary
from assistant.cli.common import echo_json, settings_from
from assistant.settings import Settings

log = logging.getLogger(__name__)


def _entry_runner(settings: Settings) -> EntryRunner:
    from assistant.campaign.entry_runner import ResearchEntryRunner

    return ResearchEntryRunner(settings)


def _chosen(queue: CampaignQueue, campaign_id: str | None) -> str:
    """The given campaign id, or the newest one; raises when the workspace has none."""
    chosen = campaign_id or queue.latest()
    if chosen is None:
        raise QueueError("no campaign in this workspace yet; start one with 'ara campaign run FILE'.")
    return chosen


def _drive(settings: Settings, queue: CampaignQueue, campaign_id: str, as_json: bool) -> None:
    # This process runs the agent: the review gate refuses approvals from it (assistant.review.approve).
    os.environ["ARA_ROLE"] = "agent"
    runner = CampaignRunner(queue, campaign_id, _entry_runner(settings))
    runner.install_signal_handlers()
    result = runner.run()
    summary = build_summary(queue, campaign_id)
    path = write_summary(settings.workspace, summary)
    if as_json:
        echo_json({"result": result.model_dump(), "summary": summary.model_dump(), "summary_path": str(path)})
    else:
        Console().print(Markdown(render_markdown(summary)))
        click.echo(f"summary written to {path}")
        if result.stopped:
            click.echo(f"stopped: {result.reason}. Continue with: ara campaign resume {campaign_id}", err=True)


@click.group()
def campaign() -> None:
    """Overnight campaigns: queued research runs that survive crashes (see docs/campaigns.md)."""


@campaign.command("run")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--until", default=None, help="Deadline: HH:MM (next occurrence) or an ISO datetime.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def run(ctx: click.Context, file: Path, until: str | None, as_json: bool) -> None:
    """Queue every entry of FILE and run them (N at once, per the file's concurrency)."""
    settings = settings_from(ctx)
    spec = load_campaign(file, until=until)
    queue = CampaignQueue(settings.workspace)
    unfinished = queue.unfinished_for(file.resolve())
    if unfinished is not None:
        raise QueueError(
            f"campaign {unfinished} from {file} is not finished; continue it with 'ara campaign resume {unfinished}' "
            "(or let it finish) before starting the file again.",
            title="Campaign already queued",
        )
    campaign_id = queue.create(spec, file.resolve())
    click.echo(f"campaign {campaign_id}: {len(spec.entries)} entries, concurrency {spec.concurrency}", err=True)
    _drive(settings, queue, campaign_id, as_json)


@campaign.command("resume")
@click.argument("campaign_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def resume(ctx: click.Context, campaign_id: str | None, as_json: bool) -> None:
    """Continue a stopped or crashed campaign (default: the newest)."""
    settings = settings_from(ctx)
    queue = CampaignQueue(settings.workspace)
    campaign_id = _chosen(queue, campaign_id)
    queue.get(campaign_id)
    _drive(settings, queue, campaign_id, as_json)


@campaign.command("status")
@click.argument("campaign_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, campaign_id: str | None, as_json: bool) -> None:
    """Each entry's status, attempts and heartbeat age."""
    settings = settings_from(ctx)
    queue = CampaignQueue(settings.workspace)
    campaign_id = _chosen(queue, campaign_id)
    record = queue.get(campaign_id)
    if as_json:
        echo_json(record.model_dump(mode="json"))
        return
    click.echo(
        f"campaign {record.id} ({record.name}): {record.status}"
        + (f", {record.stop_reason}" if record.stop_reason else "")
    )
    now = queue.clock()
    for e in record.entries:
        beat = f", heartbeat {now - e.heartbeat_at:.0f} s ago" if e.status == "running" and e.heartbeat_at else ""
        click.echo(
            f"  {e.entry.id:<24} {e.status:<14} attempts {e.attempts}{beat}" + (f"  {e.error}" if e.error else "")
        )


@campaign.command("summary")
@click.argument("campaign_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def summary(ctx: click.Context, campaign_id: str | None, as_json: bool) -> None:
    """The morning summary: outcomes, key numbers, proposals awaiting review, failures, spend."""
    settings = settings_from(ctx)
    queue = CampaignQueue(settings.workspace)
    campaign_id = _chosen(queue, campaign_id)
    result = build_summary(queue, campaign_id)
    if as_json:
        echo_json(result.model_dump())
    else:
        Console().print(Markdown(render_markdown(result)))


@click.group()
def schedule() -> None:
    """Cron schedules for campaign files (fired by 'ara scheduler' or system cron)."""


@schedule.command("add")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--cron", required=True, help='Five-field cron expression, e.g. "0 1 * * *".')
@click.option(
    "--misfire",
    type=click.Choice(["run_once", "run_all", "skip"]),
    default="run_once",
    show_default=True,
    help="What to do with runs missed while the scheduler was down.",
)
@click.pass_context
def schedule_add(ctx: click.Context, file: Path, cron: str, misfire: Misfire) -> None:
    """Run FILE on a cron schedule."""
    settings = settings_from(ctx)
    item = ScheduleStore(CampaignQueue(settings.workspace)).add(file, cron, misfire)
    click.echo(f"schedule {item.id}: {item.cron} -> {item.file} (missed runs: {item.misfire})")


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def schedule_list(ctx: click.Context, as_json: bool) -> None:
    """Stored schedules."""
    settings = settings_from(ctx)
    items = ScheduleStore(CampaignQueue(settings.workspace)).list()
    if as_json:
        echo_json([s.model_dump() for s in items])
        return
    for s in items:
        click.echo(f"{s.id}  {s.cron:<15} {s.misfire:<9} {s.file}")


@schedule.command("remove")
@click.argument("schedule_id")
@click.pass_context
def schedule_remove(ctx: click.Context, schedule_id: str) -> None:
    """Delete a schedule."""
    settings = settings_from(ctx)
    ScheduleStore(CampaignQueue(settings.workspace)).remove(schedule_id)
    click.echo(f"removed schedule {schedule_id}")


@schedule.command("print-cron")
@click.pass_context
def print_cron(ctx: click.Context) -> None:
    """crontab lines for the stored schedules (for system cron or a systemd timer instead of 'ara scheduler')."""
    settings = settings_from(ctx)
    for line in cron_lines(settings.workspace, ScheduleStore(CampaignQueue(settings.workspace)).list()):
        click.echo(line)


@click.command()
@click.option("--every", type=float, default=30.0, show_default=True, help="Seconds between checks.")
@click.option("--grace", type=float, default=3600.0, show_default=True, help="A fire later than this is 'missed'.")
@click.pass_context
def scheduler(ctx: click.Context, every: float, grace: float) -> None:
    """Long-running scheduler: launches due campaigns as detached 'ara campaign run' processes."""
    settings = settings_from(ctx)
    store = ScheduleStore(CampaignQueue(settings.workspace))
    click.echo(f"scheduler on {settings.workspace}: {len(store.list())} schedule(s); Ctrl-C to stop", err=True)
    Scheduler(store, launch_detached(settings.workspace), grace_s=grace).run_forever(every_s=every)
