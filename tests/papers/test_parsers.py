"""Parsers on small real files and on the shared corpus; every bad input gets a clear per-file error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.papers.files import make_encrypted_pdf, make_image_pdf, make_pdf
from tools.papers import PaperFileError
from tools.papers.parsers import parse_file


def test_pdf_text_layer_pages_and_headings(tmp_path: Path) -> None:
    pdf = make_pdf(
        tmp_path / "debate.pdf",
        ["1 Introduction\nDebate trains two agents to argue.\narXiv:1805.00899", "2 Methods\nA judge reads them."],
        title="AI Safety via Debate",
    )
    [doc] = parse_file(pdf)
    assert doc.title == "AI Safety via Debate"
    assert doc.arxiv_id == "1805.00899"
    assert [(s.page, s.title) for s in doc.sections] == [(1, "1 Introduction"), (2, "2 Methods")]
    assert "judge reads them" in doc.sections[1].text


def test_bad_pdfs_each_get_a_clear_error(tmp_path: Path) -> None:
    good = make_pdf(tmp_path / "good.pdf", ["Some text"])
    encrypted = make_encrypted_pdf(good, tmp_path / "locked.pdf")
    with pytest.raises(PaperFileError, match=r"locked\.pdf: the PDF is encrypted"):
        parse_file(encrypted)
    with pytest.raises(PaperFileError, match=r"scan\.pdf: the PDF has no text layer .*OCR"):
        parse_file(make_image_pdf(tmp_path / "scan.pdf"))
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    with pytest.raises(PaperFileError, match=r"corrupt\.pdf: not a readable PDF"):
        parse_file(corrupt)


def test_huge_empty_binary_and_unknown_files(tmp_path: Path) -> None:
    huge = tmp_path / "huge.md"
    with huge.open("wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: 200 MB without writing them
    with pytest.raises(PaperFileError, match=r"huge\.md: file is 200 MiB, over the 100 MiB limit"):
        parse_file(huge)
    (tmp_path / "empty.md").write_text("")
    with pytest.raises(PaperFileError, match="file is empty"):
        parse_file(tmp_path / "empty.md")
    (tmp_path / "blob.md").write_bytes(b"\x00\xff\xfe\x00" * 100)
    with pytest.raises(PaperFileError, match="binary file"):
        parse_file(tmp_path / "blob.md")
    (tmp_path / "x.docx").write_text("x")
    with pytest.raises(PaperFileError, match=r"unsupported file type '\.docx'"):
        parse_file(tmp_path / "x.docx")


def test_non_utf8_text_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_bytes("# Café results\n\nNaïve reward models “overfit”.\n".encode("cp1252"))
    [doc] = parse_file(path)
    assert doc.title == "Café results"
    assert doc.sections[0].text == "Naïve reward models “overfit”."


def test_markdown_latex_and_arxiv_list(tmp_path: Path) -> None:
    md = tmp_path / "ch.md"
    md.write_text("---\ntitle: Reward Models\n---\n<!-- licence -->\nIntro text.\n\n## Training\nBradley-Terry loss.\n")
    [doc] = parse_file(md)
    assert doc.title == "Reward Models"
    assert [(s.title, s.text) for s in doc.sections] == [("", "Intro text."), ("Training", "Bradley-Terry loss.")]
    tex = tmp_path / "p.tex"
    tex.write_text(
        "\\documentclass{article}\\title{Sleeper \\emph{Agents}}\n\\begin{document}\n\\begin{abstract}We train "
        "backdoors.\\end{abstract}\n\\section{Method}Triggers persist \\cite{x}.% comment\n\\end{document}\n"
    )
    [doc] = parse_file(tex)
    assert (doc.title, doc.abstract) == ("Sleeper Agents", "We train backdoors.")
    assert [(s.title, s.text) for s in doc.sections] == [("Method", "Triggers persist .")]
    ids = tmp_path / "ids.txt"
    ids.write_text(
        "# reading list\n2312.09390\tWeak-to-Strong Generalization\nnot-an-id Title\n1805.00899 AI safety via debate\n"
    )
    docs = parse_file(ids)
    assert [(d.arxiv_id, d.title, d.year) for d in docs] == [
        ("2312.09390", "Weak-to-Strong Generalization", 2023),
        ("1805.00899", "AI safety via debate", 2018),
    ]


def test_csv_needs_a_title_column(tmp_path: Path) -> None:
    bad = tmp_path / "export.csv"
    bad.write_text("Key,Author,Year\nA1,Someone,2020\n")
    with pytest.raises(PaperFileError, match=r"export\.csv: CSV has no title column .*found key, author, year"):
        parse_file(bad)
    ok = tmp_path / "zotero.csv"
    ok.write_text(
        "Key,Title,Author,Publication Year,DOI,Url,Abstract Note,Manual Tags\n"
        'K1,Debate,"Irving, Geoffrey; Christiano, Paul",2018,,https://arxiv.org/abs/1805.00899,Abstract.,AI; debate\n'
        "K2,,Nobody,2019,,,,\n"
        "K3,A DOI paper,,2020,https://doi.org/10.48550/arXiv.2001.08361,,,\n"
    )
    docs = parse_file(ok)
    assert [(d.title, d.arxiv_id, d.year, d.doi) for d in docs] == [
        ("Debate", "1805.00899", 2018, None),
        ("A DOI paper", "2001.08361", 2020, "10.48550/arxiv.2001.08361"),
    ]
    assert docs[0].authors == ["Irving, Geoffrey", "Christiano, Paul"]
    assert docs[0].tags == ["AI", "debate"]


def test_real_corpus_files(shared_dir: Path) -> None:
    corpus = shared_dir / "corpus"
    [html] = parse_file(corpus / "distill_rendered" / "Feature_Visualization.html")
    assert html.title == "Feature Visualization"
    assert len(html.sections) > 5
    assert sum(len(s.text) for s in html.sections) > 10_000
    bib = parse_file(corpus / "rlhf_book" / "bib.bib")
    assert len(bib) > 400
    assert sum(d.arxiv_id is not None for d in bib) >= 150
    [chapter] = parse_file(corpus / "rlhf_book" / "05-reward-models.md")
    assert "Reward Model" in chapter.title
    rows = parse_file(corpus / "tai_safety_bibliography.csv")
    assert len(rows) == 1791
    assert sum(bool(r.abstract) for r in rows) == 1574
