"""Fixtures for report tests: a copy of the fixture run inside the test's workspace, a resolver, a draft and the
approved experiment it was run under."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.cards import BUILTIN_CARDS
from assistant.report import ExperimentRecord, ReportDraft
from assistant.report.model import RelatedPaper
from assistant.schemas import Claim, Hypothesis
from tools.papers.citations import InMemoryCitations, resolved_citation

FIXTURE_RUN = Path(__file__).parent / "fixtures" / "w2s_run"
RUN_ID = "01JD7W2SFIXTURE0000000000"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

PAPERS = {
    c.key: c
    for c in (
        resolved_citation(
            "arxiv:2312.09390#c7",
            title="Weak-to-Strong Generalization: Eliciting Strong Capabilities With Weak Supervision",
            year=2023,
            authors=["Collin Burns", "Pavel Izmailov", "Jan Hendrik Kirchner"],
            arxiv_id="2312.09390",
            section="4.3 Improving weak-to-strong generalization",
            page=9,
        ),
        resolved_citation(
            "arxiv:2212.03827#c2",
            title="Discovering Latent Knowledge in Language Models Without Supervision",
            year=2022,
            authors=["Collin Burns", "Haotian Ye", "Dan Klein", "Jacob Steinhardt"],
            arxiv_id="2212.03827",
            section="Introduction",
        ),
    )
}


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """The fixture run copied to ``<ARA_WORKSPACE>/runs/<RUN_ID>`` (the autouse fixture set the workspace)."""
    target = tmp_path / "workspace" / "runs" / RUN_ID
    shutil.copytree(FIXTURE_RUN, target)
    return target


@pytest.fixture
def resolver() -> InMemoryCitations:
    """Two real papers (titles and ids as on arXiv)."""
    return InMemoryCitations(PAPERS)


@pytest.fixture
def good_draft() -> ReportDraft:
    """A draft whose every number comes from a placeholder or traces to the run, and whose claims all hold."""
    return make_good_draft()


@pytest.fixture
def good_experiment() -> ExperimentRecord:
    """The approved plan the fixture run executed: the w2s card, its config, two pre-registered hypotheses."""
    return make_good_experiment()


H1 = Hypothesis(
    id="H1",
    statement="Cross-entropy weak-to-strong training recovers part of the performance gap.",
    metric="xent.pgr",
    predicted="increase",
)
H2 = Hypothesis(
    id="H2",
    statement="The auxiliary confidence loss recovers more of the gap than cross-entropy on the same seeds.",
    metric="aux_conf.pgr",
    baseline="xent.pgr",
    predicted="increase",
)


def make_good_experiment() -> ExperimentRecord:
    """The record behind ``good_experiment``: what the loop would record for the fixture run."""
    card = BUILTIN_CARDS["w2s"]
    executed = json.loads((FIXTURE_RUN / "config.json").read_text(encoding="utf-8"))
    host_fields = ["cache_dir", "data_root"]  # the w2s recipe's host-set paths
    return ExperimentRecord(
        tool=card.name,
        family=card.family,
        method=card.method,
        conditions=list(card.conditions),
        knobs={k.name: k.meaning for k in card.knobs},
        metric_over={name: "seeds" for name in ("weak.acc", "ceiling.acc", "xent.pgr", "aux_conf.pgr")},
        tool_fit=0.71,
        offered=True,
        approved_config={k: v for k, v in executed.items() if k not in host_fields},
        host_fields=host_fields,
        approved_by="ana",
        plan_title="Auxiliary confidence loss vs cross-entropy on rotten tomatoes",
        hypotheses=[H1, H2],
        evidence=[
            RelatedPaper(key=key, title=c.paper.title, anchor=c.chunk.anchor if c.chunk else "")
            for key, c in PAPERS.items()
        ],
    )


def make_good_draft() -> ReportDraft:
    """The draft behind ``good_draft`` (also used to make docs/report-screenshot.png)."""
    return ReportDraft(
        claims=[
            Claim(
                statement="With cross-entropy the strong student recovered part of the gap: PGR "
                "{{ metric:xent.pgr }}, positive as in {{ cite:arxiv:2312.09390#c7 }}.",
                about=["H1", "xent.pgr"],
                stance="supports",
            ),
            Claim(
                statement="The auxiliary confidence loss gave PGR {{ metric:aux_conf.pgr.mean }}; its gain over "
                "cross-entropy is not established on these seeds.",
                about=["H2", "aux_conf.pgr", "xent.pgr"],
                stance="inconclusive",
            ),
            Claim(
                statement="The weak supervisor reached an accuracy of {{ metric:weak.acc.value }} and the strong "
                "ceiling {{ metric:ceiling.acc.value }}.",
                about=["weak.acc", "ceiling.acc"],
            ),
        ],
        rationale=(
            "Both losses train the same strong student on the same weak labels over the same seeds, so the paired "
            "difference isolates the loss; 3 epochs at lr 0.001 on 2000 training examples over 10 seeds follow "
            "the setup of Burns et al. (2023) {{ cite:arxiv:2312.09390#c7 }}."
        ),
        limitations=(
            "Student-supervisor agreement is {{ metric:agreement.value }}: it was not computed. One dataset only; "
            "latent-knowledge methods {{ cite:arxiv:2212.03827#c2 }} were not tried."
        ),
        next_steps="1. Run more seeds.\n2. Add a second dataset.",
        cited_keys=["arxiv:2312.09390#c7"],
    )
