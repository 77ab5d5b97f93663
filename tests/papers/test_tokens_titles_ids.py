"""Pure pieces of the library: hyphen-insensitive tokens, title keys and tiers, identifiers, BibTeX ``file`` fields,
LaTeX escaping that our BibTeX import undoes, Markdown front matter."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.papers.documents import parse_markdown, strip_latex
from tools.papers.entries import attachment_paths
from tools.papers.export import BibRecord, citation_keys, latex_escape, to_bibtex
from tools.papers.identifiers import Identifier, parse_identifier
from tools.papers.sparse import tokenize, tokenize_query
from tools.papers.titles import TitleIndex, main_title_key, title_key


def test_hyphenated_words_give_parts_and_the_joined_word() -> None:
    assert tokenize("Contrast-Consistent Search") == ["contrast", "consistent", "contrastconsistent", "search"]
    assert tokenize("Contrast-Consistent Search", version=2) == ["contrast-consistent", "search"]
    assert tokenize("pre\u2010training of self-supervised models") == [
        "pre",
        "train",
        "pretrain",
        "self",
        "supervis",
        "selfsupervis",
        "model",
    ]
    assert tokenize_query("pre training data sets") == [
        "pre",
        "train",
        "data",
        "sets",
        "pretrain",
        "trainingdata",
        "dataset",
    ]
    assert tokenize_query("the reward of models") == ["reward", "model"]


def test_title_keys_and_tiers() -> None:
    assert title_key("Contrast-Consistent  Search: a {CCS} probe") == "contrastconsistentsearchaccsprobe"
    assert main_title_key("AI safety via debate: a long subtitle") == "aisafetyviadebate"
    assert main_title_key("Debate: a subtitle") == ""
    assert main_title_key("No subtitle here") == ""
    index = TitleIndex.of_titles(
        [
            "AI safety via debate",
            "Writeup: Progress on AI Safety via Debate",
            "Deep reinforcement learning from human preferences",
            "Toy Models of Superposition: an essay",
        ]
    )
    assert index.tiers("ai safety via debate", candidates=[0, 1, 2, 3]).tolist() == [2, 0, 0, 0]
    assert index.tiers("AI-safety via debate", candidates=[]).tolist() == [2, 0, 0, 0]
    assert index.tiers("Deep reinforcement learning from human preference", candidates=[2]).tolist() == [0, 0, 1, 0]
    assert index.tiers("Deep reinforcement learning from human preference", candidates=[]).tolist() == [0, 0, 0, 0]
    assert index.tiers("toy models of superposition", candidates=[]).tolist() == [0, 0, 0, 1]
    assert index.tiers("debate " * 60, candidates=[0, 1, 2, 3]).tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1805.00899", Identifier("arxiv", "1805.00899", "1805.00899")),
        ("arXiv:1805.00899v2", Identifier("arxiv", "1805.00899", "arXiv:1805.00899v2")),
        ("https://arxiv.org/abs/1805.00899v3", Identifier("arxiv", "1805.00899", "https://arxiv.org/abs/1805.00899v3")),
        (
            "http://arxiv.org/pdf/1805.00899.pdf",
            Identifier("arxiv", "1805.00899", "http://arxiv.org/pdf/1805.00899.pdf"),
        ),
        ("https:/arxiv.org/abs/1805.00899", Identifier("arxiv", "1805.00899", "https:/arxiv.org/abs/1805.00899")),
        ("hep-th/9901001", Identifier("arxiv", "hep-th/9901001", "hep-th/9901001")),
        (
            "10.48550/arXiv.2212.03827",
            Identifier("arxiv", "2212.03827", "10.48550/arXiv.2212.03827", "10.48550/arxiv.2212.03827"),
        ),
        (
            "doi:10.1145/3442188.3445922",
            Identifier("doi", "10.1145/3442188.3445922", "doi:10.1145/3442188.3445922", "10.1145/3442188.3445922"),
        ),
        (
            "https://doi.org/10.1145/3442188.3445922",
            Identifier(
                "doi", "10.1145/3442188.3445922", "https://doi.org/10.1145/3442188.3445922", "10.1145/3442188.3445922"
            ),
        ),
        ("notes.md", None),
        ("1805.99", None),
        ("https://example.org/paper.pdf", None),
    ],
)
def test_identifiers(text: str, expected: Identifier | None) -> None:
    assert parse_identifier(text) == expected


def test_bibtex_file_fields() -> None:
    assert attachment_paths("Full Text PDF:files/12/Irving - 2018 - Debate.pdf:application/pdf") == [
        "files/12/Irving - 2018 - Debate.pdf"
    ]
    assert attachment_paths("/home/u/Zotero/storage/AB/a.pdf;Snapshot:/home/u/b.html:text/html") == [
        "/home/u/Zotero/storage/AB/a.pdf",
        "/home/u/b.html",
    ]
    assert attachment_paths(r"Full Text:C\:\\Users\\me\\a.pdf:application/pdf") == [r"C:\Users\me\a.pdf"]
    assert attachment_paths(":papers/a.pdf:PDF") == ["papers/a.pdf"]


def test_latex_escaping_round_trips_through_our_bibtex_reader() -> None:
    text = "R&D at 50% of $cost #1 with snake_case {braces} ~tilde ^caret \\back"
    assert strip_latex(latex_escape(text)) == text
    records = [
        BibRecord(paper_id="a", title="AI safety via debate", authors=("Irving, Geoffrey",), year=2018),
        BibRecord(paper_id="b", title="AI safety via market making", authors=("Evan Hubinger",), year=2018),
        BibRecord(paper_id="c", title="The Alignment Problem", year=None),
        BibRecord(paper_id="d", title="Ä Study", authors=("Ölander, Per",), year=2020),
    ]
    assert citation_keys(records) == ["irving2018ai", "hubinger2018ai", "alignment", "olander2020study"]
    twins = [BibRecord(paper_id=str(i), title="On debate", authors=("Irving, G",), year=2018) for i in range(3)]
    assert citation_keys(twins) == ["irving2018debatea", "irving2018debateb", "irving2018debatec"]
    assert to_bibtex([]) == ""


def test_markdown_front_matter_keeps_tags_authors_and_ids(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text(
        '---\ntitle: "Steering vectors"\nauthor: Turner, Alex and Thiergart, Lisa\nkeywords: steering, activation '
        "engineering\nurl: https://arxiv.org/abs/2308.10248\ndoi: 10.48550/arXiv.2308.10248\ndate: 2023-08-20\n---\n"
        "# Idea\n\nAdd a vector to the residual stream.\n",
        encoding="utf-8",
    )
    [doc] = parse_markdown(note)
    assert (doc.title, doc.authors, doc.tags, doc.arxiv_id, doc.doi, doc.year, doc.url) == (
        "Steering vectors",
        ["Turner, Alex", "Thiergart, Lisa"],
        ["steering", "activation engineering"],
        "2308.10248",
        "10.48550/arxiv.2308.10248",
        2023,
        "https://arxiv.org/abs/2308.10248",
    )
    block = tmp_path / "block.md"
    block.write_text("---\ntags:\n  - rlhf\n  - 'reward models'\n---\n# T\n\ntext\n", encoding="utf-8")
    assert parse_markdown(block)[0].tags == ["rlhf", "reward models"]
