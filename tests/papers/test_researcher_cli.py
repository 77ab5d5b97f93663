"""``ara papers`` as a researcher uses it, on real shared corpus files, asserting exact output: titles first,
hyphen-insensitive search, filters that match nothing, per-item import reports, ids and URLs as sources, front
matter, Zotero attachments, list/tag/untag/remove/export, and exit codes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import bibtexparser
import pytest
from click.testing import CliRunner

from assistant.cli import main


def ara(*args: str, workspace: Path) -> tuple[int, str, str]:
    """``ara <args>`` through the real entry point in ``workspace``: (exit code, stdout, stderr)."""
    with CliRunner().isolation(env={"ARA_WORKSPACE": str(workspace)}) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, out.getvalue().decode(), err.getvalue().decode()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> tuple[Path, str, str]:
    """A workspace whose library holds the debate article's references.bib and the 51 seed papers (ingested once
    per module); with the import outputs."""
    workspace = tmp_path_factory.mktemp("corpus") / "workspace"
    corpus = shared_dir / "corpus"
    bib = corpus / "distill_source" / "safety-needs-social-scientists" / "references.bib"
    code, bib_out, _ = ara("papers", "import", str(bib), workspace=workspace)
    assert code == 0, bib_out
    code, seed_out, _ = ara("papers", "add", str(corpus / "alignment_seed_papers.jsonl"), workspace=workspace)
    assert code == 0, seed_out
    return workspace, bib_out, seed_out


@pytest.fixture
def ws(built: tuple[Path, str, str], tmp_path: Path) -> Path:
    """A copy of the built workspace for one test."""
    target = tmp_path / "ws"
    shutil.copytree(built[0], target)
    return target


def test_import_report_names_every_paper_and_why(built: tuple[Path, str, str], shared_dir: Path) -> None:
    _, bib_out, seed_out = built
    bib = shared_dir / "corpus" / "distill_source" / "safety-needs-social-scientists" / "references.bib"
    seed = shared_dir / "corpus" / "alignment_seed_papers.jsonl"
    lines = bib_out.splitlines()
    assert re.fullmatch(
        r"added 65, updated 0, unchanged 0, duplicates 1; 66 chunks \(\d+ embedded\) in [\d.]+ s", lines[0]
    )
    assert lines[1:4] == [
        f"  added     arxiv:1805.00899  AI safety via debate  ({bib}:1)",
        f"  duplicate arxiv:1805.00899  AI safety via debate  ({bib}:9): same title as 'AI safety via debate' from "
        f"{bib}#irving2018debate; the stored paper was kept",
        f"  added     arxiv:1712.01815  Mastering chess and shogi by self-play with a general reinforcement learning "
        f"algorithm  ({bib}:18)",
    ]
    assert len(lines) == 1 + 50 + 1
    assert lines[-1] == "  ... and 16 more (--json lists every paper)"
    seed_lines = seed_out.splitlines()
    assert seed_lines[0].startswith("added 47, updated 0, unchanged 0, duplicates 4; 47 chunks")
    assert seed_lines[2] == (
        f"  duplicate arxiv:1706.03741  Deep reinforcement learning from human preferences  ({seed}:2): same arXiv id "
        f"as 'Deep reinforcement learning from human preferences' from {bib}#christiano2017human; the stored paper "
        "was kept"
    )
    again = ara("papers", "import", str(bib), "--json", workspace=built[0])
    report = json.loads(again[1])
    assert (report["added"], report["updated"], report["unchanged"], report["duplicates"]) == ([], [], 65, 1)
    assert [i["status"] for i in report["items"]].count("unchanged") == 65


def test_exact_title_first_and_single_hit_scores(ws: Path) -> None:
    code, out, _ = ara("papers", "search", "ai safety via debate", "-k", "2", workspace=ws)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == " 1. AI safety via debate (2018)"
    assert re.fullmatch(
        r"    arxiv:1805\.00899#c0  \[title\]  score \d+\.\d{3}, cosine 1\.00  exact title match", lines[1]
    )
    assert lines[3] == " 2. Concrete Problems in AI Safety (2016)"
    code, out, _ = ara("papers", "search", "toy models of superposition", "-k", "1", "--json", workspace=ws)
    [hit] = json.loads(out)
    assert (hit["paper_id"], hit["title_match"]) == ("arxiv:2209.10652", "exact")
    code, out, _ = ara("papers", "search", "game playing", "--tag", "computer chess", "--json", workspace=ws)
    [single] = json.loads(out)
    assert single["title"] == "Deep Blue"
    assert single["score"] != 0.0
    assert 0.1 < single["similarity"] < 1.0


def test_hyphen_and_spacing_insensitive_search(ws: Path) -> None:
    notes = ws / "ccs-notes.md"
    notes.write_text(
        "---\ntitle: Discovering Latent Knowledge in Language Models Without Supervision\ntags: [probing, ccs]\n"
        "doi: 10.48550/arXiv.2212.03827\nauthors:\n  - Burns, Collin\n  - Ye, Haotian\ndate: 2022-12-07\n---\n"
        "# Method\n\nContrast-Consistent Search (CCS) finds a direction in a language model's activations that "
        "satisfies logical consistency: a statement and its negation get opposite truth values. It needs no "
        "labels and recovers latent knowledge even when the model's outputs are misleading.\n",
        encoding="utf-8",
    )
    _, out, _ = ara("papers", "add", str(notes), "--json", workspace=ws)
    [item] = json.loads(out)["items"]
    assert (item["status"], item["paper_id"]) == ("updated", "arxiv:2212.03827")
    assert item["note"].startswith("same arXiv id as 'Discovering Latent Knowledge in Language Models Without")
    _, out, _ = ara("papers", "show", "arxiv:2212.03827", "--json", workspace=ws)
    paper = json.loads(out)["paper"]
    assert (paper["tags"], paper["doi"], paper["authors"], paper["year"]) == (
        ["probing", "ccs"],
        "10.48550/arxiv.2212.03827",
        ["Burns, Collin", "Ye, Haotian"],
        2022,
    )
    for query in ("contrast-consistent search", "contrast consistent search", "contrastconsistent search"):
        _, out, _ = ara("papers", "search", query, "-k", "1", "--json", workspace=ws)
        assert json.loads(out)[0]["key"] == "arxiv:2212.03827#c0", query


def test_filters_that_match_nothing_say_so(ws: Path) -> None:
    code, out, err = ara("papers", "search", "debate", "--tag", "notes", workspace=ws)
    assert (code, out) == (2, "")
    assert err.startswith("error: No papers match\nno paper has the tag 'notes'; tags in the library: ")
    assert "interpretability (5)" in err
    code, out, err = ara("papers", "list", "--author", "zzyzx", workspace=ws)
    assert (code, err) == (
        2,
        "error: No papers match\nno author name in the library contains 'zzyzx'; try part of a last name "
        "(e.g. 'irving')\n",
    )
    code, out, err = ara("papers", "list", "--tag", "debate", "--year-min", "2030", workspace=ws)
    assert code == 2
    assert "no paper matches --year-min 2030 --tag debate; years in the library run from " in err
    code, out, err = ara("papers", "search", "x", "--year-min", "2020", "--year-max", "2010", workspace=ws)
    assert (code, err) == (2, "error: Bad filter\n--year-min 2020 is after --year-max 2010; swap them\n")


def test_list_tag_untag_and_tags_survive_reimport(ws: Path, shared_dir: Path) -> None:
    code, out, _ = ara("papers", "list", "--tag", "interpretability", workspace=ws)
    assert (code, out) == (
        0,
        "arxiv:2202.05262  2022  Locating and Editing Factual Associations in GPT  [interpretability]\n"
        "arxiv:2209.10652  2022  Toy Models of Superposition  [interpretability]\n"
        "arxiv:2209.11895  2022  In-context Learning and Induction Heads  [interpretability]\n"
        "arxiv:2211.00593  2022  Interpretability in the Wild: a Circuit for Indirect Object Identification in "
        "GPT-2 small  [interpretability]\n"
        "arxiv:2303.08112  2023  Eliciting Latent Predictions from Transformers with the Tuned Lens  "
        "[interpretability]\n"
        "5 of 112 papers (--tag interpretability)\n",
    )
    assert ara("papers", "tag", "arxiv:1805.00899", "debate", "oversight", workspace=ws)[1] == (
        "arxiv:1805.00899: added debate, oversight\ntags: debate, oversight\n"
    )
    assert ara("papers", "tag", "arxiv:1805.00899", "Debate", workspace=ws)[1] == (
        "arxiv:1805.00899 already has Debate; tags: debate, oversight\n"
    )
    assert ara("papers", "untag", "arxiv:1805.00899", "oversight", "nope", workspace=ws)[1] == (
        "arxiv:1805.00899: removed oversight; did not have nope\ntags: debate\n"
    )
    assert ara("papers", "untag", "arxiv:1805.00899", "nope", workspace=ws)[::2] == (
        2,
        "error: Unknown tag\narxiv:1805.00899 has no tag 'nope'; its tags: debate\n",
    )
    assert ara("papers", "tag", "arxiv:1805.00899", "a,b", workspace=ws)[0] == 2
    bib = shared_dir / "corpus" / "distill_source" / "safety-needs-social-scientists" / "references.bib"
    changed = ws / "references.bib"
    changed.write_text(
        bib.read_text(encoding="utf-8").replace(
            "title={AI safety via debate},",
            "title={AI safety via debate},\n  abstract={Debate between two agents judged by a human.},",
            1,
        ),
        encoding="utf-8",
    )
    code, out, _ = ara("papers", "import", str(changed), "--json", workspace=ws)
    assert "arxiv:1805.00899" in json.loads(out)["updated"]
    shown = json.loads(ara("papers", "show", "arxiv:1805.00899", "--json", workspace=ws)[1])["paper"]
    assert shown["tags"] == ["debate"]


def test_ids_urls_and_dois_are_sources(ws: Path) -> None:
    code, out, err = ara(
        "papers", "add", "2112.09332", "https://arxiv.org/abs/2310.12773v1", "10.48550/arXiv.1805.00899", workspace=ws
    )
    assert code == 0, err
    assert out.splitlines()[0].startswith("added 2, updated 0, unchanged 0, duplicates 1;")
    assert re.fullmatch(
        r"  added     arxiv:2112\.09332  WebGPT: Browser-assisted question-answering with human feedback  "
        r"\(arxiv:2112\.09332\): metadata from the local arXiv index .*arxiv_id_title_index\.json \(title only\)",
        out.splitlines()[1],
    )
    assert out.splitlines()[2].startswith("  added     arxiv:2310.12773  Safe RLHF: Safe Reinforcement Learning from")
    assert out.splitlines()[3].startswith(
        "  duplicate arxiv:1805.00899  AI safety via debate  (arxiv:1805.00899): same arXiv id as 'AI safety via "
        "debate' from "
    )
    code, out, err = ara("papers", "add", "10.1145/3442188.3445922", workspace=ws)
    assert code == 2
    assert err.endswith(
        "  skipped 10.1145/3442188.3445922: DOI 10.1145/3442188.3445922 cannot be looked up offline (the local index "
        "holds arXiv ids only, and ara makes no network look-ups); add the paper's PDF, or a BibTeX or CSV entry "
        "with this DOI\nerror: Ingest failed\nnothing was ingested: 1 source(s) failed\n"
    )
    code, out, err = ara("papers", "add", "no-such-file.pdf", workspace=ws)
    assert (code, out, err) == (
        2,
        "",
        "error: Nothing to add\nno-such-file.pdf: no such file or directory, and not an arXiv id (1805.00899), "
        "arXiv URL or DOI; check the path. Nothing was added.\n",
    )


def test_zotero_attachments_are_read(ws: Path, shared_dir: Path) -> None:
    files = ws / "export" / "files" / "7"
    files.mkdir(parents=True)
    shutil.copy(shared_dir / "corpus" / "distill_rendered" / "Research_Debt.html", files / "Research Debt.html")
    bib = ws / "export" / "zotero.bib"
    bib.write_text(
        "@article{olah2017research,\n  title = {Research Debt},\n  author = {Olah, Chris and Carter, Shan},\n"
        "  year = {2017},\n  file = {Snapshot:files/7/Research Debt.html:text/html}\n}\n"
        "@article{missing2020,\n  title = {A paper whose attachment was not exported},\n  year = {2020},\n"
        "  file = {Full Text PDF:files/9/missing.pdf:application/pdf}\n}\n",
        encoding="utf-8",
    )
    code, out, _ = ara("papers", "import", str(bib), workspace=ws)
    assert code == 0
    lines = out.splitlines()
    assert lines[1:] == [
        f"  added     doi:10.23915/distill.00005  Research Debt  ({bib}:1): text from attachment "
        f"{files / 'Research Debt.html'}",
        f"  added     t:{_title_id('A paper whose attachment was not exported')}  A paper whose attachment was not "
        f"exported  ({bib}:7): attachment files/9/missing.pdf not found (looked at "
        f"{bib.parent / 'files/9/missing.pdf'}); imported the entry's metadata",
    ]
    code, out, _ = ara("papers", "show", "doi:10.23915/distill.00005", "--json", workspace=ws)
    chunks = json.loads(out)["chunks"]
    assert len(chunks) > 5
    assert any("research debt" in c["text"].lower() for c in chunks)


def _title_id(title: str) -> str:
    from tools.papers.ids import paper_id_for

    return paper_id_for(arxiv_id=None, doi=None, title=title).removeprefix("t:")


def test_remove_keeps_every_store_consistent(ws: Path) -> None:
    def counts() -> tuple[int, int, int, int | None]:
        stats = json.loads(ara("papers", "stats", "--json", workspace=ws)[1])
        return stats["papers"], stats["chunks"], stats["indexed_chunks"], stats["chroma_chunks"]

    before = counts()
    assert before[1] == before[2] == before[3]
    code, _, err = ara("papers", "remove", "arxiv:1805.00899", "nope", workspace=ws)
    assert (code, err) == (
        2,
        "error: Unknown paper\nno paper 'nope' in the library; paper ids look like arxiv:1805.00899, doi:10.1145/... "
        "or t:<hex> (see 'ara papers list'). Nothing was changed.\n",
    )
    assert counts() == before
    code, out, _ = ara("papers", "remove", "arxiv:1805.00899", workspace=ws)
    assert (code, out) == (0, "removed arxiv:1805.00899  AI safety via debate\n1 paper(s) and 1 passage(s) removed\n")
    after = counts()
    assert after == (before[0] - 1, before[1] - 1, before[2] - 1, before[3] - 1 if before[3] else None)
    hits = json.loads(ara("papers", "search", "AI safety via debate", "--json", workspace=ws)[1])
    assert "arxiv:1805.00899" not in {h["paper_id"] for h in hits}
    code, out, _ = ara("papers", "add", "1805.00899", "--json", workspace=ws)
    assert json.loads(out)["added"] == ["arxiv:1805.00899"]
    assert counts() == before

    chroma = ws / ".ara" / "papers" / "chroma"
    for sqlite in chroma.glob("*.sqlite3"):
        sqlite.write_bytes(b"this is not a database" * 100)
    code, _, err = ara("papers", "remove", "arxiv:1706.03741", workspace=ws)
    assert code == 2
    assert "Chroma store" in err
    assert "Nothing was changed." in err
    shutil.rmtree(chroma)
    stats = json.loads(ara("papers", "stats", "--json", workspace=ws)[1])
    assert (stats["papers"], stats["chunks"], stats["indexed_chunks"]) == before[:3]


def test_export_bibtex_and_csl_round_trip(ws: Path, tmp_path: Path) -> None:
    assert ara("papers", "tag", "arxiv:1805.00899", "R&D_50%", workspace=ws)[0] == 0
    code, out, _ = ara("papers", "export", "--bibtex", "arxiv:1805.00899", workspace=ws)
    assert (code, out) == (
        0,
        "@misc{irving2018ai,\n"
        "  title = {{AI safety via debate}},\n"
        "  author = {Irving, Geoffrey and Christiano, Paul and Amodei, Dario},\n"
        "  year = {2018},\n"
        "  eprint = {1805.00899},\n"
        "  archivePrefix = {arXiv},\n"
        "  url = {https://arxiv.org/abs/1805.00899},\n"
        "  keywords = {R\\&D\\_50\\%},\n"
        "  note = {ara paper id: arxiv:1805.00899}\n"
        "}\n",
    )
    exported = tmp_path / "interp.bib"
    code, _, err = ara("papers", "export", "--bibtex", "--tag", "interpretability", "-o", str(exported), workspace=ws)
    assert (code, err) == (0, f"wrote 5 reference(s) to {exported}\n")
    entries = bibtexparser.loads(exported.read_text(encoding="utf-8")).entries
    assert [e["ID"] for e in entries] == [
        "2022locating",
        "2022toy",
        "2022incontext",
        "2022interpretability",
        "2023eliciting",
    ]
    fresh = tmp_path / "fresh"
    code, out, _ = ara("papers", "import", str(exported), "--json", workspace=fresh)
    report = json.loads(out)
    assert sorted(report["added"]) == [
        "arxiv:2202.05262",
        "arxiv:2209.10652",
        "arxiv:2209.11895",
        "arxiv:2211.00593",
        "arxiv:2303.08112",
    ]
    listed = ara("papers", "list", workspace=fresh)[1]
    assert "arxiv:2209.10652  2022  Toy Models of Superposition  [interpretability]\n" in listed
    code, out, _ = ara("papers", "export", "--csl-json", "arxiv:1805.00899", "arxiv:2209.10652", workspace=ws)
    items = json.loads(out)
    assert items[0] == {
        "id": "irving2018ai",
        "type": "article",
        "title": "AI safety via debate",
        "author": [
            {"family": "Irving", "given": "Geoffrey"},
            {"family": "Christiano", "given": "Paul"},
            {"family": "Amodei", "given": "Dario"},
        ],
        "issued": {"date-parts": [[2018]]},
        "publisher": "arXiv",
        "number": "arXiv:1805.00899",
        "URL": "https://arxiv.org/abs/1805.00899",
        "keyword": "R&D_50%",
        "note": "ara paper id: arxiv:1805.00899",
    }
    assert items[1]["id"] == "2022toy"
    assert ara("papers", "export", "arxiv:1805.00899", workspace=ws)[::2] == (
        2,
        "error: No format\nchoose a format: --bibtex or --csl-json\n",
    )


def test_export_a_reports_references(ws: Path) -> None:
    from assistant.report.model import Reference

    run = ws / "runs" / "01RUN"
    run.mkdir(parents=True)
    references = [
        Reference(key="arxiv:1805.00899#c0", number=1, title="AI safety via debate", year=2018),
        Reference(key="arxiv:1805.00899#c3", number=2, title="AI safety via debate", year=2018),
        Reference(
            key="arxiv:9999.00001#c0",
            number=3,
            title="A paper since removed",
            year=2021,
            authors=["Doe, Jane"],
            arxiv_id="9999.00001",
        ),
    ]
    (run / "report.json").write_text(
        json.dumps({"schema": "ara.report/1", "references": [r.model_dump(mode="json") for r in references]}),
        encoding="utf-8",
    )
    code, out, _ = ara("papers", "export", "--csl-json", "--report", "01RUN", workspace=ws)
    assert code == 0
    items = json.loads(out)
    assert [(i["id"], i["title"]) for i in items] == [
        ("irving2018ai", "AI safety via debate"),
        ("doe2021paper", "A paper since removed"),
    ]
    assert items[0]["author"][0] == {"family": "Irving", "given": "Geoffrey"}
    code, _, err = ara("papers", "export", "--bibtex", "--report", "nope", workspace=ws)
    assert (code, err) == (2, f"error: Unknown run\nno run 'nope' in {ws / 'runs'}; list runs with 'ara runs'\n")
