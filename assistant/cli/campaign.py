"""``ara campaign run|add|worker|resume|status|summary|upgrade-db``, ``ara schedule ...`` and ``ara scheduler``.

``run`` drives one campaign in this process; ``add`` only queues it, for ``worker`` processes (on this or other
machines sharing ``ARA_DATABASE_URL``) to claim.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.markdown import Markdown

from assistant.campaign.progress import ProgressLines
from assistant.campaign.queue import FINAL, CampaignQueue, QueueError
from assistant.campaign.review_remote import PushingEntryRunner
from assistant.campaign.runner import CampaignRunner, EntryRunner
from assistant.campaign.schedule import Misfire, Scheduler, ScheduleStore, cron_lines, launch_detached
from assistant.campaign.spec import load_campaign
from assistant.campaign.summary import build_summary, render_markdown, write_summary
from assistant.campaign.workers import CampaignWorker, WorkerRegistry
from assistant.cli.common import echo_json, settings_from
from assistant.errors import AssistantError
from assistant.settings import Settings
from tools.errors import UserInputError

log = logging.getLogger(__name__)


def _entry_runner(ctx: click.Context, settings: Settings) -> EntryRunner:
    """The research-loop entry runner, with the dependencies injected through ``assistant.cli.main(deps=...)``
    (tests) or, by default, built from settings."""
    from assistant.campaign.entry_runner import ResearchEntryRunner
    from assistant.graph.session import SessionDeps

    deps = (ctx.find_root().obj or {}).get("session_deps")
    return ResearchEntryRunner(settings, deps if isinstance(deps, SessionDeps) else None)


def _chosen(queue: CampaignQueue, campaign_id: str | None) -> str:
    """The given campaign id, or the newest one; raises when the workspace has none."""
    chosen = campaign_id or queue.latest()
    if chosen is None:
        raise QueueError("no campaign in this workspace yet; start one with 'ara campaign run FILE'.")
    return chosen


def _write_summary(settings: Settings, queue: CampaignQueue, campaign_id: str) -> None:
    path = write_summary(settings.workspace, build_summary(queue, campaign_id))
    click.echo(f"campaign {campaign_id} finished; summary written to {path}", err=True)


def _drive(ctx: click.Context, settings: Settings, queue: CampaignQueue, campaign_id: str, as_json: bool) -> None:
    # This process runs the agent: the review gate refuses approvals from it (assistant.review.approve).
    os.environ["ARA_ROLE"] = "agent"
    record = queue.get(campaign_id)
    progress = ProgressLines(
        _entry_runner(ctx, settings),
        total=len(record.entries),
        write=lambda line: click.echo(line, err=True),
        already_final=sum(1 for e in record.entries if e.status in FINAL),
    )
    runner = CampaignRunner(queue, campaign_id, progress)
    with runner.signals_stop_it():
        result = runner.run()
    summary = build_summary(queue, campaign_id)
    path = write_summary(settings.workspace, summary)
    if as_json:
        status = "stopped" if result.stopped else "done"
        echo_json(
            {
                "campaign_id": campaign_id,
                "status": status,
                "result": result.model_dump(),
                "summary": summary.model_dump(),
                "summary_path": str(path),
            }
        )
    else:
        Console().print(Markdown(render_markdown(summary)))
        click.echo(f"summary written to {path}")
        if result.stopped:
            click.echo(f"stopped: {result.reason}. Continue with: ara campaign resume {campaign_id}", err=True)


@contextmanager
def _status_on_error(as_json: bool, campaign_id: str | None = None) -> Iterator[None]:
    """With ``--json``, a refused or failing ``campaign run``/``resume`` still prints one status object."""
    try:
        yield
    except (AssistantError, UserInputError) as err:
        if as_json:
            title = getattr(err, "title", "Invalid input")
            echo_json({"campaign_id": campaign_id, "status": "error", "failure": f"{title}: {err}"})
        raise


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
    with _status_on_error(as_json):
        settings = settings_from(ctx)
        spec = load_campaign(file, until=until)
        queue = CampaignQueue.from_settings(settings)
        unfinished = queue.unfinished_for(file.resolve())
        if unfinished is not None:
            raise QueueError(
                f"campaign {unfinished} from {file} is not finished; continue it with 'ara campaign resume "
                f"{unfinished}' (or let it finish) before starting the file again.",
                title="Campaign already queued",
            )
        campaign_id = queue.create(spec, file.resolve())
        click.echo(f"campaign {campaign_id}: {len(spec.entries)} entries, concurrency {spec.concurrency}", err=True)
    with _status_on_error(as_json, campaign_id):
        _drive(ctx, settings, queue, campaign_id, as_json)


@campaign.command("resume")
@click.argument("campaign_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def resume(ctx: click.Context, campaign_id: str | None, as_json: bool) -> None:
    """Continue a stopped or crashed campaign (default: the newest)."""
    with _status_on_error(as_json, campaign_id):
        settings = settings_from(ctx)
        queue = CampaignQueue.from_settings(settings)
        campaign_id = _chosen(queue, campaign_id)
        queue.get(campaign_id)
        _drive(ctx, settings, queue, campaign_id, as_json)


@campaign.command("status")
@click.argument("campaign_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, campaign_id: str | None, as_json: bool) -> None:
    """Each entry's status, attempts and heartbeat age; every worker, its lease and its current entries."""
    settings = settings_from(ctx)
    queue = CampaignQueue.from_settings(settings)
    campaign_id = _chosen(queue, campaign_id)
    record = queue.get(campaign_id)
    workers = WorkerRegistry(queue).list()
    if as_json:
        echo_json({**record.model_dump(mode="json"), "workers": [w.model_dump(mode="json") for w in workers]})
        return
    click.echo(
        f"campaign {record.id} ({record.name}): {record.status}"
        + (f", {record.stop_reason}" if record.stop_reason else "")
        + f"  [{queue.where}]"
    )
    now = queue.clock()
    names = {lease.run_id: w.name for w in workers for lease in w.leases}
    for e in record.entries:
        beat = f", heartbeat {now - e.heartbeat_at:.0f} s ago" if e.status == "running" and e.heartbeat_at else ""
        by = f", worker {names[e.run_id]}" if e.status == "running" and e.run_id in names else ""
        done_by = f", by {e.outcome.worker}" if e.outcome and e.outcome.worker else ""
        click.echo(
            f"  {e.entry.id:<24} {e.status:<14} attempts {e.attempts}{beat}{by}{done_by}"
            + (f"  {e.error}" if e.error else "")
        )
    if workers:
        click.echo("workers:")
    for w in workers:
        click.echo(
            f"  {w.name:<16} {w.state:<8} {w.host} pid {w.pid}, beat {now - w.heartbeat_at:.0f} s ago, "
            f"{w.entries_done} entries done"
        )
        for lease in w.leases:
            left = "" if lease.lease_until is None else f", lease {lease.lease_until - now:+.0f} s"
            click.echo(f"    running {lease.campaign_id}/{lease.entry_id} (run {lease.run_id}){left}")


@campaign.command("add")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--until", default=None, help="Deadline: HH:MM (next occurrence) or an ISO datetime.")
@click.pass_context
def add(ctx: click.Context, file: Path, until: str | None) -> None:
    """Queue every entry of FILE for workers ('ara campaign worker') without running anything here."""
    settings = settings_from(ctx)
    spec = load_campaign(file, until=until)
    queue = CampaignQueue.from_settings(settings)
    campaign_id = queue.create(spec, file.resolve())
    click.echo(f"campaign {campaign_id}: {len(spec.entries)} entries queued in {queue.where}")
    click.echo(campaign_id)


@campaign.command("worker")
@click.option("--name", required=True, help="This worker's name (one live process per name; shown by status).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True, help="Entries at once.")
@click.option("--exit-when-idle", is_flag=True, help="Exit when no running campaign has an entry left.")
@click.pass_context
def worker(ctx: click.Context, name: str, concurrency: int, exit_when_idle: bool) -> None:
    """Claim entries from every running campaign, run them, push proposals to the review remote (Ctrl-C stops)."""
    settings = settings_from(ctx)
    os.environ["ARA_ROLE"] = "agent"  # the review gate refuses approvals from this process
    queue = CampaignQueue.from_settings(settings)
    run_entry = PushingEntryRunner(
        _entry_runner(ctx, settings), name, settings.workspace, settings.campaign.review_remote
    )
    loop = CampaignWorker(
        queue, name, run_entry, concurrency=concurrency, exit_when_idle=exit_when_idle,
        on_campaign_finished=lambda cid: _write_summary(settings, queue, cid),
    )  # fmt: skip
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, lambda signum, _frame: loop.request_stop(signal.Signals(signum).name))
    signal.signal(signal.SIGINT, lambda signum, _frame: loop.request_stop(signal.Signals(signum).name))
    click.echo(f"worker {name} on {queue.where}; Ctrl-C stops after handing running entries back", err=True)
    try:
        result = loop.run()
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
    click.echo(f"worker {name}: {result.entries_done} entries done ({result.reason})")


@campaign.command("upgrade-db")
@click.pass_context
def upgrade_db(ctx: click.Context) -> None:
    """Upgrade the PostgreSQL campaign database to this ara's schema (stop older workers first; keeps every row)."""
    settings = settings_from(ctx)
    if settings.database.url is None:
        click.echo("no ARA_DATABASE_URL: the workspace's SQLite queue upgrades itself when opened")
        return
    from assistant.campaign.postgres import PostgresDatabase

    db = PostgresDatabase(settings.database.url.get_secret_value(), check_schema=False)
    try:
        before, after = db.upgrade()
    finally:
        db.close()
    click.echo(f"campaign database {db.where}: schema {before} -> {after}")


@campaign.command("summary")
@click.argument("campaign_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def summary(ctx: click.Context, campaign_id: str | None, as_json: bool) -> None:
    """The morning summary: outcomes, key numbers, proposals awaiting review, failures, spend."""
    settings = settings_from(ctx)
    queue = CampaignQueue.from_settings(settings)
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
    item = ScheduleStore(CampaignQueue.from_settings(settings)).add(file, cron, misfire)
    click.echo(f"schedule {item.id}: {item.cron} -> {item.file} (missed runs: {item.misfire})")


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def schedule_list(ctx: click.Context, as_json: bool) -> None:
    """Stored schedules."""
    settings = settings_from(ctx)
    items = ScheduleStore(CampaignQueue.from_settings(settings)).list()
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
    ScheduleStore(CampaignQueue.from_settings(settings)).remove(schedule_id)
    click.echo(f"removed schedule {schedule_id}")


@schedule.command("print-cron")
@click.pass_context
def print_cron(ctx: click.Context) -> None:
    """crontab lines for the stored schedules (for system cron or a systemd timer instead of 'ara scheduler')."""
    settings = settings_from(ctx)
    for line in cron_lines(settings.workspace, ScheduleStore(CampaignQueue.from_settings(settings)).list()):
        click.echo(line)


@click.command()
@click.option("--every", type=float, default=30.0, show_default=True, help="Seconds between checks.")
@click.option("--grace", type=float, default=3600.0, show_default=True, help="A fire later than this is 'missed'.")
@click.pass_context
def scheduler(ctx: click.Context, every: float, grace: float) -> None:
    """Long-running scheduler: launches due campaigns as detached 'ara campaign run' processes."""
    settings = settings_from(ctx)
    store = ScheduleStore(CampaignQueue.from_settings(settings))
    click.echo(f"scheduler on {settings.workspace}: {len(store.list())} schedule(s); Ctrl-C to stop", err=True)
    Scheduler(store, launch_detached(settings.workspace), grace_s=grace).run_forever(every_s=every)
