"""``ara runs export ID --ipynb``: a run's cells and outputs as a valid notebook, kernel-written files distrusted."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import nbformat
import pytest

from assistant.cli import main
from assistant.graph.session import SessionDeps
from assistant.llm.testing import ScriptedLLM
from tests.graph.conftest import InProcessPool, analysis, brief, critique, plans
from tools.vcs import Workspace

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def ara(capsys: pytest.CaptureFixture[str], *args: str, deps: SessionDeps | None = None) -> tuple[int, str, str]:
    try:
        main(list(args), deps=deps)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _hand_made_run(workspace: Path) -> tuple[str, Path]:
    run = Workspace.open_or_create(workspace).new_run("export test")
    cells = run.path / "cells"
    cells.mkdir()
    (run.path / "work").mkdir()
    (run.path / "work" / "fig.png").write_bytes(PNG)
    os.symlink("/etc/passwd", run.path / "work" / "evil.png")
    (cells / "00.py").write_text("print('hi')\n", encoding="utf-8")
    outputs = [
        {"kind": "image/png", "path": "work/fig.png"},
        {"kind": "image/png", "path": "work/evil.png"},
        {"kind": "text/markdown", "text": "**bold**"},
    ]
    record = {"status": "ok", "stdout": "hi\n", "stderr": "", "error": None, "traceback": "", "outputs": outputs}
    (cells / "00.result.json").write_text(json.dumps(record), encoding="utf-8")
    (cells / "01.py").write_text("1 / 0\n", encoding="utf-8")
    failed = {"status": "error", "stdout": "", "stderr": "", "error": "ZeroDivisionError: division by zero"}
    (cells / "01.result.json").write_text(json.dumps({**failed, "traceback": "Traceback\nZeroDivisionError"}))
    (cells / "02.py").write_text("while True: pass\n", encoding="utf-8")
    return run.run_id, run.path


def test_export_writes_cells_outputs_and_errors_and_leaves_links_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_id, run_path = _hand_made_run(tmp_path / "workspace")
    before = sorted(str(p.relative_to(run_path)) for p in run_path.rglob("*"))
    target = tmp_path / "out.ipynb"
    code, out, err = ara(capsys, "runs", "export", run_id, "--ipynb", "-o", str(target))
    assert code == 0, err
    assert out == f"wrote {target} (3 cell(s) of run {run_id})\n"
    notebook = nbformat.read(target, as_version=4)
    nbformat.validate(notebook)
    heading, first, second, third = notebook.cells
    assert heading.source == f"# Run {run_id}\n\n(no question on record)"
    assert (first.source, first.execution_count) == ("print('hi')", 1)
    assert [o["output_type"] for o in first.outputs] == ["stream", "display_data", "stream", "display_data"]
    assert first.outputs[0]["text"] == "hi\n"
    assert first.outputs[1]["data"] == {"image/png": base64.b64encode(PNG).decode("ascii")}
    assert first.outputs[2]["name"] == "stderr"
    assert first.outputs[2]["text"].startswith("[ara export: image work/evil.png left out: ")
    assert "root:" not in target.read_text(encoding="utf-8"), "a planted link is never followed"
    assert first.outputs[3]["data"] == {"text/markdown": "**bold**", "text/plain": "**bold**"}
    [error] = second.outputs
    assert (error["ename"], error["evalue"], error["traceback"]) == (
        "ZeroDivisionError",
        "division by zero",
        ["Traceback", "ZeroDivisionError"],
    )
    assert third.outputs[0]["text"] == "[ara export: this cell has no result record (it never finished)]\n"
    assert sorted(str(p.relative_to(run_path)) for p in run_path.rglob("*")) == before, "the run is not touched"


def test_export_bad_inputs_exit_2_and_keep_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run_id, _ = _hand_made_run(tmp_path / "workspace")
    code, _, err = ara(capsys, "runs", "export", "01NOSUCHRUN", "--ipynb")
    assert code == 2
    assert "error: Unknown run" in err
    assert "List runs with: ara runs list" in err
    code, _, err = ara(capsys, "runs", "export", run_id)
    assert code == 2
    assert "choose the format: --ipynb (a Jupyter notebook)" in err
    target = tmp_path / "mine.ipynb"
    target.write_text("my notes", encoding="utf-8")
    code, _, err = ara(capsys, "runs", "export", run_id, "--ipynb", "-o", str(target))
    assert code == 2
    assert f"{target} exists; pass --force to replace it, or -o PATH to write elsewhere. Nothing was written." in err
    assert target.read_text(encoding="utf-8") == "my notes"
    code, _, _ = ara(capsys, "runs", "export", run_id, "--ipynb", "-o", str(target), "--force")
    assert code == 0
    assert nbformat.read(target, as_version=4).metadata["ara"] == {"run_id": run_id}


def test_a_real_runs_cells_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = ScriptedLLM(
        replies=[
            brief(),  # a smoke test: no tool-choice call
            plans(recipe="synthetic_w2s", config={"n_samples": 300, "strong_model": "logreg", "seeds": [0]}),
            analysis(metric="pgr"),
            critique(),
        ]
    )
    deps = SessionDeps(llm=script.client(), kernels=InProcessPool())
    question = "Run a synthetic smoke test: does a strong student beat its weak supervisor?"
    code, out, _ = ara(capsys, "run", question, "--auto-approve-plans", "--json", deps=deps)
    run_id = json.loads(out)["run_id"]
    target = tmp_path / "real.ipynb"
    code, _, err = ara(capsys, "runs", "export", run_id, "--ipynb", "-o", str(target))
    assert code == 0, err
    notebook = nbformat.read(target, as_version=4)
    run_path = tmp_path / "workspace" / "runs" / run_id
    assert notebook.cells[0].source == f"# Run {run_id}\n\n{question}"
    assert notebook.cells[1].source == (run_path / "cells" / "00.py").read_text(encoding="utf-8").rstrip("\n")
    assert notebook.cells[1].outputs[0]["output_type"] != "error"
