"""``ara papers`` end to end in-process (click runner) plus one cold subprocess that must stay light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli, main

BIB = r"""
@article{christiano2017deep,
  title={Deep reinforcement learning from human preferences},
  author={Christiano, Paul and Leike, Jan},
  eprint={1706.03741}, archivePrefix={arXiv}, year={2017},
  abstract={We explore goals defined in terms of human preferences between pairs of trajectory segments.}
}
@article{irving2018debate,
  title={AI safety via debate}, author={Irving, Geoffrey}, year={2018},
  journal={arXiv preprint arXiv:1805.00899},
  abstract={We propose training agents via self play on a zero sum debate game judged by a human.}
}
"""


def test_add_search_show_stats(tmp_path: Path) -> None:
    bib = tmp_path / "refs.bib"
    bib.write_text(BIB)
    (tmp_path / "bad.csv").write_text("Key,Year\nK,2020\n")
    runner = CliRunner()
    added = runner.invoke(cli, ["papers", "import", str(bib), "--json"])
    assert added.exit_code == 0, added.output
    assert sorted(json.loads(added.output)["added"]) == ["arxiv:1706.03741", "arxiv:1805.00899"]

    partial = runner.invoke(cli, ["papers", "add", str(bib), str(tmp_path / "bad.csv")])
    assert partial.exit_code == 0
    assert "added 0, updated 0, unchanged 2" in partial.output
    assert "skipped" in partial.output
    assert "no title column" in partial.output

    found = runner.invoke(cli, ["papers", "search", "human preferences over trajectories", "-k", "1", "--json"])
    assert found.exit_code == 0, found.output
    [hit] = json.loads(found.output)
    assert hit["key"] == "arxiv:1706.03741#c0"
    assert (hit["paper_id"], hit["year"], hit["anchor"], hit["rank"]) == ("arxiv:1706.03741", 2017, "abstract", 1)
    assert set(hit) >= {"title", "score", "chunk_id", "arxiv_id", "text"}

    shown = runner.invoke(cli, ["papers", "show", hit["key"]])
    assert shown.exit_code == 0
    assert "Deep reinforcement learning from human preferences" in shown.output
    assert "[arxiv:1706.03741#c0] abstract" in shown.output

    stats = runner.invoke(cli, ["papers", "stats", "--json"])
    assert (json.loads(stats.output)["papers"], json.loads(stats.output)["chroma_chunks"]) == (2, 2)


def test_user_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["papers", "search", "anything"])
    assert exit_info.value.code == 2
    assert "the paper library is empty" in capsys.readouterr().err
    (tmp_path / "notes.md").write_text("# Notes\n\ntext\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["papers", "import", str(tmp_path / "notes.md")])
    assert exit_info.value.code == 2
    assert "'import' takes a .csv (Zotero export) or .bib file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["papers", "show", "arxiv:0000.00000"])
    assert exit_info.value.code == 2


def test_cold_search_process_imports_no_heavy_modules(tmp_path: Path) -> None:
    bib = tmp_path / "refs.bib"
    bib.write_text(BIB)
    assert CliRunner().invoke(cli, ["papers", "add", str(bib)]).exit_code == 0
    probe = (
        "import io, sys, contextlib\nfrom assistant.cli import main\nbuf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf): main(['papers', 'search', 'debate game', '-k', '1', '--json'])\n"
        "print(sorted(m for m in ('chromadb', 'torch', 'transformers', 'langgraph', 'openai') if m in sys.modules))\n"
        "print(buf.getvalue())"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=dict(os.environ), capture_output=True, text=True, timeout=60, check=True
    )
    heavy, _, output = done.stdout.partition("\n")
    assert heavy == "[]"
    assert json.loads(output)[0]["paper_id"] == "arxiv:1805.00899"
