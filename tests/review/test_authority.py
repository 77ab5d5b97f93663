"""The authority line: the agent cannot approve; approval needs a TTY person or an explicit, non-agent reviewer."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.paths import PROJECT_ROOT
from assistant.review import AuthorityError, HumanAuthority, ReviewService, authorize_decision
from assistant.review.approve import approve
from tests.review._cli import ara
from tests.vcs._support import git, make_run
from tools.vcs import AGENT_IDENTITY, GitIdentity, Proposal, Workspace

RITA = "Rita Reviewer <rita@example.org>"


def _proposal(ws: Workspace) -> Proposal:
    run = make_run(ws, {"report.md": "# r\n"})
    return ws.propose(run.run_id, "s", "summary", ["."], "report.md", {})


def test_agent_role_cannot_approve_or_reject_even_naming_a_human(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    proposal = _proposal(ws)
    monkeypatch.setenv("ARA_ROLE", "agent")
    with pytest.raises(AuthorityError, match=r"runs as the agent \(ARA_ROLE=agent\)"):
        authorize_decision(ws.path, explicit_reviewer=RITA, interactive=True)
    ran = ara(ws.path, "approve", str(proposal.id), "--reviewer", RITA, "--head", proposal.head_commit)
    assert ran.exit_code == 2
    assert "error: Agent cannot approve" in ran.output
    rejected = ara(ws.path, "reject", str(proposal.id), "--comment", "x", "--reviewer", RITA)
    assert rejected.exit_code == 2
    # even a forged authority object is refused inside approve() itself
    forged = HumanAuthority(GitIdentity("Rita Reviewer", "rita@example.org"), "explicit")
    with pytest.raises(AuthorityError, match="the agent cannot approve proposals"):
        approve(ReviewService(ws), proposal.id, forged, head=proposal.head_commit)
    assert ws.mainline_commit() == proposal.base_commit
    assert ReviewService(ws).get(proposal.id).status == "open"
    refusals = [(e.action, e.actor, e.comment or "") for e in ReviewService(ws).audit.entries()]
    caller = f"{AGENT_IDENTITY} (ARA_ROLE=agent) claiming {RITA}"
    assert [(action, actor) for action, actor, _ in refusals] == [("refused", caller)] * 3
    assert refusals[0][2].startswith("approve refused: this process runs as the agent (ARA_ROLE=agent)")
    assert refusals[1][2].startswith("reject refused: this process runs as the agent (ARA_ROLE=agent)")
    assert refusals[2][2] == "approve refused: the agent cannot approve proposals; a human reviewer must run " + (
        "'ara review approve'"
    )


def test_agent_identity_is_never_a_reviewer(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    proposal = _proposal(ws)
    ran = ara(ws.path, "approve", str(proposal.id), "--reviewer", "ara-agent <ara-agent@localhost>")
    assert ran.exit_code == 2
    assert "error: Agent cannot review" in ran.output
    with pytest.raises(AuthorityError, match="the agent cannot approve proposals"):
        approve(ReviewService(ws), proposal.id, HumanAuthority(AGENT_IDENTITY, "tty"), head=proposal.head_commit)
    # a workspace whose git identity is set to the agent's: the interactive path refuses too
    git(ws.path, "config", "user.name", "ara-agent")
    git(ws.path, "config", "user.email", "someone@example.org")
    monkeypatch.setattr("assistant.cli.review.is_interactive", lambda: True)
    ran = ara(ws.path, "approve", str(proposal.id), input="y\n")
    assert ran.exit_code == 2
    assert "error: Agent cannot review" in ran.output
    assert ws.mainline_commit() == proposal.base_commit


def test_without_a_terminal_approval_needs_an_explicit_reviewer(ws: Workspace) -> None:
    proposal = _proposal(ws)
    git(ws.path, "config", "user.name", "Hu Man")
    git(ws.path, "config", "user.email", "hu@example.org")
    ran = ara(ws.path, "approve", str(proposal.id))  # stdin is not a TTY: a script, a cron job or the agent
    assert ran.exit_code == 2
    assert "error: No human reviewer" in ran.output
    assert "--reviewer 'Your Name <you@example.org>'" in ran.output
    bad = ara(ws.path, "approve", str(proposal.id), "--reviewer", "just-a-name")
    assert bad.exit_code == 2
    assert "'just-a-name' is not a git identity" in bad.output
    assert ws.mainline_commit() == proposal.base_commit


def test_the_review_package_does_not_load_approval() -> None:
    code = "import sys, assistant.review, assistant.review.service; print('assistant.review.approve' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_agent_packages_never_import_approval(tmp_path: Path) -> None:
    """The import-linter contract (forbidden, indirect imports included) over the agent's packages."""
    sources = [m for m in ("assistant.graph", "assistant.campaign") if importlib.util.find_spec(m) is not None]
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if not sources or lint is None:
        pytest.skip("no agent packages (assistant.graph / assistant.campaign) or import-linter here yet")
    config = tmp_path / "importlinter.ini"
    config.write_text(
        "[importlinter]\nroot_packages =\n    assistant\n    tools\ninclude_external_packages = True\n\n"
        "[importlinter:contract:agent-cannot-approve]\nname = the agent never imports approval\n"
        "type = forbidden\nsource_modules =\n"
        + "".join(f"    {m}\n" for m in sources)
        + "forbidden_modules =\n    assistant.review.approve\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [lint, str(config), "--no-cache"], capture_output=True, text=True, cwd=PROJECT_ROOT, check=False
    )
    assert "Contracts: 1 kept, 0 broken." in done.stdout, done.stdout + done.stderr
