"""The sections code writes: the summary from the computed verdicts, the methods from the executed config, the
discussion from the accepted claims, and the related-work list from the retrieved passages.

Covers rendering those sections as Markdown (numbers formatted by code from the results; model text only where a
claim or the rationale is quoted, each already checked). A hypothesis family (one hypothesis over several layers)
is shown as one line per member. Does not cover checking (``claims``, ``check``) or page layout (``render_md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assistant.report.model import CheckedClaim, ExperimentRecord, HypothesisResult
from assistant.report.results import ResultsDocument, format_number
from assistant.report.stats import BOOTSTRAP_RESAMPLES, MIN_ITEMS, MIN_SEEDS
from assistant.schemas import threshold
from tools.results import RedFlag

VERDICT_WORD = {
    "supported": "**supported**",
    "refuted": "**refuted**",
    "inconclusive": "inconclusive",
    "insufficient": "insufficient evidence",
}
"""How each verdict reads in the summary."""


def effect_text(h: HypothesisResult) -> str:
    """``pgr`` or ``w2s_acc - weak_acc``."""
    return h.metric if h.baseline is None else f"{h.metric} - {h.baseline}"


def prediction_text(h: HypothesisResult) -> str:
    """``w2s_acc - weak_acc > 0`` (with a minimum effect when given)."""
    side = ">" if h.predicted == "increase" else "<"
    return f"{effect_text(h)} {side} {format_number(threshold(h))}"


def evidence_text(h: HypothesisResult) -> str:
    """Estimate, interval and method of one hypothesis, formatted by code."""
    if h.estimate is None and h.ci_low is None:
        return h.method
    parts = [f"estimate {format_number(h.estimate)}"]
    if h.ci_low is not None or h.ci_high is not None:
        parts.append(f"95% CI [{format_number(h.ci_low)}, {format_number(h.ci_high)}]")
    parts.append(h.method)
    return "; ".join(parts)


def summary_markdown(
    hypotheses: list[HypothesisResult],
    claims: list[CheckedClaim],
    experiment: ExperimentRecord | None,
    red_flags: Sequence[RedFlag] = (),
) -> str:
    """The summary: the host's red flags, one line per computed verdict, then the accepted claims (the model's
    words, checked)."""
    lines: list[str] = []
    if experiment is not None and experiment.self_reported:
        lines.append(
            "*The results were written by the experiment code itself and were not scored by the host: they are "
            "self-reported.*\n"
        )
    if red_flags:
        lines.append(
            "**Suspect result.** The host's checks on these results failed; read every verdict below with it:\n"
        )
        lines += [f"- `{flag.code}`: {flag.detail}." for flag in red_flags]
        lines.append("")
    if hypotheses:
        lines.append("Verdicts computed from the results (pre-registered before the run):\n")
        for h in hypotheses:
            lines.append(
                f"- **{h.id}** {h.statement} Prediction `{prediction_text(h)}`: {VERDICT_WORD[h.verdict]} ({evidence_text(h)})."
            )
    else:
        lines.append(
            "No hypothesis was registered before this run, so it is exploratory: the report states no verdict."
        )
    stances = [c for c in claims if c.accepted and c.claim.stance != "describes"]
    if stances:
        lines.append("\nWhat this means, in the model's words (each claim checked against the verdicts):\n")
        lines += [f"- {c.claim.statement} *({', '.join(c.claim.about)})*" for c in stances]
    return "\n".join(lines)


def _config_lines(config: Mapping[str, Any], hidden: set[str]) -> list[str]:
    return [f"`{k}` = `{v}`" for k, v in config.items() if k not in hidden]


def methods_markdown(experiment: ExperimentRecord | None, executed: Mapping[str, Any], results: ResultsDocument) -> str:
    """The methods, rendered from the tool's card, the executed config and the results' provenance."""
    prov = results.provenance
    lines: list[str] = []
    if experiment is not None:
        lines.append(f"**Tool.** `{experiment.tool}`: {experiment.family}".rstrip(": "))
        if experiment.method:
            lines.append(f"\n{experiment.method}")
        if experiment.tool_fit is not None:
            fit = (
                "Chosen from the question's tool shortlist"
                if experiment.offered
                else "NOT on the question's tool shortlist"
            )
            lines.append(f"\n**Fit.** {fit} (similarity {format_number(experiment.tool_fit)}).")
        if experiment.plan_title:
            lines.append(f"\n**Plan.** {experiment.plan_title}, approved by {experiment.approved_by}.")
    hidden = set(experiment.host_fields) if experiment else set()
    shown = _config_lines(executed, hidden) or _config_lines(results.config, hidden)
    if shown:
        lines.append("\n**Configuration as executed** (config.json): " + ", ".join(shown) + ".")
    present = set(executed) or set(results.config)
    knobs = {k: v for k, v in (experiment.knobs if experiment else {}).items() if k in present}
    if knobs:
        lines.append("\n**What the settings mean.** " + "; ".join(f"`{k}`: {v}" for k, v in knobs.items()) + ".")
    seeds = prov.get("seeds")
    if seeds and not present & {"seeds", "seed"}:
        lines.append(f"\n**Seeds.** {', '.join(str(s) for s in seeds)}.")
    if prov.get("data_hash") or prov.get("data_source"):
        source = f" from {prov['data_source']}" if prov.get("data_source") else ""
        lines.append(f"\n**Data.** hash `{prov.get('data_hash', 'not recorded')}`{source}.")
    notes = [str(n) for n in prov.get("notes") or []] + (experiment.notes if experiment else [])
    if notes:
        # one line each: notes are code's sentences and fragments, and run together they read as one
        lines.append("\n**Adjustments.**\n\n" + "\n".join(f"- {note}" for note in notes))
    if experiment is not None and experiment.hypotheses:
        lines.append(
            "\n**Registered before the run.** "
            + "; ".join(
                f"{h.id}: `{h.metric}{' - ' + h.baseline if h.baseline else ''}` predicted to "
                f"{'increase above' if h.predicted == 'increase' else 'decrease below'} {format_number(h.null)}"
                + (f" by at least {format_number(h.min_effect)}" if h.min_effect else "")
                for h in experiment.hypotheses
            )
            + "."
        )
    if experiment is not None and experiment.hypotheses:
        lines.append(
            "\n**Statistics.** A hypothesis on one metric uses the interval its tool computed (the one in the "
            f"results table); a difference between two metrics gets a 95% percentile bootstrap ({BOOTSTRAP_RESAMPLES:,} "
            "resamples) of the mean paired difference over seeds or test items; a hypothesis spread over several "
            "layers uses Bonferroni-adjusted intervals. A hypothesis is supported when the interval of its effect "
            "lies beyond the null plus any minimum effect on the predicted side, refuted when it lies short of that "
            "threshold, inconclusive otherwise, and has insufficient evidence with fewer than "
            f"{MIN_SEEDS} seeds, fewer than {MIN_ITEMS} test items, or no interval."
        )
    return "\n".join(lines)


def discussion_markdown(claims: list[CheckedClaim]) -> str:
    """The accepted descriptive claims with what each rests on, then the dropped ones with why (claims about the
    hypotheses are in the summary, next to their verdicts)."""
    accepted = [c for c in claims if c.accepted and c.claim.stance == "describes"]
    dropped = [c for c in claims if not c.accepted]
    lines: list[str] = []
    for c in accepted:
        why = f": {c.reason}" if c.reason else ""
        lines.append(f"- {c.claim.statement} *(rests on {', '.join(c.claim.about)}{why})*")
    if not claims:
        lines.append("*(the model made no claim)*")
    elif not accepted and not dropped:
        lines.append("*(every claim is about a hypothesis: see the summary)*")
    if dropped:
        lines.append("\n**Claims left out** (the evidence does not hold them up):\n")
        lines += [f"- ~~{c.claim.statement}~~ *({c.reason})*" for c in dropped]
    return "\n".join(lines)
