"""``ara review diff`` and ``ara review revise``: comparing revisions, and making the next one.

``diff ID --against REV`` shows what changed between a proposal and an earlier revision (a proposal id) or any git
revision, generated files collapsed as in ``show``, paged on a terminal. ``revise ID`` re-runs the agent through
``assistant.graph.session.RunSession`` (the one run driver, via ``assistant.cli.run``) on the proposal's question
with the reviewers' comments, linking the new proposal to the old one, or refuses when nothing would change;
``--files-only`` proposes the run's edited files again instead. Registered on the ``review`` group by
``assistant.cli.review``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from assistant.cli.review import _file_lines, _mapped_errors, _page, _service, echo_json

if TYPE_CHECKING:
    from assistant.review.service import ReviewService


@click.command("diff")
@click.argument("proposal_id", type=int)
@click.option(
    "--against",
    "against",
    required=True,
    help="An earlier revision's proposal id, or a git revision (commit, branch, tag).",
)
@click.option("--expand", is_flag=True, help="Show the diff of generated files too.")
@click.option("--json", "as_json", is_flag=True, help="Print the changed files as JSON (no diff).")
@click.pass_context
def diff(ctx: click.Context, proposal_id: int, against: str, expand: bool, as_json: bool) -> None:
    """What changed between PROPOSAL_ID and an earlier revision (paged on a terminal)."""
    from assistant.review.compare import compare, iter_comparison
    from assistant.review.printable import printable, printable_stream

    service = _service(ctx)
    with _mapped_errors():
        comparison = compare(service, proposal_id, against)
        if as_json:
            echo_json(comparison.model_dump(mode="json"))
            return
        if comparison.prefix:
            what = f"proposal {proposal_id} ({comparison.new}) against proposal {against} ({comparison.old})"
        else:
            what = f"proposal {proposal_id} at {comparison.new[:12]} against {against} ({comparison.old[:12]})"
        lines = [what, "", "files changed", *_file_lines(comparison.files, expand)]
        if not comparison.files:
            lines = [what, "", "no differences"]

        def chunks() -> Iterator[str]:
            yield printable("\n".join(lines)) + "\n"
            if comparison.files:
                yield "\ndiff\n"
                yield from printable_stream(iter_comparison(service, comparison, expand=expand))

        _page(chunks())


@click.command("revise")
@click.argument("proposal_id", type=int)
@click.option(
    "--files-only",
    is_flag=True,
    help="Propose the run's current files again (after editing them) instead of re-running the agent.",
)
@click.option("--run", "run_id", default=None, help="With --files-only: take the files from this run.")
@click.option("--summary", default=None, help="With --files-only: summary of the revision (default: the old one).")
@click.option("--auto-approve-plans", is_flag=True, help="Let the unattended policy approve the re-run's plan.")
@click.option(
    "--budget", "budget_spec", default=None, help="The re-run's limits: tokens=N,cells=N,wall=SECONDS,debug=N"
)
@click.option("--json", "as_json", is_flag=True, help="Print the new proposal (or the re-run's status) as JSON.")
@click.pass_context
def revise(
    ctx: click.Context,
    proposal_id: int,
    files_only: bool,
    run_id: str | None,
    summary: str | None,
    auto_approve_plans: bool,
    budget_spec: str | None,
    as_json: bool,
) -> None:
    """Re-run the agent on the proposal's question with the reviewers' comments; its proposal revises this one.

    Refused when nothing would change (no comment that an earlier revision has not answered). With --files-only,
    the run's edited files are proposed again instead (refused when only generated files changed).
    """
    service = _service(ctx)
    if files_only:
        with _mapped_errors():
            new = service.revise(proposal_id, run_id=run_id, summary=summary)
        if as_json:
            echo_json(new.model_dump(mode="json"))
            return
        click.echo(f"proposal {new.id} on {new.branch} revises proposal {proposal_id}")
        return
    if run_id is not None or summary is not None:
        raise click.UsageError("--run and --summary go with --files-only (a re-run makes its own run and summary)")
    _rerun(ctx, service, proposal_id, auto_approve_plans, budget_spec, as_json)


def _rerun(
    ctx: click.Context,
    service: ReviewService,
    proposal_id: int,
    auto_approve: bool,
    budget_spec: str | None,
    as_json: bool,
) -> None:
    """Start the revision run through the one run driver and report where it stands."""
    from assistant.budget import budget_from_settings
    from assistant.cli.common import settings_from
    from assistant.cli.run import drive_run, exit_code_of, injected_deps, print_outcome, run_until_done
    from assistant.graph.session import RunSession, code_mode_for
    from assistant.review.rerun import plan_revision

    with _mapped_errors():
        plan = plan_revision(service, proposal_id)
    settings = settings_from(ctx)
    budget = budget_from_settings(settings.run, settings.llm.token_budget).with_overrides(budget_spec)
    run_dir = RunSession(settings).new_run(plan.question, slug=plan.original_question[:60])
    if not as_json:
        click.echo(f"revising proposal {proposal_id}: run {run_dir.run_id} answers {len(plan.comments)} comment(s)")
    outcome = run_until_done(
        run_dir.run_id,
        drive_run(
            settings,
            injected_deps(ctx),
            run=run_dir,
            question=plan.question,
            run_id=run_dir.run_id,
            budget=budget,
            auto_approve=auto_approve,
            code_mode=code_mode_for(settings),
            quiet=as_json,
            revises=proposal_id,
        ),
        settings.workspace,
        as_json,
    )
    print_outcome(outcome, as_json)
    if outcome.proposal_id and not as_json:
        click.echo(
            f"proposal {outcome.proposal_id} revises proposal {proposal_id} "
            f"(compare: ara review diff {outcome.proposal_id} --against {proposal_id})"
        )
    sys.exit(exit_code_of(outcome))
