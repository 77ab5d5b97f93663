"""``ara review``: list, show, approve, reject and revise the agent's proposals.

Covers the command line over ``assistant.review`` (plain aligned text for ``list`` so 1,000 rows print fast,
``--json`` everywhere, the diff streamed in chunks through the printable filter, so no escape sequence from a
proposal reaches the terminal) and the interactive confirmation that makes an approval a human's: ``show``
prints the full head commit it displays (and, for a person at a terminal, records it as the head a human last
looked at); in a terminal ``approve`` merges that recorded head, or the one it shows, after asking; without a
terminal it needs ``--reviewer 'Name <email>'`` and ``--head <commit>``. ``verify`` checks the audit log. Does
not decide anything itself.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistant.paths import resolve_workspace
from assistant.review.errors import AuthorityError, ReviewerIdentityError, ReviewError, as_review_error
from tools.vcs.errors import VcsError
from tools.vcs.index import open_index

if TYPE_CHECKING:
    from assistant.review.identity import HumanAuthority
    from assistant.review.presentation import FileStat
    from assistant.review.service import ProposalView, ReviewService
    from tools.vcs.records import ProposalStatus

STATUSES = ("open", "approved", "rejected", "superseded", "all")


def is_interactive() -> bool:
    """A person at a terminal: stdin and stdout are both TTYs."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def is_person_reading() -> bool:
    """A person runs ``show``: stdin is a TTY (stdout may be a pager, as in ``ara review show 1 | less``)."""
    return sys.stdin.isatty()


def _say(text: str = "", **style: Any) -> None:
    """Print text that may hold model-written parts, with every control character made visible."""
    from assistant.review.printable import printable

    if style:
        click.secho(printable(text), **style)
    else:
        click.echo(printable(text))


@contextmanager
def _mapped_errors() -> Iterator[None]:
    try:
        yield
    except VcsError as err:
        raise as_review_error(err) from err


def _workspace_path(ctx: click.Context) -> Path:
    return resolve_workspace((ctx.find_root().obj or {}).get("workspace"))


def _service(ctx: click.Context) -> ReviewService:
    from assistant.review.service import ReviewService

    with _mapped_errors():
        return ReviewService.open(_workspace_path(ctx))


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON (local, so ``list`` does not import the settings machinery)."""
    click.echo(json.dumps(value, indent=2, default=str))


def _age(created: datetime, now: datetime) -> str:
    seconds = max(0, int((now - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@click.group()
def review() -> None:
    """Review the agent's proposals; only a person can approve (merge) one."""


@review.command("list")
@click.option("--status", type=click.Choice(STATUSES), default="all", show_default=True, help="Filter by status.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, status: str, as_json: bool) -> None:
    """Proposals, newest first: id, status, age, report check, summary and key numbers."""
    from assistant.review.compare import check_statuses
    from assistant.review.presentation import key_numbers

    path = _workspace_path(ctx)
    wanted: list[ProposalStatus] | None = None if status == "all" else [status]  # type: ignore[list-item]
    if not (path / ".git").exists():
        if as_json:
            echo_json([])
        else:
            click.echo(
                f"no proposals yet in {path} (no git repository there yet: the first run creates it); "
                'a run proposes its results when it finishes: ara run "question"'
            )
        return
    with _mapped_errors():
        rows = open_index(path).select_rows(wanted)
    checks = check_statuses(path, [(str(row["head_commit"] or ""), row["report_path"]) for row in rows])
    if as_json:
        echo_json([{**row, "check": check.model_dump()} for row, check in zip(rows, checks, strict=True)])
        return
    if not rows:
        click.echo(f"no {'' if status == 'all' else status + ' '}proposals in {path} yet")
        return
    now = datetime.now(UTC)
    lines = [f"{'ID':>5}  {'STATUS':<10}  {'AGE':>4}  {'CHECK':<10}  {'SUMMARY':<48}  KEY NUMBERS"]
    for row, check in zip(rows, checks, strict=True):
        subject = (str(row["summary"]).strip().splitlines() or [""])[0]
        subject = subject if len(subject) <= 48 else subject[:47] + "…"
        age = _age(datetime.fromisoformat(row["created_at"]), now)
        lines.append(
            f"{row['id']:>5}  {row['status']:<10}  {age:>4}  {check.state:<10}  {subject:<48}  "
            f"{key_numbers(row['results'])}"
        )
    _say("\n".join(lines))


def _actor(service: ReviewService) -> str:
    from assistant.review.identity import agent_role_active, resolve_reviewer
    from tools.vcs import AGENT_IDENTITY

    if agent_role_active():
        return f"{AGENT_IDENTITY} (ARA_ROLE=agent)"
    try:
        return str(resolve_reviewer(service.ws.path, None))
    except (ReviewerIdentityError, AuthorityError):
        return "unknown <no git identity>"


def _view_lines(view: ProposalView, *, full: bool = True, expand: bool = False) -> list[str]:
    """What ``show`` prints before the diff, as lines (model-written parts not yet made printable)."""
    from assistant.review.presentation import results_tables

    p = view.proposal
    lines = [f"proposal {p.id}  [{p.status}]  {p.branch}"]
    lines.append(f"run {p.run_id}  step {p.step}  created {p.created_at.isoformat(timespec='seconds')}")
    lines.append(f"base {p.base_commit[:12]}  head {view.reviewed_head}")
    if p.parent_id is not None:
        lines.append(f"revises proposal {p.parent_id} (compare: ara review diff {p.id} --against {p.parent_id})")
    if view.revisions:
        lines.append(f"revised by proposal(s) {', '.join(map(str, view.revisions))}")
    if p.reviewer:
        lines.append(f"decided by {p.reviewer} at {p.decided_at}: {p.comment or ''}")
    if view.check is not None:
        lines.append(f"check: {view.check.state} ({view.check.reason})")
    lines.extend(f"WARNING: {warning}" for warning in view.warnings)
    lines.extend(["", p.summary.strip(), ""])
    table = results_tables(view.results_document, p.results)
    if table:
        lines.append("results")
        lines.extend(table)
    cost = view.cost
    dollars = f", ${cost.dollars:.4f}" if cost.dollars is not None else ""
    wall = f", {cost.wall_s:.0f} s" if cost.wall_s is not None else ""
    lines.append(
        f"cost: {cost.llm_calls} LLM calls, {cost.prompt_tokens}+{cost.completion_tokens} tokens, "
        f"{cost.cells} cells{wall}{dollars}"
    )
    if view.references:
        lines.append("citations: " + ", ".join(f"{r.key} ({r.title})" for r in view.references))
    lines.extend(f"comment ({c.action}, {c.actor}): {c.text}" for c in view.comments)
    if full and view.report is not None:
        lines.extend(["", f"report ({p.report_path})", view.report.rstrip()])
    lines.extend(["", "files changed", *_file_lines(view.files, expand)])
    return lines


def _file_lines(files: list[FileStat], expand: bool) -> list[str]:
    """One stat line per changed file, generated ones marked (and, unless expanded, left out of the diff)."""
    shown = [f"  {f.line}" for f in files if not f.generated]
    generated = [f for f in files if f.generated]
    if generated:
        how = "shown in the diff below" if expand else "collapsed; --expand shows their diff"
        shown.append(f"  generated ({len(generated)}, {how}):")
        shown.extend(f"    {f.line}" for f in generated)
    return shown or ["  (no files changed)"]


def _page(chunks: Iterable[str]) -> None:
    """Print ``chunks`` (already printable): through a pager ($PAGER, else less) when stdout is a terminal.

    Never for a pipe or a file, and not with ``ARA_NO_PAGER`` set.
    """
    if sys.stdout.isatty() and not os.environ.get("ARA_NO_PAGER"):
        click.echo_via_pager(_without_final_newline(chunks))  # the pager adds one itself
        return
    out = sys.stdout.buffer
    for text in chunks:
        out.write(text.encode("utf-8"))
    out.flush()


def _without_final_newline(chunks: Iterable[str]) -> Iterator[str]:
    held: str | None = None
    for chunk in chunks:
        if held is not None:
            yield held
        held = chunk
    if held is not None:
        yield held.removesuffix("\n")


def _print_view(view: ProposalView, *, full: bool = True) -> None:
    for line in _view_lines(view, full=full):
        _say(line)


def _approve_hint(view: ProposalView) -> str:
    p = view.proposal
    if p.status != "open" or not view.branch_exists:
        return ""
    pinned = " (recorded as the head you reviewed)" if view.pinned else ""
    return (
        f"\nshown: head {view.reviewed_head}{pinned}\n"
        f"approve exactly this commit with: ara review approve {p.id} --head {view.reviewed_head}\n"
    )


def _prices(workspace: Path) -> tuple[float | None, float | None]:
    """LLM prices from the settings, loaded only where prices are configured at all.

    Importing the settings machinery costs more than the rest of ``show``; most setups (the embedded model)
    have no prices, so a cheap look at the environment and ``ara.toml`` decides whether it is needed.
    """
    toml = workspace / "ara.toml"
    configured = any(name.startswith("ARA_LLM_PRICE_") for name in os.environ) or (
        toml.is_file() and "price_" in toml.read_text(encoding="utf-8", errors="replace")
    )
    if not configured:
        return None, None
    from assistant.settings import load_settings

    llm = load_settings(workspace).llm
    return llm.price_in_per_mtok, llm.price_out_per_mtok


@review.command("show")
@click.argument("proposal_id", type=int)
@click.option("--no-diff", is_flag=True, help="Leave out the full diff.")
@click.option("--expand", is_flag=True, help="Show the diff of generated files (report.html, events.jsonl, ...) too.")
@click.option("--json", "as_json", is_flag=True, help="Print the view as JSON (no diff).")
@click.pass_context
def show(ctx: click.Context, proposal_id: int, no_diff: bool, expand: bool, as_json: bool) -> None:
    """Report, results, check, citations, cost, changed files and diff of a proposal (paged on a terminal)."""
    from assistant.review.identity import agent_role_active
    from assistant.review.printable import printable, printable_stream

    service = _service(ctx)
    price_in, price_out = _prices(service.ws.path)
    person = is_person_reading() and not agent_role_active()
    with _mapped_errors():
        view = service.show(
            proposal_id,
            actor=_actor(service),
            pin=person,
            channel="tty" if person else "non-interactive",
            price_in_per_mtok=price_in,
            price_out_per_mtok=price_out,
        )
        if as_json:
            echo_json(view.model_dump(mode="json"))
            return

        def chunks() -> Iterator[str]:
            yield printable("\n".join(_view_lines(view, expand=expand))) + "\n"
            if not no_diff:
                yield "\ndiff\n"
                yield from printable_stream(service.iter_diff(view, expand=expand))
            yield printable(_approve_hint(view))

        _page(chunks())


def _authorize(
    service: ReviewService, proposal_id: int, action: str, reviewer: str | None, interactive: bool
) -> HumanAuthority:
    """``authorize_decision``, with a refusal written to the audit log before it is raised."""
    from assistant.review.identity import authorize_decision

    try:
        return authorize_decision(service.ws.path, explicit_reviewer=reviewer, interactive=interactive)
    except (AuthorityError, ReviewerIdentityError) as err:
        service.record_refusal(proposal_id, reviewer or _actor(service), f"{action} refused: {err}")
        raise


@review.command("approve")
@click.argument("proposal_id", type=int)
@click.option("--head", default=None, help="The full head commit you reviewed ('ara review show' prints it).")
@click.option("--comment", default=None, help="Your comment, kept in the merge commit and the audit log.")
@click.option("--reviewer", default=None, help="'Name <email>': approve without a terminal, as this person.")
@click.option("--allow-outside", is_flag=True, help="Accept changes outside the proposal's run directory.")
@click.pass_context
def approve_cmd(
    ctx: click.Context,
    proposal_id: int,
    head: str | None,
    comment: str | None,
    reviewer: str | None,
    allow_outside: bool,
) -> None:
    """Merge a proposal into the main line (a person's decision: terminal confirmation or --reviewer --head)."""
    from assistant.review.approve import approve

    service = _service(ctx)
    with _mapped_errors():
        interactive = reviewer is None and is_interactive()
        if interactive:
            identity = _authorize(service, proposal_id, "approve", None, True).reviewer
            view = service.show(proposal_id, actor=str(identity), channel="tty")
            head = head or _looked_at(service, view)
            _print_view(view, full=False)
            _say(f"head {head}", bold=True)
            if not click.confirm(
                f"Approve proposal {proposal_id} at {head[:12]} and merge it into {service.ws.mainline} as {identity}?",
                default=False,
            ):
                raise ReviewError("approval cancelled; nothing was changed", title="Cancelled")
        authority = _authorize(service, proposal_id, "approve", reviewer, interactive)
        if head is None:
            message = (
                f"approving without a terminal needs --head <commit>: the full head commit that 'ara review show "
                f"{proposal_id}' printed, so exactly what you read is merged. Nothing was changed."
            )
            service.record_refusal(proposal_id, str(authority.reviewer), f"approve refused: {message}", "explicit")
            raise ReviewError(message, title="Head needed")
        result = approve(service, proposal_id, authority, head=head, comment=comment, allow_outside=allow_outside)
    where = "your checkout was fast-forwarded" if result.checkout_updated else "your checkout was not touched"
    _say(
        f"approved proposal {proposal_id}: merged {result.proposal.branch} at {head[:12]} into "
        f"{service.ws.mainline} as {result.merge_commit[:12]} by {authority.reviewer} ({where})"
    )
    if result.kept_local:
        _say("kept your newer local copies of (now shown as modified): " + ", ".join(result.kept_local))


def _looked_at(service: ReviewService, view: ProposalView) -> str:
    """The head an interactive approval merges: the one a human last looked at with ``show``, if any.

    Refuses when the branch moved after that look: the confirmation shows no diff, so approving the new head
    would merge commits nobody read.
    """
    from assistant.review.errors import StaleReviewError

    pinned = view.proposal.pinned_head
    if pinned is None or pinned == view.reviewed_head:
        return view.reviewed_head
    message = (
        f"proposal {view.proposal.id}: branch {view.proposal.branch} now points at {view.reviewed_head[:12]}, not at "
        f"the {pinned[:12]} shown to you by 'ara review show'. Read the new commits with 'ara review show "
        f"{view.proposal.id}' and approve again. Nothing was changed."
    )
    service.record_refusal(view.proposal.id, _actor(service), f"approve refused: {message}", "tty")
    raise StaleReviewError(message, title="Branch changed during review")


@review.command("reject")
@click.argument("proposal_id", type=int)
@click.option("--comment", required=True, help="What the agent should change (fed back for a revision).")
@click.option("--reviewer", default=None, help="'Name <email>': reject without a terminal, as this person.")
@click.pass_context
def reject(ctx: click.Context, proposal_id: int, comment: str, reviewer: str | None) -> None:
    """Reject a proposal; the branch is kept and the comment goes back to the agent."""
    service = _service(ctx)
    with _mapped_errors():
        authority = _authorize(service, proposal_id, "reject", reviewer, reviewer is None and is_interactive())
        proposal = service.reject(proposal_id, comment, authority)
    click.echo(f"rejected proposal {proposal.id} ({proposal.branch}); the agent will see your comment")


@review.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def verify(ctx: click.Context, as_json: bool) -> None:
    """Check the audit log: every record's MAC, the sequence, the chain and the tail (exit 2 when broken)."""
    from assistant.review.audit import AuditLog

    log = AuditLog(_workspace_path(ctx) / ".ara" / "audit.jsonl")
    check = log.verify()
    if as_json:
        echo_json(
            {
                "log": str(log.path),
                "records": check.records,
                "legacy": check.legacy,
                "key_file": str(check.key_file),
                "problems": [p._asdict() for p in check.problems],
            }
        )
    if check.problems:
        first = check.problems[0]
        more = f" ({len(check.problems) - 1} more problem(s) after it)" if len(check.problems) > 1 else ""
        raise ReviewError(
            f"{log.path}: {first}{more}. The log was changed outside ara; records from that one on cannot be "
            f"trusted. Keep the file as evidence, and compare with a backup or the main line's merge commits "
            f"(their Reviewed-by trailers).",
            title="Audit log broken",
        )
    if not as_json:
        legacy = f", {check.legacy} written before the log was keyed" if check.legacy else ""
        click.echo(f"audit log intact: {check.records} record(s){legacy}; key {check.key_file}")


@review.command("reindex")
@click.option("--force", is_flag=True, help="Rebuild even though the current index is healthy.")
@click.pass_context
def reindex(ctx: click.Context, force: bool) -> None:
    """Rebuild the proposal index from the ara/* branches, the approval merges and the audit log."""
    from assistant.review.reindex import rebuild_index
    from tools.vcs import Workspace

    with _mapped_errors():
        report = rebuild_index(Workspace.open(_workspace_path(ctx)), force=force)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.by_status.items())) or "none"
    _say(f"rebuilt the proposal index: {report.proposals} proposal(s) ({counts})")
    if report.replaced is not None:
        _say(f"the previous index file was kept as {report.replaced}")
    for line in report.skipped:
        _say(f"skipped {line}")


from assistant.cli.review_revisions import diff, revise  # noqa: E402  (they use the helpers above)

review.add_command(diff)
review.add_command(revise)
