"""The real paper library (``tools.papers.PaperLibrary``) satisfies ``CitationResolver``; the CLI uses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.report import (
    CitationResolver,
    ExperimentRecord,
    ReportDraft,
    build_report,
    render_markdown,
    write_report,
)
from assistant.schemas import Claim
from tests.report.conftest import NOW, RUN_ID

papers = pytest.importorskip("tools.papers", reason="tools.papers (the paper library) is not installed")

BIB = """@article{burns2023weak,
  title={Weak-to-Strong Generalization: Eliciting Strong Capabilities With Weak Supervision},
  author={Burns, Collin and Izmailov, Pavel},
  year={2023},
  eprint={2312.09390},
  archivePrefix={arXiv},
  abstract={We study whether weak model supervision can elicit the full capabilities of a much stronger model.}
}
"""


@pytest.fixture
def library(tmp_path: Path) -> Iterator[object]:
    bib = tmp_path / "refs.bib"
    bib.write_text(BIB, encoding="utf-8")
    store = tmp_path / "workspace" / ".ara" / "papers"
    lib = papers.PaperLibrary.open(store, papers.library.LibraryConfig(use_chroma=False))
    ingest = lib.add_paths([bib])
    assert ingest.added == ("arxiv:2312.09390",)
    yield lib
    lib.close()


def test_real_library_resolves_and_rejects(run_dir: Path, library: object, good_experiment: ExperimentRecord) -> None:
    assert isinstance(library, CitationResolver)
    draft = ReportDraft(
        claims=[
            Claim(
                statement="PGR {{ metric:xent.pgr }} was positive {{ cite:arxiv:2312.09390#c0 }}.",
                about=["H1"],
                stance="supports",
            )
        ],
        rationale="The loss comparison follows Burns et al. 2023.",
        limitations="One dataset only.",
        cited_keys=["arxiv:2312.09390#c0", "arxiv:2312.09390#c99"],
    )

    report = build_report(run_dir, draft, library, experiment=good_experiment, now=NOW)

    [ref] = report.references
    assert (ref.title, ref.year, ref.arxiv_id, ref.anchor, ref.authors) == (
        "Weak-to-Strong Generalization: Eliciting Strong Capabilities With Weak Supervision",
        2023,
        "2312.09390",
        "abstract",
        ["Burns, Collin", "Izmailov, Pavel"],
    )
    assert report.check is not None
    assert [(o.kind, o.location, o.text) for o in report.check.offenders] == [
        ("citation", "cited_keys[1]", "arxiv:2312.09390#c99")
    ]
    assert "Burns, Collin, Izmailov, Pavel \\(2023\\). Weak-to-Strong Generalization" in render_markdown(report)


def test_cli_check_opens_the_workspace_library(
    run_dir: Path, library: object, good_experiment: ExperimentRecord
) -> None:
    draft = ReportDraft(limitations="As shown before {{ cite:arxiv:2312.09390#c0 }}, one dataset is not enough.")
    write_report(run_dir, build_report(run_dir, draft, library, experiment=good_experiment, now=NOW))

    assert int(main(["report", "check", RUN_ID]) or 0) == 0


def test_cli_check_with_the_shared_arxiv_index(
    run_dir: Path, library: object, shared_dir: Path, good_experiment: ExperimentRecord
) -> None:
    index = shared_dir / "corpus" / "arxiv_id_title_index.json"
    draft = ReportDraft(limitations="One dataset only.", cited_keys=["arxiv:2312.09390#c0"])
    write_report(run_dir, build_report(run_dir, draft, library, experiment=good_experiment, now=NOW))

    assert int(main(["report", "check", RUN_ID, "--arxiv-index", str(index)]) or 0) == 0
