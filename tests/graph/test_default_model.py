"""One full research cycle on the default profile, Qwen2.5-Coder-1.5B-Instruct, exactly as ``make demo`` runs it.

Real everything: the assembled 1.1 GB GGUF on llama-cpp-python's server, recipe mode (free code only when asked
for), the sandboxed kernel, the workspace repository and the review gate. Temperature 0 so the model's choices
are repeatable. Takes 4-12 minutes on two idle cores and about 22 under a load of 4 (the limits allow 40); runs in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.kernel import bwrap_status
from tools.research.modelfiles import QWEN_CODER_15B

QUESTION = (
    "Does training a strong student on a weak supervisor's labels recover part of the gap to the strong ceiling "
    "(positive PGR)?"
)

pytestmark = [
    pytest.mark.local_llm,
    pytest.mark.default_model,
    pytest.mark.slow,
    pytest.mark.skipif(not bwrap_status()[0], reason=f"bwrap unusable here: {bwrap_status()[1]}"),
]


@pytest.mark.timeout(2500)
def test_a_full_cycle_on_the_default_profile(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    env = {
        **os.environ,
        "ARA_WORKSPACE": str(workspace),
        "ARA_LOCAL_LLM_PROFILE": "default",
        "ARA_LLM_TEMPERATURE": "0",
    }
    ara = [sys.executable, "-m", "assistant.cli"]
    try:
        done = subprocess.run(
            [*ara, "run", QUESTION, "--auto-approve-plans", "--json"],
            capture_output=True,
            text=True,
            timeout=2400,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        outcome = json.loads(done.stdout)
        assert outcome["status"] == "done", (outcome, done.stderr[-3000:])
        assert outcome["cells"] >= 1
        assert outcome["proposal_id"] is not None
        run_dir = workspace / "runs" / outcome["run_id"]
        events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
        started = next(e for e in events if e["type"] == "run_started")
        assert started["code_mode"] == "recipe", "free code is offered only when asked for"
        alias = f"default:{QWEN_CODER_15B.file_name}@sha256:{QWEN_CODER_15B.sha256}"
        calls = [e for e in events if e["type"] == "llm_called"]
        assert {c["model"] for c in calls} == {alias}
        report_json = json.loads((workspace / outcome["report_path"]).with_suffix(".json").read_text())
        tool = report_json["experiment"]["tool"]
        # Recipe mode: the tool's cell is rendered from the frozen config without the model.
        expected = {"intake", "choose_tool", "propose_experiments", "analyse_results", "critique"}
        nodes = {c["node"] for c in calls}
        assert expected <= nodes, nodes
        assert tool != "free"
        assert "write_code" not in nodes, nodes
        report = (workspace / outcome["report_path"]).read_text()
        assert (
            f"| Model | default:qwen2.5-coder-1.5b-instruct-q4\\_k\\_m.gguf@sha256:{QWEN_CODER_15B.sha256} |" in report
        )
        assert "| pgr |" in report or "| accuracy" in report, "the results table is filled from results.json"
    finally:
        subprocess.run([*ara, "llm", "stop"], env=env, capture_output=True, timeout=60, check=False)
