"""A damaged Chroma store or ``index/`` search snapshot under the paper library: search, stats and add stop with
exit 2 naming the damaged part and ``ara papers reindex``, and change nothing; ``ara papers reindex`` rebuilds
both from the catalogue (the damaged folders kept aside) and search works again with the same results."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from assistant.cli import main
from tests.stores._corrupt import fingerprint, smash_header, smash_pages
from tools.papers.ids import paper_id_for

TOPICS = ["debate", "reward models", "interpretability", "weak to strong", "honesty probes"]
BIB = "".join(
    f"@article{{k{i}, title={{Paper {i} on {topic}}}, year={{{2015 + i}}}, "
    f"abstract={{{' '.join([topic] * 5)} and more words about study number {i}.}}}}\n"
    for i, topic in enumerate(TOPICS)
)


def ara(workspace: Path, *args: str) -> tuple[int, str]:
    with CliRunner().isolation() as (_, _, output):
        try:
            main(["--workspace", str(workspace), "papers", *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, output.getvalue().decode("utf-8", "replace")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "workspace"
    bib = tmp_path / "refs.bib"
    bib.write_text(BIB, encoding="utf-8")
    code, output = ara(ws, "import", str(bib))
    assert code == 0, output
    return ws


def search(ws: Path) -> list[str]:
    code, output = ara(ws, "search", "reward models", "-k", "3", "--json")
    assert code == 0, output
    return [h["key"] for h in json.loads(output)]


def write_garbage(path: Path) -> None:
    path.write_bytes(b"\xa5" * max(64, path.stat().st_size))


def drop_rows(path: Path) -> None:
    np.save(path, np.load(path)[:-1])


def bad_json(path: Path) -> None:
    path.write_text('{"format": ', encoding="utf-8")


CHROMA: list[Callable[[Path], None]] = [smash_header, smash_pages]
INDEX: list[tuple[str, Callable[[Path], None]]] = [
    ("meta.json", bad_json),
    ("dense.npy", write_garbage),
    ("dense.npy", drop_rows),
    ("bm25.npz", write_garbage),
]


@pytest.mark.parametrize("damage", CHROMA)
def test_a_damaged_chroma_store(workspace: Path, tmp_path: Path, damage: Callable[[Path], None]) -> None:
    before = search(workspace)
    damage(workspace / ".ara" / "papers" / "chroma" / "chroma.sqlite3")
    files = fingerprint(workspace / ".ara")
    more = tmp_path / "more.bib"
    more.write_text("@article{n, title={A new paper on debate}, year={2024}, abstract={Debate again.}}\n")
    first = paper_id_for(arxiv_id=None, doi=None, title=f"Paper 0 on {TOPICS[0]}")
    for args in (("stats",), ("add", str(more)), ("remove", first), ("tag", first, "oversight")):
        code, output = ara(workspace, *args)
        assert code == 2, output
        assert "error: Chroma store damaged" in output
        assert f"the Chroma store {workspace / '.ara' / 'papers' / 'chroma'} cannot be read" in output
        assert "with 'ara papers reindex', which keeps the damaged folder aside. Nothing was changed." in output
        assert "Traceback" not in output
    assert fingerprint(workspace / ".ara") == files
    code, output = ara(workspace, "reindex")
    assert code == 0, output
    assert "rebuilt from the catalogue: 5 papers, 5 chunks indexed, 5 in Chroma" in output
    assert search(workspace) == before
    code, stats = ara(workspace, "stats", "--json")
    assert json.loads(stats)["chroma_chunks"] == 5
    [aside] = (workspace / ".ara" / "papers").glob("chroma.replaced-*")
    assert (aside / "chroma.sqlite3").is_file()


@pytest.mark.parametrize(("name", "damage"), INDEX, ids=[f"{n}-{d.__name__}" for n, d in INDEX])
def test_a_damaged_search_index(workspace: Path, name: str, damage: Callable[[Path], None]) -> None:
    before = search(workspace)
    index = workspace / ".ara" / "papers" / "index"
    damage(index / name)
    files = fingerprint(workspace / ".ara")
    for args in (("search", "debate"), ("stats",)):
        code, output = ara(workspace, *args)
        assert code == 2, output
        assert "error: Search index damaged" in output
        assert f"the search index {index} is damaged" in output
        assert "rebuild it with 'ara papers reindex'. Nothing was changed." in output
    assert fingerprint(workspace / ".ara") == files
    code, output = ara(workspace, "reindex")
    assert code == 0, output
    assert search(workspace) == before
