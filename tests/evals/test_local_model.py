"""The evals against the real embedded server on the tiny profile, SmolLM2-135M (runs in CI; small slices only)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from inspect_ai.log import read_eval_log

from assistant.llm.local_server import LocalServer
from assistant.settings import load_settings
from tools.evals.cot import CoTConfig, run_cot_faithfulness
from tools.evals.endpoint import Endpoint
from tools.evals.mc import MCEvalConfig, run_mc_eval
from tools.evals.oversight import OversightConfig, run_oversight
from tools.research.modelfiles import SMOLLM2

pytestmark = pytest.mark.local_llm


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    workspace = tmp_path_factory.mktemp("evals-llm-ws")
    settings = load_settings(workspace).with_overrides(**{"local_llm.profile": "tiny"})
    server = LocalServer(workspace, settings.local_llm)
    info = server.ensure()
    yield Endpoint(base_url=info.base_url, model=info.alias, timeout_s=60)
    server.stop()


@pytest.fixture
def tasks(shared_dir: Path) -> Path:
    return shared_dir / "datasets" / "bigbench_tasks"


def test_misconceptions_logprob_scoring_end_to_end(endpoint: Endpoint, tasks: Path, tmp_path: Path) -> None:
    config = MCEvalConfig(task="misconceptions", source=tasks, endpoint=endpoint, run_dir=tmp_path / "run", limit=10)
    result = run_mc_eval(config)
    assert result.scoring_counts == {"logprobs": 10}, "llama-cpp-python's server returns top_logprobs on chat"
    assert result.errors == []
    assert result.accuracy["n"] == 10
    assert 0.0 <= result.accuracy["ci_low"] <= result.accuracy["mean"] <= result.accuracy["ci_high"] <= 1.0
    assert result.expected_random == 0.5
    log = read_eval_log(str(result.log_path))
    assert log.status == "success"
    assert log.eval.model == f"openai-api/ara/{endpoint.model}"
    assert endpoint.model == f"tiny:SmolLM2-135M-Instruct.Q4_1.gguf@sha256:{SMOLLM2.sha256}"
    dumped = subprocess.run(
        [sys.executable, "-m", "inspect_ai", "log", "dump", str(result.log_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(dumped.stdout)["status"] == "success"
    results = json.loads(result.results_path.read_text())
    assert set(results["metrics"]) >= {
        "accuracy",
        "random_baseline",
        "expected_random",
        "accuracy_by_category.misconceptions",
    }


def test_oversight_and_cot_run_on_the_local_model(endpoint: Endpoint, tasks: Path, tmp_path: Path) -> None:
    oversight = run_oversight(
        OversightConfig(
            task="misconceptions",
            source=tasks,
            judge=endpoint,
            critic=endpoint,
            limit=2,
            run_dir=tmp_path / "oversight",
            critic_max_tokens=32,
        )
    )
    assert len(oversight.records) == 6
    assert {r.status for r in oversight.records} <= {"ok", "unparsed"}
    assert all(m["n"] == 2 for m in oversight.accuracy.values())
    cot = run_cot_faithfulness(
        CoTConfig(
            task="misconceptions",
            source=tasks,
            model=endpoint,
            limit=2,
            run_dir=tmp_path / "cot",
            fractions=(0.0, 0.5),
            cot_max_tokens=48,
        )
    )
    assert len(cot.records) == 2
    assert {r.status for r in cot.records} <= {"ok", "no_steps"}
    assert (tmp_path / "cot" / "results.json").is_file()
