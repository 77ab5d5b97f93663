"""The checker: planted fabricated numbers and unknown citations are caught with their location."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dirty_equals import IsStr
from inline_snapshot import snapshot

from assistant.report import (
    ReportDraft,
    build_report,
    check_report,
    load_results,
    render_html,
    render_markdown,
)
from tests.report.conftest import NOW, PAPERS
from tools.papers.citations import CitationSource, InMemoryCitations
from tools.papers.ids import ArxivTitleIndex, check_arxiv_id
from tools.papers.models import ResolvedCitation, UnknownCitationError


def _offenders(report_check: object) -> list[tuple[str, str, str]]:
    assert report_check is not None
    return [(o.kind, o.location, o.text) for o in report_check.offenders]  # type: ignore[attr-defined]


def test_planted_number_and_unknown_citation_caught_with_location(
    run_dir: Path, good_draft: ReportDraft, resolver: InMemoryCitations
) -> None:
    planted = good_draft.model_copy(
        update={
            "summary": good_draft.summary + "\nWith the new loss PGR rose to 0.47 {{ cite:arxiv:9999.99999#c1 }}.",
            "cited_keys": [*good_draft.cited_keys, "arxiv:9999.99999#c1"],
        }
    )

    report = build_report(run_dir, planted, resolver, now=NOW)

    assert report.verified is False
    assert report.check is not None
    assert [o.model_dump() for o in report.check.offenders] == [
        {
            "kind": "numeral",
            "location": "summary:2:31",
            "text": "0.47",
            "message": IsStr(regex="number not traceable.*"),
        },
        {
            "kind": "citation",
            "location": "summary:2:36",
            "text": "arxiv:9999.99999#c1",
            "message": IsStr(regex="unknown.*"),
        },
        {
            # one arXiv check for ids and prose mentions (tools.papers.ids): month 99 cannot exist
            "kind": "arxiv",
            "location": "summary:2:44",
            "text": "9999.99999",
            "message": "not a valid arXiv id (expected e.g. 2312.09390 or 2312.09390v2)",
        },
        {
            "kind": "citation",
            "location": "cited_keys[1]",
            "text": "arxiv:9999.99999#c1",
            "message": IsStr(regex="unknown.*"),
        },
    ]
    markdown = render_markdown(report)
    assert "**UNVERIFIED: 4 problem(s) found" in markdown
    assert "> - `summary:2:31` numeral 0.47:" in markdown
    assert "**[unresolved: cite:arxiv:9999.99999\\#c1]**" in markdown
    page = render_html(report, run_dir)
    assert '<div class="status bad"><strong>UNVERIFIED: 4 problem(s) found' in page
    assert "<code>summary:2:31</code> numeral <code>0.47</code>" in page


def test_good_draft_passes(run_dir: Path, good_draft: ReportDraft, resolver: InMemoryCitations) -> None:
    report = build_report(run_dir, good_draft, resolver, now=NOW)

    assert _offenders(report.check) == []
    assert report.verified is True


@pytest.mark.parametrize(
    ("sentence", "traced"),
    [
        ("The weak model reached 0.682.", True),
        ("The weak model reached 0.68.", True),
        ("The weak model reached 68%.", True),
        ("The weak model reached 68.2 %.", True),
        ("The weak model reached 0.7.", False),
        ("The weak model reached 0.69.", False),
        ("The weak model reached 69%.", False),
        ("About 6% of labels were flipped.", False),
        ("The learning rate was 1e-3.", True),
        ("PGR was 0.278 with cross-entropy.", True),
        ("The gain had a lower end of -0.002.", True),
        ("The gain had a lower end of -0.2.", False),
        ("Seed 7 was the worst.", False),
        ("We ran 10 seeds.", True),
        ("It was 2x better.", False),
        ("It cost 1,000 dollars.", False),
        ("Results [4] agree.", False),
    ],
)
def test_numeral_tracing(run_dir: Path, resolver: InMemoryCitations, sentence: str, traced: bool) -> None:
    report = build_report(run_dir, ReportDraft(results_discussion=sentence), resolver, now=NOW)

    assert report.check is not None
    assert report.check.ok is traced, report.check.offenders


def test_names_with_digits_are_not_numerals(run_dir: Path, resolver: InMemoryCitations) -> None:
    draft = ReportDraft(
        methods="Features from MiniLM-L6-v2 and GPT-2 on x86_64 (see https://arxiv.org/abs/2312.09390).\n"
        "1. first step\n2) second step"
    )

    report = build_report(run_dir, draft, resolver, now=NOW)

    assert _offenders(report.check) == []


def test_every_offender_kind(run_dir: Path, resolver: InMemoryCitations) -> None:
    draft = ReportDraft(
        summary="{{ metric:nope.mean }} {{ table:nope }} {{ figure:nope }} {{ whatever }} {{ cite:<b>#x }}",
        limitations="See arXiv:1234.5 and arXiv:2312.09390.",
        cited_keys=["no-hash-key"],
    )

    report = build_report(run_dir, draft, resolver, now=NOW)

    assert _offenders(report.check) == snapshot(
        [
            ("placeholder", "summary:1:1", "{{ metric:nope.mean }}"),
            ("placeholder", "summary:1:24", "{{ table:nope }}"),
            ("placeholder", "summary:1:41", "{{ figure:nope }}"),
            ("placeholder", "summary:1:59", "{{ whatever }}"),
            ("citation", "summary:1:74", "<b>#x"),
            ("arxiv", "limitations:1:5", "1234.5"),
            ("citation", "cited_keys[0]", "no-hash-key"),
        ]
    )


def test_no_library_fails_every_citation(run_dir: Path, good_draft: ReportDraft) -> None:
    report = build_report(run_dir, good_draft, None, now=NOW)

    assert report.check is not None
    messages = {o.message for o in report.check.offenders if o.kind == "citation"}
    assert messages == {"cannot resolve: no paper library is available to check it"}
    assert report.references == []


def test_arxiv_ids_checked_against_an_index(run_dir: Path, good_draft: ReportDraft) -> None:
    def changed(key: str, **update: str) -> ResolvedCitation:
        citation = PAPERS[key]
        return citation.model_copy(update={"paper": citation.paper.model_copy(update=update)})

    wrong = dict(PAPERS)
    wrong["arxiv:2212.03827#c2"] = changed("arxiv:2212.03827#c2", title="Sparse Autoencoders Find Everything")
    wrong["arxiv:2312.09390#c7"] = changed("arxiv:2312.09390#c7", arxiv_id="2312.99999")
    index = ArxivTitleIndex(
        {
            "2312.09390": ["Weak-to-Strong Generalization: Eliciting Strong Capabilities With Weak Supervision"],
            "2212.03827": ["Discovering latent knowledge in language models without supervision"],
        }
    )

    ok = build_report(run_dir, good_draft, InMemoryCitations(PAPERS), arxiv_index=index, now=NOW)
    bad = build_report(run_dir, good_draft, InMemoryCitations(wrong), arxiv_index=index, now=NOW)

    assert _offenders(ok.check) == []
    assert bad.check is not None
    assert [(o.kind, o.text, o.message) for o in bad.check.offenders] == snapshot(
        [
            ("arxiv", "2312.99999", "arXiv id not found in the index (in memory)"),
            (
                "arxiv",
                "2212.03827",
                "title 'Sparse Autoencoders Find Everything' does not match arXiv's 'Discovering latent knowledge in language models without supervision'",
            ),
        ]
    )


def test_real_arxiv_index_from_shared_corpus(shared_dir: Path) -> None:
    index = ArxivTitleIndex.load(shared_dir / "corpus" / "arxiv_id_title_index.json")
    burns = "Weak-to-strong generalization: eliciting strong capabilities with weak supervision"

    assert check_arxiv_id("2312.09390v2", title=burns, index=index).status == "ok"
    ccs = "Discovering Latent Knowledge in Language Models Without Supervision"
    assert check_arxiv_id("2312.09390", title=ccs, index=index).status == "title-mismatch"
    assert check_arxiv_id("2312.99999", index=index).status == "unknown"
    assert index.source == str(shared_dir / "corpus" / "arxiv_id_title_index.json")


def test_changed_results_make_the_report_stale(
    run_dir: Path, good_draft: ReportDraft, resolver: InMemoryCitations
) -> None:
    report = build_report(run_dir, good_draft, resolver, now=NOW)
    data = json.loads((run_dir / "results.json").read_text())
    data["metrics"]["xent.pgr"]["mean"] = 0.5
    (run_dir / "results.json").write_text(json.dumps(data))

    outcome = check_report(report, load_results(run_dir / "results.json"), resolver, run_dir=run_dir)

    assert [(o.kind, o.location) for o in outcome.offenders] == [("stale", "results.json metrics.xent.pgr")]


def test_any_citation_source_is_checked_through_the_typed_seam(run_dir: Path, good_draft: ReportDraft) -> None:
    class Library:
        def resolve(self, key: str) -> ResolvedCitation:
            if key in PAPERS:
                return PAPERS[key]
            raise UnknownCitationError(key)

    assert isinstance(Library(), CitationSource)
    report = build_report(run_dir, good_draft.model_copy(update={"cited_keys": ["p#c404"]}), Library(), now=NOW)

    assert _offenders(report.check) == [("citation", "cited_keys[0]", "p#c404")]
    assert len(report.references) == 2
