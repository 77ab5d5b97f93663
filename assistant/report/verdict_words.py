"""Model prose that states a verdict the computation did not give.

The report's verdict lines are rendered from the computed verdicts, and its claims are checked against them
(``assistant.report.claims``). The model's free prose (rationale, limitations, next steps) is kept in its own
words, so a sentence there could still say "the hypothesis is supported" next to a computed ``insufficient``.
This module finds such sentences: a sentence that names a pre-registered hypothesis (its id, or "the hypothesis"
/ "the prediction") together with a verdict word (supported/confirmed, refuted/disproved, inconclusive/
insufficient; "not supported" and "not enough evidence to support" are read as not supported; "supported or
refuted" states neither) that disagrees with the computed verdict. The report builder drops each one and lists it
with the rejected claims. It is a word match, not a judge: a sentence that
states a verdict in other words passes, and the report check still says what it did not check.

Does not compute verdicts (``assistant.report.stats``) and does not check claims or numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

_GENERIC = re.compile(r"\b(hypothes[ie]s|prediction)\b", re.IGNORECASE)
_ID = re.compile(r"\b(H\d{1,3})\b")
_NEGATION = re.compile(
    r"\b(not|no|never|cannot|neither|nor|without|insufficient|lacks?|lacking|fails?|failed)\b|n't\b", re.IGNORECASE
)
_NEGATION_WORDS = 4
"""How many words before a support word a negation still governs ("not enough evidence to support")."""
_VERDICT_VERB = r"(support|confirm|validat|refut|disprov|falsif|reject)\w*"
_EITHER = re.compile(rf"\b{_VERDICT_VERB}\s*,?\s+(or|nor)\s+{_VERDICT_VERB}", re.IGNORECASE)
"""Two verdict words offered as alternatives ("to support or refute", "neither confirmed nor rejected"): neither is
stated."""
_SAYS = {
    "supported": re.compile(r"\b(support(s|ed)?|confirm(s|ed)?|validat(es|ed))\b", re.IGNORECASE),
    "refuted": re.compile(r"\b(refut(e|es|ed)|disprov(e|es|ed)|falsif(y|ies|ied))\b", re.IGNORECASE),
    "undecided": re.compile(r"\b(inconclusive|insufficient|undecided|unsettled|not (yet )?(settled|measured))\b", re.I),
}
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


class Contradiction(NamedTuple):
    """Why a sentence contradicts the computed verdicts, and the hypotheses whose verdicts it contradicts."""

    why: str
    hypotheses: list[str]


def sentences(text: str) -> list[str]:
    """``text`` split into sentences the way the contradiction check reads it."""
    return _SENTENCE.split(text)


def stated(sentence: str) -> set[str]:
    """The verdicts a sentence states: ``supported``, ``refuted``, ``undecided``, or ``not supported`` (a support
    word with a negation among the few words before it). Verdict words offered as alternatives state nothing."""
    found: set[str] = set()
    sentence = _EITHER.sub(" ", sentence)
    for verdict, pattern in _SAYS.items():
        for match in pattern.finditer(sentence):
            before = " ".join(sentence[: match.start()].split()[-_NEGATION_WORDS:])
            found.add("not supported" if verdict == "supported" and _NEGATION.search(before) else verdict)
    return found


def agrees(said: str, computed: str) -> bool:
    """Whether stating ``said`` is consistent with the computed verdict."""
    if said == "supported":
        return computed == "supported"
    if said == "refuted":
        return computed == "refuted"
    if said == "not supported":
        return computed != "supported"
    return computed in ("inconclusive", "insufficient")


def contradiction(sentence: str, verdicts: Mapping[str, str]) -> Contradiction | None:
    """How ``sentence`` contradicts the computed ``verdicts`` (hypothesis id -> verdict), or None.

    A sentence naming hypothesis ids is held to those ids' verdicts; one saying only "the hypothesis" or "the
    prediction" contradicts when what it states agrees with none of the computed verdicts."""
    if not verdicts:
        return None
    named = [h for h in _ID.findall(sentence) if h in verdicts]
    if not named and not _GENERIC.search(sentence):
        return None
    targets = named or list(verdicts)
    for said in sorted(stated(sentence)):
        if named:
            wrong = [h for h in targets if not agrees(said, verdicts[h])]
        else:
            wrong = targets if not any(agrees(said, verdicts[h]) for h in targets) else []
        if wrong:
            shown = ", ".join(f"{h} is {verdicts[h]}" for h in wrong)
            return Contradiction(f"says the hypothesis is {said}, but the computed verdicts disagree ({shown})", wrong)
    return None


def drop_contradictions(text: str, verdicts: Mapping[str, str]) -> tuple[str, list[tuple[str, Contradiction]]]:
    """``text`` without its sentences that contradict ``verdicts``, and (sentence, how) for each one dropped."""
    if not text.strip() or not verdicts:
        return text, []
    dropped: list[tuple[str, Contradiction]] = []
    kept: list[str] = []
    last = 0
    for match in [*_SENTENCE.finditer(text), None]:
        end = match.start() if match else len(text)
        sentence = text[last:end]
        why = contradiction(sentence, verdicts)
        if why is None:
            kept.append(sentence + (match.group(0) if match else ""))
        else:
            dropped.append((sentence.strip(), why))
        if match:
            last = match.end()
    return "".join(kept).strip(), dropped
