"""Provenance and verification: read from the event log, results.json (its host red flags included) and git; odd
input is noted, never guessed."""

from __future__ import annotations

import json
from pathlib import Path

import git

from assistant.report import ReportDraft, build_report
from assistant.report.render_md import provenance_rows
from assistant.schemas import Claim
from tests.report.conftest import NOW


def test_event_log_fields(run_dir: Path) -> None:
    with (run_dir / "events.jsonl").open("a") as log:
        log.write("{not json\n[1, 2]\n")
        log.write(
            json.dumps(
                {
                    "event": "llm_call",
                    "data": {"cost_usd": 0.25, "model": "gpt-x", "base_url": "https://api.example/v1"},
                }
            )
            + "\n"
        )

    prov = build_report(run_dir, ReportDraft(), None, now=NOW).provenance

    assert prov.model == "smollm2-135m-instruct, gpt-x"
    assert prov.endpoint == "http://127.0.0.1:8765/v1, https://api.example/v1"
    assert (prov.prompt_tokens, prov.completion_tokens, prov.cost_usd) == (1212, 336, 0.25)
    assert prov.prompt_hashes == {"write_report.draft": "9b1f" + "0" * 60}
    assert prov.sandbox == {"isolation": "bwrap", "memory_mb": "3072"}
    assert prov.notes == ["events.jsonl: 2 line(s) were not JSON objects and were skipped"]
    assert ("Cost", "$0.2500") in provenance_rows(prov)


def test_commit_from_the_workspace_repository_when_the_log_has_none(run_dir: Path) -> None:
    (run_dir / "events.jsonl").unlink()
    workspace = run_dir.parent.parent
    repo = git.Repo.init(workspace)
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "t").set_value("user", "email", "t@example.org")
    repo.index.add([str(run_dir / "results.json")])
    commit = repo.index.commit("results")

    prov = build_report(run_dir, ReportDraft(), None, now=NOW).provenance

    assert (prov.workspace_commit, prov.model, prov.prompt_tokens) == (commit.hexsha, None, None)
    assert ("LLM tokens", "not recorded") in provenance_rows(prov)


def test_numbers_in_claim_statements_are_checked(run_dir: Path) -> None:
    draft = ReportDraft(
        claims=[Claim(statement="PGR rises by 0.4 points.", about=["aux_conf.pgr_gain"])],
        limitations="One dataset only.",
    )

    report = build_report(run_dir, draft, None, now=NOW)

    assert report.check is not None
    assert [(o.kind, o.location, o.text) for o in report.check.offenders] == [
        ("numeral", "claims[0].statement:1:14", "0.4")
    ]


def test_events_written_by_the_research_loop(run_dir: Path) -> None:
    from assistant.events import LLMCalled, PromptLoaded, RunStarted
    from assistant.runlog import RunLog

    (run_dir / "events.jsonl").unlink()
    log = RunLog(run_dir / "events.jsonl", fsync=False)
    run_id = run_dir.name
    log.append(
        RunStarted(
            run_id=run_id,
            question="q",
            model="smollm2",
            base_url="http://127.0.0.1:9/v1",
            code_mode="recipe",
            budget={},
            workspace_commit="ab" * 20,
            workspace_dirty=True,
        )
    )
    log.append(PromptLoaded(run_id=run_id, name="write_code.recipe", sha256="cd" * 32))
    for tokens in (100, 50):
        log.append(
            LLMCalled(
                run_id=run_id,
                node="write_code",
                kind="structured",
                model="smollm2",
                messages=[],
                response="{}",
                prompt_tokens=tokens,
                completion_tokens=tokens // 10,
                duration_s=0.1,
            )
        )

    prov = build_report(run_dir, ReportDraft(), None, now=NOW).provenance

    assert (prov.model, prov.endpoint) == ("smollm2", "http://127.0.0.1:9/v1")
    assert (prov.workspace_commit, prov.workspace_dirty) == ("ab" * 20, True)
    assert prov.prompt_hashes == {"write_code.recipe": "cd" * 32}
    assert (prov.prompt_tokens, prov.completion_tokens) == (150, 15)
    assert ("Workspace commit", "ab" * 20 + " (uncommitted changes)") in provenance_rows(prov)


def test_the_embedded_models_profile_file_and_hash_reach_the_report(run_dir: Path) -> None:
    from assistant.events import LLMCalled
    from tools.research.modelfiles import QWEN_CODER_15B

    alias = f"default:{QWEN_CODER_15B.file_name}@sha256:{QWEN_CODER_15B.sha256}"  # what LocalServer serves
    (run_dir / "events.jsonl").write_text(
        LLMCalled(
            run_id=run_dir.name,
            node="intake",
            kind="structured",
            model=alias,
            messages=[],
            response="{}",
            prompt_tokens=10,
            completion_tokens=5,
            duration_s=1.0,
            attempt=1,
        ).model_dump_json()
        + "\n"
    )
    prov = build_report(run_dir, ReportDraft(), None, now=NOW).provenance
    assert prov.model == alias
    row = dict(provenance_rows(prov))["Model"]
    assert row.startswith("default:qwen2.5-coder-1.5b-instruct-q4_k_m.gguf@sha256:cc324af070c2ecbf")
    assert QWEN_CODER_15B.sha256 in row


def test_the_run_time_and_its_cells_come_from_the_event_log(run_dir: Path) -> None:
    """The experiment's wall time counts the scored cell only: a campaign run showed 448 s for a run of 2,206 s
    whose first cell had timed out after 1,500 s. The report shows both."""
    cells = [
        {"type": "run_started", "ts": 1000.0},
        {"type": "cell_executed", "ts": 2500.5, "status": "timeout", "duration_s": 1500.5},
        {"type": "cell_executed", "ts": 2600.0, "status": "ok", "duration_s": 5.0, "reused": True},
        {"type": "cell_executed", "ts": 2601.0, "status": "blocked", "duration_s": 0.1},
        {"type": "cell_executed", "ts": 3048.0, "status": "ok", "duration_s": 448.4},
        {"type": "run_finished", "ts": 3206.0, "nested": {"ts": 9999.0}},
    ]
    with (run_dir / "events.jsonl").open("a") as log:
        log.writelines(json.dumps(e) + "\n" for e in cells)

    prov = build_report(run_dir, ReportDraft(), None, now=NOW).provenance

    assert (prov.run_time_s, prov.cells_run, prov.cell_time_s, prov.cells_failed) == (2206.0, 2, 1948.9, 1)
    rows = dict(provenance_rows(prov))
    assert rows["Experiment wall time"] == "41.7 s"
    assert rows["Run time"] == "2206 s from first event to last; 2 cell(s), 1949 s in cells, 1 not ok"


def test_the_hosts_red_flags_head_the_summary(run_dir: Path) -> None:
    """A host check that failed (a judge answering one letter throughout) is read before any verdict."""
    results = json.loads((run_dir / "results.json").read_text())
    detail = "the judge alone answered A on 10 of 10 answered items, while the key is A on 5 of 10"
    results["verification"] = {
        "scored_by": "host",
        "note": "host",
        "red_flags": [{"code": "one_letter_answers", "detail": detail}],
    }
    (run_dir / "results.json").write_text(json.dumps(results))

    report = build_report(run_dir, ReportDraft(), None, now=NOW)

    assert report.summary.startswith(
        "**Suspect result.** The host's checks on these results failed; read every verdict below with it:\n\n"
        f"- `one_letter_answers`: {detail}.\n"
    )
    assert report.check is not None
    assert not [o for o in report.check.offenders if "10 of 10" in o.model_dump_json()]
