"""Which tool can test a question: a shortlist ranked by meaning, before the model chooses from it.

Covers ``ToolRanker``: the question is embedded with the local MiniLM model and compared with each card's question
family and example questions, and with examples of questions no built-in tool tests (``NOT_TESTABLE``). A card
is offered when its best similarity clears ``MIN_SCORE`` and stays within ``MARGIN`` of the best card, and when the
question is not closer to the untestable examples; a smoke-test card is offered only when the question asks for a
smoke test. Words decide three things before similarity does: a card is not offered for a question that names one
of its ``ruled_out`` kinds (``mc_eval`` for a question about critiques, layers or steering, a probe card for a
dataset it does not have); a card is offered for a question that names its own kind (``named_by``: "w2s", "CCS",
"steer") however low the similarity of a terse question, unless the question is nearer an untestable example; and
nothing is offered for a question that names something no tool has (``OUT_OF_REACH``: human raters, reward models,
other model families, images, agents...). An empty shortlist means the run ends ``out_of_scope`` without asking the
model to pick anything. Does not call the model (the ``choose_tool`` node does) and runs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from assistant.cards import ASKS_W2S, Cue, ToolCard, cue

MIN_SCORE = 0.36
"""Cosine similarity (MiniLM, normalised) a card needs to be offered. With ``MARGIN`` and ``LIMIT``, set on the
labelled dev questions and the first held-out set (every labelled tool offered on both); checked on a second
held-out set, ``bench/data/tool_questions_fresh.json`` (docs/benchmarks.md)."""
MARGIN = 0.16
"""Cards further than this below the best card are not offered."""
UNTESTABLE_MARGIN = 0.02
"""When the question is as close to an untestable example as to the best card (within this), nothing is offered."""
SMOKE_MIN_SCORE = 0.2
"""A smoke-test card asked for by name needs only this similarity."""
LIMIT = 4
"""Most cards offered (the model chooses among them, or none)."""

SMOKE = re.compile(
    r"\b(smoke[- ]?test\w*|sanity[- ]check\w*|synthetic|plumbing|dry[- ]run|toy data"
    # "end to end" asks for a smoke test as a check that something works, not as in "fine-tune it end to end"
    r"|end[- ]to[- ]end (?:check|test|run)\w*|(?:works?|worked|working|runs?|ran|running) end[- ]to[- ]end"
    r"|(?:test|check|verif|exercis)\w*\b[^.?!]{0,40}\bend[- ]to[- ]end"
    r"|(?:pipeline|recipe|code|experiment|notebook|harness)s? end[- ]to[- ]end)\b",
    re.IGNORECASE,
)
"""Words that ask for a smoke test (the only way a smoke-test card is offered)."""

NOT_TESTABLE = (
    "How sycophantic is the model when the user states an opinion?",
    "Does the model behave differently when it believes it is being evaluated?",
    "Does reward model overoptimization grow with policy size in RLHF?",
    "Do sparse autoencoder features explain the model's behaviour?",
    "How robust is the model to adversarial prompts and jailbreaks?",
    "Which research papers discuss deceptive alignment or mesa-optimisers?",
    "hello, what can you do?",
)
"""Questions outside what the built-in tools test (their nearness argues for ``out_of_scope``)."""

NOT_AN_EXPERIMENT = cue(
    "a definition or the literature",
    r"^\W*(?:what (?:is|are)|explain|define|why does|why do)\b",
    r"\b(?:papers?|literature|research on|survey)\b",
)
"""A question asking what something is or what papers say: a card it names is not offered for the name alone
(``named_by``); similarity still decides, and the literature answer covers it when nothing is offered."""

OUT_OF_REACH = (
    cue(
        # not "human labelers" (what a weak supervisor stands for) nor a "non-expert judge" (the judge is the model)
        "people as judges, raters or annotators",
        r"\b(?:human|crowd)[- ]?(?:judges?|raters?|annotators?|evaluators?|participants?)\b",
        r"\bcrowd ?workers?\b",
        r"\bhumans (?:judge|rate|label|annotate|review|catch|read)\w*",
        r"\bannotators?\b",
        r"\braters?\b",
    ),
    cue(
        "reward models or reinforcement-learning training",
        r"\breward models?\b",
        r"\bRLHF\b",
        r"\bPPO\b",
        r"\bDPO\b",
        r"\breinforcement learning\b",
        r"\b(?:process|outcome)[- ]supervis\w*",
    ),
    cue(
        "a model family or size the tools cannot run here",
        r"\bGPT-?[2-5](?:\.\d)?o?\b(?![- ]?(?:sized?|scale|class|level))",
        r"\bLlama(?![.-]cpp)\w*",
        r"\bMi[sx]tral\w*",
        r"\bClaude\b",
        r"\bGemini\b",
        r"\bPythia\b",
        r"\bAlexNet\b",
        # a size no tool runs here: 3B parameters and up ("a 7B model", "70B", "7 billion"); SmolLM2-135M and
        # Qwen-1.5B are local; not a figure, table or step ("Figure 3b") nor a token count ("300B tokens")
        r"(?<!Figure )(?<!Fig\. )(?<!Table )(?<!Section )(?<!step )(?<![\d.])"
        r"\b(?:[3-9]|[1-9]\d{1,2})(?:\.\d+)?(?:B|[- ]?billion)\b(?![- ]tokens)",
    ),
    cue(
        "images",
        r"\bImageNet\b",
        r"\bCIFAR\w*",
        r"\bvision(?:[- ]language)? models?\b",
        r"\bimage (?:classif\w*|models?|datasets?)\b",
    ),
    cue("sparse autoencoders or circuits", r"\bsparse auto-?encoders?\b", r"\bSAEs?\b", r"\bcircuits?\b"),
    cue("adversarial attacks", r"\bjailbreak\w*", r"\badversarial (?:prompts?|attacks?|suffix\w*|examples?)\b"),
    cue("sycophancy", r"\bsycophan\w*"),
    cue("unlearning", r"\bunlearn\w*", r"\bRMU\b"),
    cue(
        "fine-tuning a language model",  # w2s trains a small student on frozen features, never a model's weights
        r"\bfine[- ]?tun\w* (?:a|the|this) (?:chat |language |base )?model\b",
        r"\bemergent misalignment\b",
        unless=ASKS_W2S,  # "fine-tune a strong model on weak labels" is how weak-to-strong is asked
    ),
    cue(
        "agents acting over many turns",
        r"\b(?:LLM|AI|autonomous|coding|web) agents?\b",
        r"\bagentic\b",
        r"\bmulti[- ]turn\b",
        r"\bagents? (?:act|acting|hides?|with tools|in a)\w*",
    ),
    cue(
        "evaluation awareness",
        r"\b(?:knows?|believes?|thinks?|suspects?|realises?|realizes?) (?:that )?(?:it is|it's) being (?:evaluated|tested)\b",
        r"\bevaluation[- ]aware\w*",
    ),
)
"""What a question may name that no built-in tool has (each tool runs the local subject model, or small students
on offline datasets): such a question gets nothing offered, whatever its similarity to a card."""


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors (``tools.embeddings.MiniLMEmbedder``)."""

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One row per text."""
        ...


class ToolScore(BaseModel):
    """How close a question is to one card."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """The card (recipe) name."""
    score: float
    """Best cosine similarity with the card's family and example questions."""
    nearest: str
    """The card text it was closest to."""


class Shortlist(BaseModel):
    """The ranked cards for one question and which of them are offered to the model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str
    """The question ranked."""
    scores: list[ToolScore]
    """Every card, best first."""
    offered: list[str]
    """Cards the model may choose (empty: no tool fits, the run ends out_of_scope)."""
    untestable_score: float
    """Best similarity with the examples of untestable questions."""
    untestable_nearest: str
    """The untestable example it was closest to."""
    reason: str
    """Why the shortlist is what it is, in one sentence."""
    ruled_out: dict[str, str] = {}
    """Cards not offered because the question names something their card says they do not test: name -> why."""

    def score_of(self, name: str) -> float | None:
        """The score of card ``name`` (None when it was not ranked)."""
        return next((s.score for s in self.scores if s.name == name), None)


def _texts(card: ToolCard) -> list[str]:
    return [card.family, *card.answers]


class ShortlistRule(NamedTuple):
    """When a card is offered: its similarity, its distance below the best card, and how many cards at most."""

    min_score: float = MIN_SCORE
    margin: float = MARGIN
    limit: int = LIMIT
    words: bool = True
    """Apply the cards' ``ruled_out`` words and ``OUT_OF_REACH`` (False: similarity alone, for comparison)."""


class ToolRanker:
    """Ranks cards against questions; card embeddings are computed once per ranker."""

    def __init__(
        self, cards: Sequence[ToolCard], embedder: Embedder | None = None, rule: ShortlistRule | None = None
    ) -> None:
        self.cards = list(cards)
        self.rule = rule or ShortlistRule()
        self._embedder = embedder
        self._card_vectors: list[npt.NDArray[np.float32]] | None = None
        self._untestable: npt.NDArray[np.float32] | None = None

    def _embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if self._embedder is None:
            from tools.embeddings import MiniLMEmbedder

            self._embedder = MiniLMEmbedder()
        return self._embedder.embed(list(texts))

    def _vectors(self) -> tuple[list[npt.NDArray[np.float32]], npt.NDArray[np.float32]]:
        if self._card_vectors is None or self._untestable is None:
            self._card_vectors = [self._embed(_texts(card)) for card in self.cards]
            self._untestable = self._embed(NOT_TESTABLE)
        return self._card_vectors, self._untestable

    def rank(self, question: str) -> Shortlist:
        """The shortlist for ``question`` (see the module docstring for the rule)."""
        cards, untestable = self._vectors()
        query = self._embed([question])[0]
        scores = []
        for card, vectors in zip(self.cards, cards, strict=True):
            sims = vectors @ query
            best = int(np.argmax(sims))
            scores.append(ToolScore(name=card.name, score=round(float(sims[best]), 4), nearest=_texts(card)[best]))
        scores.sort(key=lambda s: -s.score)
        away = untestable @ query
        far = int(np.argmax(away))
        untestable_score = float(away[far])
        smoke = bool(SMOKE.search(question))
        ruled_out = {
            s.name: why
            for s in scores
            if self.rule.words and (why := _named(self._card(s.name).ruled_out, question)) is not None
        }
        eligible = [s for s in scores if (smoke or not self._card(s.name).smoke_test) and s.name not in ruled_out]
        naming = self.rule.words and NOT_AN_EXPERIMENT.named_in(question) is None
        named = {
            s.name: why
            for s in eligible
            if naming and (why := _named(self._card(s.name).named_by, question)) is not None
        }
        top = eligible[0].score if eligible else 0.0
        # nearness to an untestable example is weighed against the best card before words ruled any out: a question
        # on critiques is no less testable because mc_eval, its nearest card, was ruled out by the word
        nearest = max([top, *(s.score for s in scores if s.name in ruled_out)])
        low, margin, limit = self.rule.min_score, self.rule.margin, self.rule.limit
        # a card the question names by its own words is offered below the minimum similarity, as for a terse question
        # ("w2s on strategyqa"), but never past the margin (a "probe" in a steering question adds no probe card)
        offered = [s.name for s in eligible if (s.score >= low or s.name in named) and s.score >= top - margin][:limit]
        if smoke:
            smoke_cards = [s.name for s in scores if self._card(s.name).smoke_test and s.score >= SMOKE_MIN_SCORE]
            offered = [*smoke_cards, *(name for name in offered if name not in smoke_cards)][:limit]
            top = max(top, *(s.score for s in scores if s.name in smoke_cards), 0.0)
        beyond = None if smoke or not self.rule.words else _named(OUT_OF_REACH, question)
        if beyond is not None:
            reason = f"the question asks for {beyond}, which no tool here has"
            offered = []
        elif offered and not smoke and untestable_score > nearest - UNTESTABLE_MARGIN:
            reason = f"closer to an untestable question ({NOT_TESTABLE[far]!r}) than to any tool"
            offered = []
        elif offered:
            reason = f"offered by similarity to the tools' question families (best {top:.2f})"
            if shown := [f"{name} ({why})" for name, why in named.items() if name in offered]:
                reason += "; named by the question: " + "; ".join(shown)
        elif ruled_out and not eligible:
            reason = "every tool's card says it does not test what the question asks for"
        else:
            reason = f"no tool's question family is close enough (best {top:.2f}, needs {low})"
        if ruled_out and beyond is None:
            reason += "; not offered: " + "; ".join(
                f"{name} (the question asks for {why})" for name, why in ruled_out.items()
            )
        return Shortlist(
            question=question,
            scores=scores,
            offered=offered,
            untestable_score=round(untestable_score, 4),
            untestable_nearest=NOT_TESTABLE[far],
            reason=reason,
            ruled_out=ruled_out,
        )

    def _card(self, name: str) -> ToolCard:
        return next(c for c in self.cards if c.name == name)


def _named(cues: Sequence[Cue], question: str) -> str | None:
    """What the first of ``cues`` that ``question`` names asks for, with the words that name it."""
    for ruled in cues:
        words = ruled.named_in(question)
        if words is not None:
            return f"{ruled.what} ({words!r})"
    return None
