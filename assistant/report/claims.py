"""Claims bound to evidence: each model-written claim is accepted only when the run's numbers hold it up.

Covers ``check_claims``. A claim names what it rests on (``about``: hypothesis ids or metric names) and its stance.
It is dropped, with the reason, when it names a hypothesis or metric the run did not produce; when its stance on a
hypothesis differs from the computed verdict; when it restates a hypothesis's prediction that was not supported
(whatever stance it is tagged with: the text is what a reader reads); when it compares two metrics in a direction their paired interval
does not establish (or gives no direction for a comparison it makes); or when its words name a condition this run
did not have (a CCS claim in a weak-to-strong run). Dropped claims are listed in the report, never rewritten.
Does not cover numbers typed into a claim (the prose checker traces those).
"""

from __future__ import annotations

import re

from assistant.cards import condition_terms
from assistant.report.model import CheckedClaim, ExperimentRecord, HypothesisResult
from assistant.report.results import ResultsDocument, format_number
from assistant.report.stats import effect_of
from assistant.schemas import Claim

_COMPARATIVE = re.compile(
    r"\b(higher|lower|better|worse|more|less|greater|smaller|larger|outperform\w*|exceed\w*|beat\w*|"
    r"surpass\w*|improv\w*|increas\w*|decreas\w*|above|below)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+")
RESTATES = 0.8
"""Share of words (Jaccard) a claim shares with a hypothesis's statement to count as restating its prediction."""
_STANCE_WORDS = {"supports": "supports", "refutes": "refutes", "inconclusive": "does not settle"}
_STANCE_VERDICTS = {
    "supports": {"supported"},
    "refutes": {"refuted"},
    "inconclusive": {"inconclusive", "insufficient"},
}


def _members(name: str, hypotheses: list[HypothesisResult]) -> list[HypothesisResult]:
    """The hypotheses ``name`` refers to: an exact id, or a family id (``H1`` for ``H1@layer_4`` ...)."""
    exact = [h for h in hypotheses if h.id == name]
    return exact or [h for h in hypotheses if h.id.split("@")[0] == name]


def _term_in(term: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", text, re.IGNORECASE) is not None


def _foreign_conditions(statement: str, experiment: ExperimentRecord | None) -> list[str]:
    if experiment is None or not experiment.conditions:
        return []
    own = {c.casefold() for c in experiment.conditions}
    terms = (
        condition_terms()
        if experiment.other_conditions is None
        else {t.casefold(): t for t in experiment.other_conditions}
    )
    return sorted(terms[t] for t in terms if t not in own and _term_in(t, statement))


def _restated(statement: str, hypotheses: list[HypothesisResult]) -> list[HypothesisResult]:
    """The hypotheses whose prediction ``statement`` repeats (nearly word for word) and that were not supported."""
    said = set(_WORD.findall(statement.casefold()))
    out = []
    for h in hypotheses:
        predicted = set(_WORD.findall(h.statement.casefold()))
        if said and predicted and len(said & predicted) / len(said | predicted) >= RESTATES:
            out.append(h)
    return [h for h in out if h.verdict != "supported"]


def _check(
    claim: Claim, results: ResultsDocument, hypotheses: list[HypothesisResult], experiment: ExperimentRecord | None
) -> tuple[bool, str]:
    named_hypotheses: list[HypothesisResult] = []
    metrics: list[str] = []
    for item in (a.strip() for a in claim.about):
        members = _members(item, hypotheses)
        if members:
            named_hypotheses.extend(members)
        elif item in results.metrics:
            metrics.append(item)
        else:
            return False, f"names {item!r}, which this run did not produce (no such hypothesis or metric)"
    # the default model copied its predictions into the claims, tagged "refutes" and "inconclusive": the report
    # then read "accuracy is significantly higher than chance" beside a refuted H1, and passed as verified
    unsupported = _restated(claim.statement, hypotheses)
    if unsupported:
        shown = ", ".join(f"{h.id} is {h.verdict}" for h in unsupported)
        return False, f"restates a prediction as a finding, but the computed verdicts disagree ({shown})"
    foreign = _foreign_conditions(claim.statement, experiment)
    if foreign:
        return (
            False,
            f"speaks of {', '.join(foreign)}, a condition this run ({experiment.tool if experiment else '?'}) did not have",
        )
    if claim.stance != "describes":
        if not named_hypotheses:
            return False, f"takes a stance ({claim.stance}) without naming a pre-registered hypothesis"
        allowed = _STANCE_VERDICTS[claim.stance]
        wrong = [h for h in named_hypotheses if h.verdict not in allowed]
        if wrong:
            shown = ", ".join(f"{h.id} is {h.verdict}" for h in wrong)
            said = _STANCE_WORDS[claim.stance]
            return False, f"says the evidence {said} the hypothesis, but the computed verdicts disagree ({shown})"
        return True, "matches the computed verdicts of " + ", ".join(h.id for h in named_hypotheses)
    if claim.direction is not None:
        if len(metrics) < 2:
            return False, "gives a direction but does not name the two metrics it compares"
        first, second = metrics[0], metrics[1]
        effect = effect_of(results, first, second)
        if not effect.usable or effect.ci_low is None or effect.ci_high is None:
            return False, f"compares {first} with {second}, but the difference has no interval: {effect.method}"
        holds = effect.ci_low > 0 if claim.direction == "higher" else effect.ci_high < 0
        if not holds:
            interval = f"[{format_number(effect.ci_low)}, {format_number(effect.ci_high)}]"
            return (
                False,
                f"says {first} is {claim.direction} than {second}, but the paired 95% interval of the difference is {interval} ({effect.method})",
            )
        return (
            True,
            f"{first} - {second}: 95% interval [{format_number(effect.ci_low)}, {format_number(effect.ci_high)}] ({effect.method})",
        )
    if len(metrics) + len(named_hypotheses) >= 2 and _COMPARATIVE.search(claim.statement):
        return False, "compares results without saying which is higher (set `direction` so it can be checked)"
    return True, ""


def check_claims(
    claims: list[Claim],
    results: ResultsDocument,
    hypotheses: list[HypothesisResult],
    experiment: ExperimentRecord | None,
) -> list[CheckedClaim]:
    """Each claim with whether the evidence holds it up and why (see the module docstring)."""
    out = []
    for claim in claims:
        accepted, reason = _check(claim, results, hypotheses, experiment)
        out.append(CheckedClaim(claim=claim, accepted=accepted, reason=reason))
    return out
