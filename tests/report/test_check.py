"""The checker: planted fabricated numbers and unknown citations are caught with their location; dropped claims,
empty sections, an unfit tool and a changed config make a report unverified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dirty_equals import IsStr
from inline_snapshot import snapshot

from assistant.report import (
    ExperimentRecord,
    ReportDraft,
    build_report,
    check_report,
    load_results,
    render_html,
    render_markdown,
)
from assistant.report.results import load_config
from assistant.schemas import Claim
from tests.report.conftest import NOW, PAPERS
from tools.papers.citations import CitationSource, InMemoryCitations
from tools.papers.ids import ArxivTitleIndex, check_arxiv_id
from tools.papers.models import ResolvedCitation, UnknownCitationError


def _offenders(report_check: object) -> list[tuple[str, str, str]]:
    assert report_check is not None
    return [(o.kind, o.location, o.text) for o in report_check.offenders]  # type: ignore[attr-defined]


def test_planted_number_and_unknown_citation_caught_with_location(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> None:
    planted = good_draft.model_copy(
        update={
            "rationale": good_draft.rationale + "\nWith the new loss PGR rose to 0.47 {{ cite:arxiv:9999.99999#c1 }}.",
            "cited_keys": [*good_draft.cited_keys, "arxiv:9999.99999#c1"],
        }
    )

    report = build_report(run_dir, planted, resolver, experiment=good_experiment, now=NOW)

    assert report.verified is False
    assert report.check is not None
    assert [o.model_dump() for o in report.check.offenders] == [
        {
            "kind": "numeral",
            "location": "rationale:2:31",
            "text": "0.47",
            "message": IsStr(regex="number not traceable.*"),
        },
        {
            "kind": "citation",
            "location": "rationale:2:36",
            "text": "arxiv:9999.99999#c1",
            "message": IsStr(regex="unknown.*"),
        },
        {
            # one arXiv check for ids and prose mentions (tools.papers.ids): month 99 cannot exist
            "kind": "arxiv",
            "location": "rationale:2:44",
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
    assert "> - `rationale:2:31` numeral 0.47:" in markdown
    assert "**[unresolved: cite:arxiv:9999.99999\\#c1]**" in markdown
    page = render_html(report, run_dir)
    assert '<div class="status bad"><strong>UNVERIFIED: 4 problem(s) found' in page
    assert "<code>rationale:2:31</code> numeral <code>0.47</code>" in page


def test_numbers_in_claims_are_checked_where_they_are_written(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> None:
    typed = Claim(statement="Cross-entropy PGR was 0.57 on average.", about=["H1"], stance="supports")
    draft = good_draft.model_copy(update={"claims": [typed, *good_draft.claims[1:]]})

    report = build_report(run_dir, draft, resolver, experiment=good_experiment, now=NOW)

    assert _offenders(report.check) == [("numeral", "claims[0].statement:1:23", "0.57")]


def test_good_draft_passes(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> None:
    report = build_report(run_dir, good_draft, resolver, experiment=good_experiment, now=NOW)

    assert _offenders(report.check) == []
    assert report.verified is True
    assert report.check is not None
    assert report.check.checked == [
        "2 pre-registered hypotheses with computed verdicts",
        "3 of 3 claims held up by their evidence",
        "5 values filled from results.json",
        "5 typed numbers traced",
        "2 citations resolved",
    ]
    assert report.check.not_checked == []


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
        ("It was 2 x better.", False),
        ("It cost 1,000 dollars.", False),
        ("Results [4] agree.", False),
    ],
)
def test_numeral_tracing(
    run_dir: Path,
    good_draft: ReportDraft,
    good_experiment: ExperimentRecord,
    resolver: InMemoryCitations,
    sentence: str,
    traced: bool,
) -> None:
    draft = good_draft.model_copy(update={"rationale": sentence})

    report = build_report(run_dir, draft, resolver, experiment=good_experiment, now=NOW)

    assert report.check is not None
    assert report.check.ok is traced, report.check.offenders
    assert {o.kind for o in report.check.offenders} <= {"numeral"}


def test_names_with_digits_are_not_numerals(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> None:
    draft = good_draft.model_copy(
        update={
            "rationale": "Features from MiniLM-L6-v2, GPT-2 and SmolLM2-135M on x86_64 "
            "(see https://arxiv.org/abs/2312.09390); a 1.5B model would be next.\n1. first step\n2) second step"
        }
    )

    report = build_report(run_dir, draft, resolver, experiment=good_experiment, now=NOW)

    assert _offenders(report.check) == []


def test_numbers_quoted_from_the_question_are_traceable(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> None:
    question = "Does an auxiliary confidence loss lift PGR above 0.15 when the weak supervisor sees 64 features?"
    draft = good_draft.model_copy(update={"rationale": "The question asks about 0.15 and 64 features; not 65."})

    asked = build_report(run_dir, draft, resolver, question=question, experiment=good_experiment, now=NOW)
    not_asked = build_report(run_dir, draft, resolver, experiment=good_experiment, now=NOW)

    assert asked.question == question
    assert _offenders(asked.check) == [("numeral", "rationale:1:51", "65")]
    assert [text for _, _, text in _offenders(not_asked.check)] == ["0.15", "64", "65"]


def test_every_offender_kind(run_dir: Path, good_experiment: ExperimentRecord, resolver: InMemoryCitations) -> None:
    draft = ReportDraft(
        claims=[Claim(statement="CCS beats the probe.", about=["xent.pgr"])],
        rationale="{{ metric:nope.mean }} {{ table:nope }} {{ figure:nope }} {{ whatever }} {{ cite:<b>#x }}",
        next_steps="See arXiv:1234.5 and arXiv:2312.09390.",
        cited_keys=["no-hash-key"],
    )
    # a plan edited off the shortlist, registering nothing, whose approved config is not what ran
    experiment = good_experiment.model_copy(
        update={
            "offered": False,
            "hypotheses": [],
            "approved_config": {**good_experiment.approved_config, "epochs": 5, "loss": "aux_conf"},
        }
    )

    report = build_report(run_dir, draft, resolver, experiment=experiment, now=NOW)

    assert _offenders(report.check) == snapshot(
        [
            ("placeholder", "rationale:1:1", "{{ metric:nope.mean }}"),
            ("placeholder", "rationale:1:24", "{{ table:nope }}"),
            ("placeholder", "rationale:1:41", "{{ figure:nope }}"),
            ("placeholder", "rationale:1:59", "{{ whatever }}"),
            ("citation", "rationale:1:74", "<b>#x"),
            ("arxiv", "next_steps:1:5", "1234.5"),
            ("citation", "cited_keys[0]", "no-hash-key"),
            ("claim", "claims[0]", "CCS beats the probe."),
            ("section", "limitations", "limitations"),
            ("empty", "summary", "summary"),
            ("fit", "methods", "w2s"),
            ("config", "config.json", "epochs: 5 -> 3"),
            ("config", "config.json", "loss: 'aux_conf' -> (missing)"),
        ]
    )
    assert report.check is not None
    messages = {o.kind: o.message for o in report.check.offenders}
    assert messages["claim"] == "dropped: speaks of CCS, a condition this run (w2s) did not have"
    assert messages["section"] == "empty: a reviewer needs the experiment's limits"
    assert messages["empty"] == "no hypothesis and no accepted claim: there is nothing to verify"
    assert messages["fit"] == "tool 'w2s' was not on the question's shortlist: it may not test the question"
    assert messages["config"] == "the executed config differs from the approved plan"
    assert report.check.not_checked == ["any verdict: no hypothesis was registered before the run"]


def test_host_fields_are_not_compared(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> None:
    # the host fills in paths after approval: an approved cache_dir that differs is not a changed plan
    experiment = good_experiment.model_copy(
        update={"approved_config": {**good_experiment.approved_config, "cache_dir": "/approved/elsewhere"}}
    )

    report = build_report(run_dir, good_draft, resolver, experiment=experiment, now=NOW)

    assert _offenders(report.check) == []


def test_self_reported_results_say_so(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> None:
    experiment = good_experiment.model_copy(update={"self_reported": True})

    report = build_report(run_dir, good_draft, resolver, experiment=experiment, now=NOW)

    assert report.check is not None
    assert report.check.not_checked == ["the results themselves: the experiment code wrote them, no host scorer did"]
    assert report.summary.startswith("*The results were written by the experiment code itself")
    assert "Not checked: the results themselves: the experiment code wrote them" in render_markdown(report)


def test_no_library_fails_every_citation(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord
) -> None:
    report = build_report(run_dir, good_draft, None, experiment=good_experiment, now=NOW)

    assert report.check is not None
    messages = {o.message for o in report.check.offenders if o.kind == "citation"}
    assert messages == {"cannot resolve: no paper library is available to check it"}
    assert report.references == []
    assert "citations: no paper library was available" in report.check.not_checked


def test_arxiv_ids_checked_against_an_index(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord
) -> None:
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

    ok = build_report(
        run_dir, good_draft, InMemoryCitations(PAPERS), experiment=good_experiment, arxiv_index=index, now=NOW
    )
    bad = build_report(
        run_dir, good_draft, InMemoryCitations(wrong), experiment=good_experiment, arxiv_index=index, now=NOW
    )

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
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> None:
    report = build_report(run_dir, good_draft, resolver, experiment=good_experiment, now=NOW)
    data = json.loads((run_dir / "results.json").read_text())
    data["metrics"]["xent.pgr"]["mean"] = 0.5
    (run_dir / "results.json").write_text(json.dumps(data))

    outcome = check_report(
        report,
        load_results(run_dir / "results.json"),
        resolver,
        run_dir=run_dir,
        config=load_config(run_dir / "config.json"),
    )

    assert [(o.kind, o.location) for o in outcome.offenders] == [("stale", "results.json metrics.xent.pgr")]


def test_any_citation_source_is_checked_through_the_typed_seam(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord
) -> None:
    class Library:
        def resolve(self, key: str) -> ResolvedCitation:
            if key in PAPERS:
                return PAPERS[key]
            raise UnknownCitationError(key)

    assert isinstance(Library(), CitationSource)
    draft = good_draft.model_copy(update={"cited_keys": ["p#c404"]})
    report = build_report(run_dir, draft, Library(), experiment=good_experiment, now=NOW)

    assert _offenders(report.check) == [("citation", "cited_keys[0]", "p#c404")]
    assert len(report.references) == 2


def test_cited_keys_that_cite_nothing_are_not_flagged_but_bad_keys_still_are(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> None:
    # the default model, shown "(none: cite nothing)" for an empty library, answered [""], ["none"] or that marker
    draft = good_draft.model_copy(update={"cited_keys": ["", "  ", "None", "(none: cite nothing)", "no-hash-key"]})

    report = build_report(run_dir, draft, resolver, experiment=good_experiment, now=NOW)

    assert report.cited_keys == ["no-hash-key"]
    assert _offenders(report.check) == [("citation", "cited_keys[0]", "no-hash-key")]
