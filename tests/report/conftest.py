"""Fixtures for report tests: a copy of the fixture run inside the test's workspace, a resolver, drafts."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.report import DraftClaim, ReportDraft
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
    """A draft whose every number comes from a placeholder or traces to the run."""
    return make_good_draft()


def make_good_draft() -> ReportDraft:
    """The draft behind ``good_draft`` (also used to make docs/report-screenshot.png)."""
    return ReportDraft(
        summary=(
            "With cross-entropy the strong student recovered part of the gap: PGR {{ metric:xent.pgr }}, "
            "positive as in {{ cite:arxiv:2312.09390#c7 }}. The auxiliary confidence loss gave "
            "{{ metric:aux_conf.pgr.mean }}; its gain over cross-entropy is not established."
        ),
        methods=(
            "A weak model trained on ground truth labelled held-out data; a strong student trained on those labels "
            "for 3 epochs (lr 0.001, 2000 training examples) over 10 seeds, following Burns et al. (2023)."
        ),
        results_discussion=(
            "{{ table:by_loss }}\n\nThe weak supervisor reached {{ metric:weak.acc.value }} and the ceiling "
            "{{ metric:ceiling.acc.value }}. {{ figure:pgr_by_seed }}"
        ),
        limitations=(
            "Student-supervisor agreement is {{ metric:agreement.value }}: it was not computed. One dataset only; "
            "latent-knowledge methods {{ cite:arxiv:2212.03827#c2 }} were not tried."
        ),
        next_steps="1. Run more seeds.\n2. Add a second dataset.",
        claims=[
            DraftClaim(statement="Cross-entropy PGR is positive.", metric="xent.pgr", direction="increase"),
            DraftClaim(
                statement="The auxiliary confidence loss raises PGR over cross-entropy.",
                metric="aux_conf.pgr",
                baseline="xent.pgr",
                direction="increase",
            ),
        ],
        cited_keys=["arxiv:2312.09390#c7"],
    )
