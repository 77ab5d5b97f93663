"""``ara report RUN_ID`` and ``ara report check RUN_ID`` through the real entry point (exit codes included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dirty_equals import IsStr

from assistant.cli import main
from assistant.report import ExperimentRecord, ReportDraft, build_report, load_report, write_report
from assistant.schemas import Claim
from tests.report.conftest import NOW, RUN_ID
from tools.papers.citations import InMemoryCitations


def _claim(statement: str) -> ReportDraft:
    """A draft with one descriptive claim about cross-entropy PGR and a limitation."""
    return ReportDraft(claims=[Claim(statement=statement, about=["xent.pgr"])], limitations="One dataset only.")


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
    assert f"unverified: 2 problem(s); see 'ara report check {RUN_ID}'" in out.err
    markdown = (run_dir / "report.md").read_text()
    assert "(not written)" in markdown
    assert "No hypothesis was registered before this run, so it is exploratory" in markdown
    # a report with nothing in it to verify is never marked verified
    written = load_report(run_dir)
    assert written.verified is False
    assert written.check is not None
    assert [(o.kind, o.location) for o in written.check.offenders] == [("section", "limitations"), ("empty", "summary")]


def test_md_only_and_html_only(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["report", "--md", RUN_ID]) == 0
    assert capsys.readouterr().out.splitlines() == [str(run_dir / "report.md")]
    assert not (run_dir / "report.html").exists()
    assert _main(["report", RUN_ID, "--html"]) == 0
    assert capsys.readouterr().out.splitlines() == [str(run_dir / "report.html")]


def test_rerender_keeps_the_stored_draft(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_report(run_dir, build_report(run_dir, _claim("PGR was {{ metric:xent.pgr.mean }}."), None, now=NOW))

    assert _main(["report", RUN_ID]) == 0

    assert "- PGR was 0.278." in (run_dir / "report.md").read_text()
    assert load_report(run_dir).to_draft() == _claim("PGR was {{ metric:xent.pgr.mean }}.")


def test_rerender_keeps_the_approved_experiment(
    run_dir: Path,
    good_draft: ReportDraft,
    good_experiment: ExperimentRecord,
    resolver: InMemoryCitations,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_report(run_dir, build_report(run_dir, good_draft, resolver, experiment=good_experiment, now=NOW))

    assert _main(["report", RUN_ID]) == 0

    rebuilt = load_report(run_dir)
    assert rebuilt.experiment == good_experiment
    assert [(h.id, h.verdict) for h in rebuilt.hypotheses] == [("H1", "supported"), ("H2", "inconclusive")]
    assert all(c.accepted for c in rebuilt.claims)


def test_check_passes_and_fails_with_exit_2(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_report(run_dir, build_report(run_dir, _claim("PGR {{ metric:xent.pgr }}."), None, now=NOW))
    assert _main(["report", "check", RUN_ID]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "ok: 1 values filled, 0 typed numbers traced, 0 citations resolved"
    )

    fabricated = _claim("PGR rose to 0.91.").model_copy(update={"limitations": "See {{ cite:p1#c1 }}."})
    write_report(run_dir, build_report(run_dir, fabricated, None, now=NOW))
    code = _main(["report", "check", RUN_ID])

    lines = capsys.readouterr().out.splitlines()
    assert code == 2
    assert lines[0].startswith("claims[0].statement:1:13: numeral: '0.91': number not traceable")
    assert lines[1] == "limitations:1:5: citation: 'p1#c1': cannot resolve: no paper library is available to check it"
    assert lines[-1].startswith("FAILED (2 problem(s))")


def test_check_fails_a_report_whose_claim_was_dropped(
    run_dir: Path, good_experiment: ExperimentRecord, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = ReportDraft(
        claims=[Claim(statement="The auxiliary loss raises PGR.", about=["H2"], stance="supports")],
        limitations="One dataset only.",
    )
    write_report(run_dir, build_report(run_dir, draft, None, experiment=good_experiment, now=NOW))

    code = _main(["report", "check", RUN_ID])

    lines = capsys.readouterr().out.splitlines()
    assert code == 2
    assert lines[0] == (
        "claims[0]: claim: 'The auxiliary loss raises PGR.': dropped: says the evidence supports the hypothesis, "
        "but the computed verdicts disagree (H2 is inconclusive)"
    )
    assert lines[-1].startswith("FAILED (1 problem(s))")


def test_check_traces_numbers_quoted_from_the_question(
    run_dir: Path, good_experiment: ExperimentRecord, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = _claim("PGR {{ metric:xent.pgr }}.").model_copy(update={"rationale": "The question names 64 features."})
    built = build_report(
        run_dir, draft, None, question="Does PGR hold with 64 weak features?", experiment=good_experiment, now=NOW
    )
    assert built.verified is True
    write_report(run_dir, built)

    assert _main(["report", "check", RUN_ID]) == 0


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
    write_report(run_dir, build_report(run_dir, _claim("Seed 7 won."), None, now=NOW))

    code = _main(["report", "check", RUN_ID, "--json"])

    data = json.loads(capsys.readouterr().out)
    assert code == 2
    assert data["ok"] is False
    assert data["offenders"] == [
        {
            "kind": "numeral",
            "location": "claims[0].statement:1:6",
            "text": "7",
            "message": IsStr(regex="number not traceable.*"),
        }
    ]
