"""A corrupt campaign queue, run-checkpoint file or paper catalogue: each command stops with exit 2, naming the file
and the way back, and leaves every stored file as it was; ``ara doctor`` finds each corrupt file and says what
to do. The files are real (made by the real code) and damaged on disk."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.campaign.queue import CampaignQueue
from assistant.campaign.spec import load_campaign
from assistant.cli import main
from assistant.graph.runner import checkpoint_path, open_checkpointer
from tests.stores._corrupt import fingerprint, smash_header, smash_pages
from tools.sqlitefile import StoreCorruptError, backup_path


def ara(*args: str) -> tuple[int, str]:
    """``ara <args>`` in-process through the real entry point; (exit code, stdout + stderr)."""
    with CliRunner().isolation() as (_, _, output):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, output.getvalue().decode("utf-8", "replace")


def stable(folder: Path) -> dict[str, str]:
    """Fingerprint without SQLite's transient ``-wal``/``-shm`` side files."""
    return {k: v for k, v in fingerprint(folder).items() if not k.endswith(("-wal", "-shm"))}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "workspace"


def test_a_corrupt_campaign_queue(workspace: Path, tmp_path: Path) -> None:
    spec = tmp_path / "night.toml"
    spec.write_text('name = "night"\n\n[[entries]]\nid = "e0"\nquestion = "Does it hold?"\n', encoding="utf-8")
    queue = CampaignQueue(workspace)
    campaign = queue.create(load_campaign(spec), spec)
    assert ara("--workspace", str(workspace), "campaign", "status", campaign)[0] == 0
    path = workspace / ".ara" / "campaigns.sqlite"
    assert backup_path(path).is_file()
    smash_pages(path)
    files = stable(workspace / ".ara")
    code, output = ara("--workspace", str(workspace), "campaign", "status", campaign)
    assert code == 2, output
    assert "error: Corrupt campaign queue" in output
    assert f"{path} (campaign queue) is corrupt: database disk image is malformed" in output
    assert f"cp {backup_path(path)} {path}" in output
    assert f"or move it aside (mv {path} {path}.corrupt) and queue the campaigns again" in output
    assert "Traceback" not in output
    assert stable(workspace / ".ara") == files


def test_corrupt_checkpoints_stop_a_run_before_it_opens_them(workspace: Path) -> None:
    async def touch() -> None:
        async with open_checkpointer(workspace) as saver:
            await saver.conn.execute("CREATE TABLE IF NOT EXISTS pad (x TEXT)")
            await saver.conn.executemany("INSERT INTO pad VALUES (?)", [("x" * 3000,) for _ in range(8)])
            await saver.conn.commit()

    asyncio.run(touch())
    path = checkpoint_path(workspace)
    asyncio.run(touch())  # the second open backs up the file the first one wrote
    assert backup_path(path).is_file()
    smash_pages(path)
    files = stable(workspace / ".ara")
    with pytest.raises(StoreCorruptError, match=r"\(run checkpoints\) is corrupt") as err:
        asyncio.run(touch())
    assert "unfinished runs cannot be resumed" in str(err.value)
    assert stable(workspace / ".ara") == files


def test_doctor_checks_every_database(workspace: Path, tmp_path: Path, library_with_papers: Path) -> None:
    queue = CampaignQueue(workspace)
    spec = tmp_path / "c.toml"
    spec.write_text('name = "c"\n\n[[entries]]\nid = "e0"\nquestion = "Q?"\n', encoding="utf-8")
    queue.create(load_campaign(spec), spec)
    code, output = ara("--workspace", str(workspace), "doctor", "--no-endpoint", "--json")
    checks = {c["name"]: c for c in json.loads(output)}
    assert checks["db: campaign queue"]["status"] == "ok"
    assert "quick_check ok; backup " in checks["db: campaign queue"]["detail"]
    assert checks["db: paper catalogue"]["status"] == "ok"
    smash_header(workspace / ".ara" / "campaigns.sqlite")
    smash_pages(workspace / ".ara" / "papers" / "library.sqlite")
    files = stable(workspace / ".ara")
    code, output = ara("--workspace", str(workspace), "doctor", "--no-endpoint", "--json")
    assert code == 2
    checks = {c["name"]: c for c in json.loads(output)}
    queue_check, papers_check = checks["db: campaign queue"], checks["db: paper catalogue"]
    assert (queue_check["status"], papers_check["status"]) == ("fail", "fail")
    assert "campaigns.sqlite is corrupt: file is not a database" in queue_check["detail"]
    assert queue_check["fix"].startswith("To recover: restore the automatic backup taken ")
    assert "library.sqlite is corrupt" in papers_check["detail"]
    assert "add your papers again with 'ara papers add PATH'" in papers_check["fix"]
    assert checks["db: proposal index"]["status"] == "ok"
    assert stable(workspace / ".ara") == files


@pytest.fixture
def library_with_papers(workspace: Path, tmp_path: Path) -> Path:
    """A real catalogue under the workspace, made by ``ara papers import``."""
    bib = tmp_path / "refs.bib"
    bib.write_text(
        "@article{a, title={Deep reinforcement learning from human preferences}, year={2017},"
        " abstract={We explore goals defined in terms of human preferences between trajectory segments.}}\n"
        "@article{b, title={AI safety via debate}, year={2018},"
        " abstract={We propose training agents via self play on a zero sum debate game.}}\n",
        encoding="utf-8",
    )
    code, output = ara("--workspace", str(workspace), "papers", "import", str(bib))
    assert code == 0, output
    return workspace / ".ara" / "papers" / "library.sqlite"


@pytest.mark.parametrize("damage", [smash_pages, smash_header])
def test_a_corrupt_paper_catalogue(workspace: Path, library_with_papers: Path, damage: Callable[[Path], None]) -> None:
    path = library_with_papers
    assert backup_path(path).is_file()
    damage(path)
    files = stable(workspace / ".ara")
    for args in (("papers", "search", "debate"), ("papers", "stats"), ("papers", "show", "t:abc")):
        code, output = ara("--workspace", str(workspace), *args)
        assert code == 2, output
        assert "error: Corrupt paper catalogue" in output
        assert f"{path} (paper catalogue) is corrupt:" in output
        assert f"cp {backup_path(path)} {path}" in output
        assert "Traceback" not in output
    assert stable(workspace / ".ara") == files
