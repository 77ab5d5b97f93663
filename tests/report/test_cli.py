"""``ara report RUN_ID`` and ``ara report check RUN_ID`` through the real entry point (exit codes included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dirty_equals import IsStr

from assistant.cli import main
from assistant.report import ReportDraft, build_report, load_report, write_report
from tests.report.conftest import NOW, RUN_ID


def _main(args: list[str]) -> int:
    """The exit status the ``ara`` console script would give (it calls ``sys.exit(main())``)."""
    try:
        return int(main(args) or 0)
    except SystemExit as exit_:
        return int(exit_.code or 0)


def test_render_results_only_report(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _main(["report", RUN_ID])

    out = capsys.readouterr()
    assert code == 0
    assert out.out.splitlines() == [str(run_dir / "report.md"), str(run_dir / "report.html")]
    assert "(not written)" in (run_dir / "report.md").read_text()
    assert load_report(run_dir).verified is True


def test_md_only_and_html_only(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["report", "--md", RUN_ID]) == 0
    assert capsys.readouterr().out.splitlines() == [str(run_dir / "report.md")]
    assert not (run_dir / "report.html").exists()
    assert _main(["report", RUN_ID, "--html"]) == 0
    assert capsys.readouterr().out.splitlines() == [str(run_dir / "report.html")]


def test_rerender_keeps_the_stored_draft(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    draft = ReportDraft(summary="PGR was {{ metric:xent.pgr.mean }}.")
    write_report(run_dir, build_report(run_dir, draft, None, now=NOW))

    assert _main(["report", RUN_ID]) == 0

    assert "PGR was 0.278." in (run_dir / "report.md").read_text()


def test_check_passes_and_fails_with_exit_2(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_report(run_dir, build_report(run_dir, ReportDraft(summary="PGR {{ metric:xent.pgr }}."), None, now=NOW))
    assert _main(["report", "check", RUN_ID]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "ok: 1 values filled, 0 typed numbers traced, 0 citations resolved"
    )

    fabricated = ReportDraft(summary="PGR rose to 0.91.\nSee {{ cite:p1#c1 }}.")
    write_report(run_dir, build_report(run_dir, fabricated, None, now=NOW))
    code = _main(["report", "check", RUN_ID])

    lines = capsys.readouterr().out.splitlines()
    assert code == 2
    assert lines[0].startswith("summary:1:13: numeral: '0.91': number not traceable")
    assert lines[1] == "summary:2:5: citation: 'p1#c1': cannot resolve: no paper library is available to check it"
    assert lines[-1].startswith("FAILED (2 problem(s))")


def test_unknown_run_and_missing_report_exit_2(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["report", "01NOSUCHRUN"]) == 2
    assert f"no run '01NOSUCHRUN' in {run_dir.parent}. Recent runs: {RUN_ID}." in capsys.readouterr().err
    assert _main(["report", "check", RUN_ID]) == 2
    assert "report.json not found: no report was written for this run." in capsys.readouterr().err
    assert _main(["report", "../../etc"]) == 2
    assert "'../../etc' is not a run id" in capsys.readouterr().err


def test_malformed_results_exit_2(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run_dir / "results.json").write_text("{not json")

    assert _main(["report", RUN_ID]) == 2

    err = capsys.readouterr().err
    assert "Bad results file" in err
    assert f"{run_dir / 'results.json'} is not valid JSON (line 1, column 2" in err


def test_check_json(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_report(run_dir, build_report(run_dir, ReportDraft(summary="Seed 7 won."), None, now=NOW))

    code = _main(["report", "check", RUN_ID, "--json"])

    data = json.loads(capsys.readouterr().out)
    assert code == 2
    assert data["ok"] is False
    assert data["offenders"] == [
        {"kind": "numeral", "location": "summary:1:6", "text": "7", "message": IsStr(regex="number not traceable.*")}
    ]
