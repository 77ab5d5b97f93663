"""Claims bound to evidence: each drop reason of ``check_claims``, and a report whose claim contradicts its
computed verdict cannot come out verified."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.cards import condition_terms
from assistant.recipes import default_registry
from assistant.report import (
    ExperimentRecord,
    HypothesisResult,
    Metric,
    ReportDraft,
    ResultsDocument,
    build_report,
    render_html,
    render_markdown,
)
from assistant.report.build import evaluate_hypotheses
from assistant.report.claims import check_claims
from assistant.report.results import load_results
from assistant.schemas import Claim
from tests.report.conftest import FIXTURE_RUN, NOW
from tools.papers.citations import InMemoryCitations


@pytest.fixture
def fixture_results() -> ResultsDocument:
    return load_results(FIXTURE_RUN / "results.json")


def _check(
    claim: Claim,
    results: ResultsDocument,
    experiment: ExperimentRecord,
    hypotheses: list[HypothesisResult] | None = None,
) -> tuple[bool, str]:
    verdicts = evaluate_hypotheses(results, experiment) if hypotheses is None else hypotheses
    [checked] = check_claims([claim], results, verdicts, experiment)
    assert checked.claim == claim
    return checked.accepted, checked.reason


def test_the_fixture_verdicts(fixture_results: ResultsDocument, good_experiment: ExperimentRecord) -> None:
    assert [(h.id, h.verdict) for h in evaluate_hypotheses(fixture_results, good_experiment)] == [
        ("H1", "supported"),
        ("H2", "inconclusive"),
    ]


def test_a_prediction_restated_as_a_finding_is_dropped_whatever_its_stance(good_experiment: ExperimentRecord) -> None:
    """Seen on the default model's TruthfulQA run: both claims copied a prediction (H1 refuted, H2 inconclusive),
    tagged 'refutes' and 'inconclusive', so the stance check passed and the report read as a finding, verified."""
    verdicts = [
        HypothesisResult(
            id="H1",
            statement="The model's accuracy is significantly higher than the chance baseline.",
            metric="accuracy",
            baseline="random_baseline",
            predicted="increase",
            null=0.5,
            verdict="refuted",
            method="paired",
        ),
        HypothesisResult(
            id="H2",
            statement="The model answers more items correctly than a random guess on the same items.",
            metric="accuracy",
            baseline="random_baseline",
            predicted="increase",
            verdict="inconclusive",
            method="paired",
        ),
    ]
    results = ResultsDocument(metrics={"accuracy": Metric(mean=0.4), "random_baseline": Metric(mean=0.3)})
    copied = [
        Claim(statement=h.statement, about=[h.id, "random_baseline"], stance=stance)
        for h, stance in zip(verdicts, ["refutes", "inconclusive"], strict=True)
    ]
    checked = check_claims(copied, results, verdicts, good_experiment)
    assert [(c.accepted, c.reason) for c in checked] == [
        (False, "restates a prediction as a finding, but the computed verdicts disagree (H1 is refuted)"),
        (False, "restates a prediction as a finding, but the computed verdicts disagree (H2 is inconclusive)"),
    ]
    # a claim in its own words, with the stance the verdict has, stays
    own = Claim(statement="The accuracy is not shown to beat a random guess.", about=["H2"], stance="inconclusive")
    assert check_claims([own], results, verdicts, good_experiment)[0].accepted
    supported = verdicts[1].model_copy(update={"verdict": "supported"})
    restating = Claim(statement=supported.statement, about=["H2"], stance="supports")
    assert check_claims([restating], results, [supported], good_experiment)[0].accepted


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        (
            Claim(statement="The loss matters.", about=["H7"], stance="supports"),
            "names 'H7', which this run did not produce (no such hypothesis or metric)",
        ),
        (
            Claim(statement="Bootstrapping loss PGR was low.", about=["bootstrap.pgr"]),
            "names 'bootstrap.pgr', which this run did not produce (no such hypothesis or metric)",
        ),
        (
            Claim(statement="PGR is positive.", about=["xent.pgr"], stance="supports"),
            "takes a stance (supports) without naming a pre-registered hypothesis",
        ),
        (
            Claim(statement="The auxiliary loss helps.", about=["H2"], stance="supports"),
            "says the evidence supports the hypothesis, but the computed verdicts disagree (H2 is inconclusive)",
        ),
        (
            Claim(statement="Cross-entropy recovers nothing.", about=["H1"], stance="refutes"),
            "says the evidence refutes the hypothesis, but the computed verdicts disagree (H1 is supported)",
        ),
        (
            Claim(statement="Neither hypothesis is settled.", about=["H1", "H2"], stance="inconclusive"),
            "says the evidence does not settle the hypothesis, but the computed verdicts disagree (H1 is supported)",
        ),
        (
            Claim(statement="PGR is higher.", about=["xent.pgr"], direction="higher"),
            "gives a direction but does not name the two metrics it compares",
        ),
        (
            Claim(
                statement="The ceiling is above the supervisor.", about=["ceiling.acc", "weak.acc"], direction="higher"
            ),
            "compares ceiling.acc with weak.acc, but the difference has no interval: no per-seed values to pair "
            "ceiling.acc with weak.acc: no interval for the difference (overlapping or not, two separate intervals "
            "do not test it)",
        ),
        (
            Claim(
                statement="The auxiliary loss recovers more.", about=["aux_conf.pgr", "xent.pgr"], direction="higher"
            ),
            "says aux_conf.pgr is higher than xent.pgr, but the paired 95% interval of the difference is "
            "[-0.002, 0.033] (paired percentile bootstrap over 10 seeds)",
        ),
        (
            Claim(
                statement="The auxiliary loss gave a higher PGR than cross-entropy.", about=["aux_conf.pgr", "xent.pgr"]
            ),
            "compares results without saying which is higher (set `direction` so it can be checked)",
        ),
        (
            Claim(statement="PGR improved on H1's prediction for xent.", about=["xent.pgr", "H1"]),
            "compares results without saying which is higher (set `direction` so it can be checked)",
        ),
        (
            Claim(statement="CCS found the truth direction the weak supervisor missed.", about=["xent.pgr"]),
            "speaks of CCS, a condition this run (w2s) did not have",
        ),
        (
            Claim(
                statement="A linear probe and zero-shot answers agree with the student.",
                about=["H1"],
                stance="supports",
            ),
            "speaks of linear probe, zero-shot, a condition this run (w2s) did not have",
        ),
    ],
)
def test_drop_reasons(
    fixture_results: ResultsDocument, good_experiment: ExperimentRecord, claim: Claim, reason: str
) -> None:
    assert _check(claim, fixture_results, good_experiment) == (False, reason)


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        (
            Claim(statement="Cross-entropy recovers part of the gap.", about=["H1"], stance="supports"),
            "matches the computed verdicts of H1",
        ),
        (
            Claim(
                statement="The auxiliary loss is not shown to help.",
                about=["H2", "aux_conf.pgr"],
                stance="inconclusive",
            ),
            "matches the computed verdicts of H2",
        ),
        (
            Claim(statement="Weak accuracy and ceiling accuracy.", about=["weak.acc", "ceiling.acc"]),
            "",
        ),
        (
            # the run's own conditions (weak supervisor, ceiling, cross-entropy) are fine to name
            Claim(statement="The weak supervisor trails the ceiling under cross-entropy.", about=["weak.acc"]),
            "",
        ),
    ],
)
def test_accepted_claims_say_why(
    fixture_results: ResultsDocument, good_experiment: ExperimentRecord, claim: Claim, reason: str
) -> None:
    assert _check(claim, fixture_results, good_experiment) == (True, reason)


def test_a_direction_the_paired_interval_establishes_is_accepted(good_experiment: ExperimentRecord) -> None:
    results = ResultsDocument(
        metrics={
            "w2s_acc": Metric(values=[0.74, 0.73, 0.75, 0.72, 0.74]),
            "weak_acc": Metric(values=[0.70, 0.69, 0.70, 0.68, 0.71]),
        }
    )

    higher = _check(
        Claim(statement="The student beats its supervisor.", about=["w2s_acc", "weak_acc"], direction="higher"),
        results,
        good_experiment,
    )
    lower = _check(
        Claim(statement="The supervisor trails the student.", about=["weak_acc", "w2s_acc"], direction="lower"),
        results,
        good_experiment,
    )
    wrong = _check(
        Claim(statement="The student trails its supervisor.", about=["w2s_acc", "weak_acc"], direction="lower"),
        results,
        good_experiment,
    )

    assert higher[0]
    assert higher[1].startswith("w2s_acc - weak_acc: 95% interval [0.03")
    assert higher[1].endswith("(paired percentile bootstrap over 5 seeds)")
    assert lower[0]
    assert lower[1].startswith("weak_acc - w2s_acc: 95% interval [-0.0")
    assert wrong == (
        False,
        "says w2s_acc is lower than weak_acc, but the paired 95% interval of the difference is "
        f"{higher[1].split(': 95% interval ')[1].split(' (')[0]} (paired percentile bootstrap over 5 seeds)",
    )


def test_a_family_id_names_every_member(good_experiment: ExperimentRecord) -> None:
    def result(hid: str, verdict: str) -> HypothesisResult:
        return HypothesisResult.model_validate(
            {"id": hid, "statement": "s", "metric": "m", "predicted": "increase", "verdict": verdict, "method": "x"}
        )

    all_supported = [result("H1@layer_2", "supported"), result("H1@layer_4", "supported")]
    mixed = [result("H1@layer_2", "supported"), result("H1@layer_4", "inconclusive")]
    claim = Claim(statement="The probe beats CCS at every layer.", about=["H1"], stance="supports")
    one_layer = Claim(statement="At layer 2 the effect holds.", about=["H1@layer_2"], stance="supports")
    results = ResultsDocument()
    experiment = good_experiment.model_copy(update={"conditions": []})  # a probes run: no w2s vocabulary check

    assert _check(claim, results, experiment, all_supported) == (
        True,
        "matches the computed verdicts of H1@layer_2, H1@layer_4",
    )
    assert _check(claim, results, experiment, mixed) == (
        False,
        "says the evidence supports the hypothesis, but the computed verdicts disagree (H1@layer_4 is inconclusive)",
    )
    assert _check(one_layer, results, experiment, mixed) == (True, "matches the computed verdicts of H1@layer_2")


def test_insufficient_evidence_can_only_be_called_inconclusive(good_experiment: ExperimentRecord) -> None:
    one_seed = ResultsDocument(metrics={"xent.pgr": Metric(values=[0.4]), "aux_conf.pgr": Metric(values=[0.5])})
    verdicts = evaluate_hypotheses(one_seed, good_experiment)

    supports = _check(
        Claim(statement="PGR is positive.", about=["H1"], stance="supports"), one_seed, good_experiment, verdicts
    )
    unsettled = _check(
        Claim(statement="One seed settles nothing.", about=["H1", "H2"], stance="inconclusive"),
        one_seed,
        good_experiment,
        verdicts,
    )

    assert [h.verdict for h in verdicts] == ["insufficient", "insufficient"]
    assert supports == (
        False,
        "says the evidence supports the hypothesis, but the computed verdicts disagree (H1 is insufficient)",
    )
    assert unsettled == (True, "matches the computed verdicts of H1, H2")


def test_a_report_contradicting_its_verdict_cannot_be_verified(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> None:
    # the 1.5B-model failure: true numbers, a false conclusion. H2 is inconclusive; the model says it is supported.
    false = Claim(
        statement="The auxiliary confidence loss clearly raises PGR over cross-entropy ({{ metric:aux_conf.pgr_gain }}).",
        about=["H2"],
        stance="supports",
    )
    draft = good_draft.model_copy(update={"claims": [*good_draft.claims, false]})

    report = build_report(run_dir, draft, resolver, experiment=good_experiment, now=NOW)

    assert [h.verdict for h in report.hypotheses] == ["supported", "inconclusive"]
    assert [c.accepted for c in report.claims] == [True, True, True, False]
    assert report.verified is False
    assert report.check is not None
    assert [(o.kind, o.location) for o in report.check.offenders] == [("claim", "claims[3]")]
    assert report.check.offenders[0].message == (
        "dropped: says the evidence supports the hypothesis, but the computed verdicts disagree (H2 is inconclusive)"
    )
    assert "clearly raises" not in report.summary  # never among what the results show
    markdown = render_markdown(report)
    assert markdown.count("clearly raises") == 2  # struck through in the discussion, quoted in the banner
    assert (
        "- ~~The auxiliary confidence loss clearly raises PGR over cross-entropy (0.016 (95% CI -0.002 to 0.033, "
        "n = 10)).~~ *(says the evidence supports the hypothesis, but the computed verdicts disagree (H2 is "
        "inconclusive))*"
    ) in markdown
    assert "> **UNVERIFIED: 1 problem(s) found; do not rely on this report until fixed." in markdown
    assert "> - `claims[3]` claim The auxiliary confidence loss clearly raises PGR" in markdown
    assert "| H2 | aux\\_conf.pgr - xent.pgr \\> 0 | Inconclusive |" in markdown
    page = render_html(report, run_dir)
    assert '<div class="status bad"><strong>UNVERIFIED: 1 problem(s) found' in page
    assert "<s>The auxiliary confidence loss clearly raises PGR over cross-entropy" in page
    # rebuilding from the stored draft cannot launder it either
    again = build_report(run_dir, report.to_draft(), resolver, experiment=good_experiment, now=NOW)
    assert again.verified is False
    assert [c.accepted for c in again.claims] == [True, True, True, False]


def _with_every_tool(experiment: ExperimentRecord) -> ExperimentRecord:
    """The record as the loop makes it today: the other tools' distinctive condition terms, from the registry."""
    others = [c for c in default_registry().cards() if c.name != experiment.tool]
    terms = sorted(set(condition_terms(others).values()) - set(experiment.conditions))
    return experiment.model_copy(update={"other_conditions": terms})


@pytest.mark.parametrize(
    ("statement", "foreign"),
    [
        ("Debate helped the student more than the weak supervisor.", "debate"),
        ("The steering vector moved the strong student.", "steering vector"),
        ("Early answering shows the ceiling ignores its reasoning.", "early answering"),
        ("Letter log-probabilities of the weak supervisor favour the ceiling.", "letter log-probabilities"),
    ],
)
def test_the_eval_and_steering_tools_conditions_are_foreign_to_a_w2s_run(
    fixture_results: ResultsDocument, good_experiment: ExperimentRecord, statement: str, foreign: str
) -> None:
    claim = Claim(statement=statement, about=["weak.acc"])
    accepted, reason = _check(claim, fixture_results, _with_every_tool(good_experiment))
    assert not accepted
    assert reason == f"speaks of {foreign}, a condition this run (w2s) did not have"


@pytest.mark.parametrize(
    "statement",
    [
        # words several tools use (shared terms of the eval and steering cards) do not make a claim foreign
        "The accuracy of the weak supervisor trails the ceiling.",
        "Judged alone, the weak supervisor's accuracy is above a random guess.",
        "The critic's coefficient is not what the ceiling shows.",
    ],
)
def test_words_other_tools_share_stay_usable(
    fixture_results: ResultsDocument, good_experiment: ExperimentRecord, statement: str
) -> None:
    claim = Claim(statement=statement, about=["weak.acc", "ceiling.acc"], direction="lower")
    checked = _check(claim, fixture_results, _with_every_tool(good_experiment))
    assert "did not have" not in checked[1], checked


def test_every_tool_on_offer_has_a_distinctive_term() -> None:
    # a card whose every condition is shared could never be told apart in another tool's claims
    for card in default_registry().cards():
        assert condition_terms([card]), card.name


def test_model_prose_stating_another_verdict_is_dropped_and_listed(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> None:
    # found by bench/report_verdicts.py: the default model's rationale called a hypothesis supported whose metric
    # was not even in the results. H1 is supported, H2 inconclusive.
    draft = good_draft.model_copy(
        update={
            "rationale": "We compared two losses. The results show that H2 is supported by a clear gain. "
            "H1 is supported, as the weak-to-strong literature predicts.",
            "limitations": "One dataset only. The hypothesis was confirmed, but only for this model.\n"
            "H2 is not supported yet: more seeds could settle it.",
        }
    )

    report = build_report(run_dir, draft, resolver, experiment=good_experiment, now=NOW)

    assert report.rationale == "We compared two losses. H1 is supported, as the weak-to-strong literature predicts."
    assert (
        report.limitations == draft.limitations
    )  # "the hypothesis was confirmed" agrees with H1; "not supported" with H2
    dropped = [c for c in report.claims if c.source == "prose"]
    assert [(c.claim.statement, c.accepted, c.reason) for c in dropped] == [
        (
            "The results show that H2 is supported by a clear gain.",
            False,
            "says the hypothesis is supported, but the computed verdicts disagree (H2 is inconclusive); dropped "
            "from the rationale",
        )
    ]
    assert report.verified is False
    markdown = render_markdown(report)
    assert "~~The results show that H2 is supported by a clear gain.~~" in markdown
    # a rebuild from the stored draft does not bring the dropped sentence back as a claim
    again = build_report(run_dir, report.to_draft(), resolver, experiment=good_experiment, now=NOW)
    assert [c.claim.statement for c in again.claims] == [
        c.claim.statement for c in report.claims if c.source == "claim"
    ]
    assert again.verified is True


def test_a_verdict_sentence_is_held_to_the_hypotheses_it_names() -> None:
    from assistant.report.verdict_words import contradiction

    verdicts = {"H1": "supported", "H2": "insufficient"}
    assert contradiction("H2 is confirmed.", verdicts) is not None
    assert contradiction("H1 is confirmed.", verdicts) is None
    assert contradiction("H1 is not supported.", verdicts) is not None  # "not supported" vs supported
    assert contradiction("The evidence is insufficient for H2.", verdicts) is None
    assert contradiction("H1 was refuted.", verdicts) is not None
    assert contradiction("The hypothesis is supported.", verdicts) is None  # true of H1
    assert contradiction("The hypothesis is refuted.", verdicts) is not None  # true of neither
    assert contradiction("The model supports long contexts.", verdicts) is None  # names no hypothesis
    assert contradiction("H1 is supported.", {}) is None


def test_verdict_words_offered_as_alternatives_or_under_a_negation_state_nothing_else() -> None:
    """A default-model draft's sentence that restated the computed verdict was cut as if it claimed support."""
    from assistant.report.verdict_words import contradiction

    verdicts = {"H1": "insufficient"}
    said = (
        "The computed verdict for hypothesis H1 is 'insufficient', indicating that there is not enough evidence to "
        "support or refute the claim based on the probe_vs_ccs metric."
    )
    assert contradiction(said, verdicts) is None
    assert contradiction("H1 was neither confirmed nor rejected.", verdicts) is None
    assert contradiction("There is not enough evidence to support H1.", verdicts) is None
    # an alternative offered does not hide a verdict stated beside it
    assert contradiction("Whether to support or refute it, H1 is supported.", verdicts) is not None
    assert contradiction("The results refute H1.", verdicts) is not None
    assert contradiction("The results support H1.", verdicts) is not None
    assert contradiction("The results refute H1.", {"H1": "refuted"}) is None
