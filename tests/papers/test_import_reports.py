"""Partial imports through ``ara papers import``: every skipped BibTeX entry and CSV row is reported with its line
and why, and the rest is stored; a paper that claims a real arXiv id under a made-up title is stored flagged
(never merged into the real paper) and the flag shows in the import report, search and show."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from assistant.cli import main


def ara(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """``ara <args>`` through the real entry point; (exit code, stdout + stderr)."""
    with CliRunner().isolation(env=env) as (_, _, output):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, output.getvalue().decode("utf-8", "replace")


BIB = """\
@article{christiano2017deep,
  title={Deep reinforcement learning from human preferences},
  eprint={1706.03741}, archivePrefix={arXiv}, year={2017},
  abstract={We explore goals defined in terms of human preferences between pairs of trajectory segments.}
}
@article{broken2020,
  title={A second entry cut off in the middle,
  year={2020}

@comment{a comment is not an entry}
@article{irving2018debate,
  title={AI safety via debate}, year={2018}, journal={arXiv preprint arXiv:1805.00899},
  abstract={We propose training agents via self play on a zero sum debate game judged by a human.}
}
@misc{notitle2021, author={Nobody}, year={2021}}
@article{lasttruncated,
  title={The file ends inside this entry},
  year={20"""


def test_a_bibtex_file_with_bad_entries_imports_the_rest_and_names_each_skip(tmp_path: Path) -> None:
    bib = tmp_path / "refs.bib"
    bib.write_text(BIB, encoding="utf-8")
    code, output = ara("papers", "import", str(bib), "--json")
    assert code == 0, output
    report = json.loads(output[: output.rindex("}") + 1])
    assert sorted(report["added"]) == ["arxiv:1706.03741", "arxiv:1805.00899"]
    assert [(s["line"], s["entry"], s["reason"]) for s in report["skipped"]] == [
        (6, "broken2020", "unbalanced braces (2 '{' left open: a truncated entry or a missing '}')"),
        (15, "notitle2021", "@misc entry has no title"),
        (16, "lasttruncated", "unbalanced braces (2 '{' left open: a truncated entry or a missing '}')"),
    ]
    code, output = ara("papers", "import", str(bib))
    assert code == 0
    assert "added 0, updated 0, unchanged 2" in output
    assert f"skipped {bib}:6 (broken2020): unbalanced braces" in output
    assert f"skipped {bib}:15 (notitle2021): @misc entry has no title" in output
    code, stats = ara("papers", "stats", "--json")
    assert json.loads(stats)["papers"] == 2


def test_a_csv_export_with_bad_rows_names_each_skip_by_line(tmp_path: Path) -> None:
    csv = tmp_path / "zotero.csv"
    csv.write_text(
        "Title,Author,Publication Year,Abstract Note\n"
        '"Deep reinforcement learning from human preferences","Christiano, Paul",2017,"Preferences."\n'
        ',"Nobody",2019,"A row without a title"\n'
        '"AI safety via debate","Irving, Geoffrey",2018,"Debate, ""quoted"",\nover two lines."\n'
        "Shifted columns, by an unquoted comma,Someone,2020,An abstract\n"
        '"Concrete problems in AI safety","Amodei, Dario",2016,"Five problems."\n',
        encoding="utf-8",
    )
    code, output = ara("papers", "import", str(csv), "--json")
    assert code == 0, output
    report = json.loads(output[: output.rindex("}") + 1])
    assert len(report["added"]) == 3
    assert [(s["line"], s["entry"], s["reason"]) for s in report["skipped"]] == [
        (3, "row 3", "no title"),
        (6, "row 5", "5 fields where the header has 4 (an unquoted comma?)"),
    ]


def test_an_arxiv_id_with_a_made_up_title_is_flagged_not_merged(tmp_path: Path, shared_dir: Path) -> None:
    index = shared_dir / "corpus" / "arxiv_id_title_index.json"
    real = tmp_path / "real.bib"
    real.write_text(BIB.split("@article{broken2020")[0], encoding="utf-8")
    fake = tmp_path / "fake.bib"
    fake.write_text(
        "@article{fake2024,\n  title={Scalable oversight is solved by a single weird trick},\n"
        "  eprint={1706.03741}, archivePrefix={arXiv}, year={2024},\n"
        "  abstract={We show that one trick makes every weak supervisor perfect.}\n}\n",
        encoding="utf-8",
    )
    env = {"ARA_PAPERS_ARXIV_INDEX": str(index)}
    assert ara("papers", "import", str(real), env=env)[0] == 0
    code, output = ara("papers", "import", str(fake), "--json", env=env)
    assert code == 0, output
    report = json.loads(output[: output.rindex("}") + 1])
    [added] = report["added"]
    assert added.startswith("t:")
    [flagged] = report["flagged"]
    assert flagged["paper_id"] == added
    assert flagged["flag"] == (
        "arXiv 1706.03741 is 'Deep reinforcement learning from human preferences' in the local arXiv index, not "
        f"'Scalable oversight is solved by a single weird trick': the id or the title in {fake} (line 1) is wrong"
    )
    code, plain = ara("papers", "import", str(fake), env=env)
    assert f"FLAGGED {added}: arXiv 1706.03741 is 'Deep reinforcement learning" in plain

    code, hits = ara("papers", "search", "weird trick makes every weak supervisor perfect", "-k", "2", "--json")
    by_key = {h["paper_id"]: h for h in json.loads(hits)}
    assert by_key[added]["flags"] == [flagged["flag"]]
    assert by_key[added]["arxiv_id"] == "1706.03741"
    code, text = ara("papers", "search", "weird trick makes every weak supervisor perfect", "-k", "1")
    assert "FLAGGED: arXiv 1706.03741 is 'Deep reinforcement learning from human preferences'" in text
    code, shown = ara("papers", "show", added)
    assert "FLAGGED: arXiv 1706.03741" in shown
    code, genuine = ara("papers", "show", "arxiv:1706.03741", "--json")
    paper = json.loads(genuine)["paper"]
    assert (paper["title"], paper["flags"]) == ("Deep reinforcement learning from human preferences", [])


def test_a_configured_index_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    bib = tmp_path / "refs.bib"
    bib.write_text(BIB, encoding="utf-8")
    code, output = ara("papers", "import", str(bib), env={"ARA_PAPERS_ARXIV_INDEX": str(tmp_path / "missing.json")})
    assert code == 2
    assert "error: arXiv index missing" in output
    assert f"papers.arxiv_index is {tmp_path / 'missing.json'}, which does not exist" in output
