"""``ara chat`` and ``ara logs`` as a user runs them: the exact messages the model is sent (system prompt, history
for ``-c``, model names from aliases), stdin, the SQLite log rows, and exit codes. The model is a ``ScriptedLLM``
served over loopback HTTP, reached through the real ``openai`` client."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.cli.chat import SYSTEM
from assistant.llm.testing import ScriptedLLM
from tests.foundation.scripted_http import serve

ARA = [sys.executable, "-m", "assistant.cli"]


def ara(*args: str, env: dict[str, str], stdin: str = "") -> tuple[int, str, str]:
    """``ara <args>`` in-process through the real entry point: (exit code, stdout, stderr)."""
    runner = CliRunner()
    with runner.isolation(input=stdin, env=env) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, out.getvalue().decode(), err.getvalue().decode()


def run_ara(args: list[str], env: dict[str, str], stdin: str | None) -> subprocess.CompletedProcess[str]:
    """``ara <args>`` in a new process with ``stdin`` piped (None: stdin is /dev/null)."""
    return subprocess.run(
        [*ARA, *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )


def rows(workspace: Path) -> list[dict[str, object]]:
    db = sqlite3.connect(workspace / ".ara" / "logs.sqlite")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM exchanges ORDER BY created, id")]
    finally:
        db.close()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


def test_stdin_dash_piped_text_and_argument_in_a_subprocess(workspace: Path) -> None:
    script = ScriptedLLM(replies=["CCS finds a truth direction.", "It is short.", "Two lines."])
    with serve(script) as url:
        env = {"ARA_LLM_BASE_URL": url, "ARA_LLM_MODEL": "scripted-model", "ARA_WORKSPACE": str(workspace)}
        dash = run_ara(["chat", "-"], env, stdin="What is CCS?\n")
        piped = run_ara(["chat", "Summarise this in one line."], env, stdin="Weak labels can train strong models.\n")
        bare = run_ara(["chat"], env, stdin="first line\nsecond line\n")
        empty = run_ara(["chat"], env, stdin=None)
    assert (dash.returncode, dash.stdout) == (0, "CCS finds a truth direction.\n")
    assert (piped.returncode, piped.stdout) == (0, "It is short.\n")
    assert (bare.returncode, bare.stdout) == (0, "Two lines.\n")
    assert [r["messages"] for r in script.requests] == [
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "What is CCS?"}],
        [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "Weak labels can train strong models.\n\nSummarise this in one line."},
        ],
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "first line\nsecond line"}],
    ]
    assert {r["model"] for r in script.requests} == {"scripted-model"}
    assert empty.returncode == 2
    assert "the question is empty" in empty.stderr
    assert "Traceback" not in empty.stderr
    script.assert_done()
    logged = rows(workspace)
    assert [(r["prompt"], r["response"]) for r in logged] == [
        ("What is CCS?", "CCS finds a truth direction."),
        ("Weak labels can train strong models.\n\nSummarise this in one line.", "It is short."),
        ("first line\nsecond line", "Two lines."),
    ]
    assert len({r["conversation_id"] for r in logged}) == 3
    assert "; conversation " + str(logged[0]["conversation_id"]) in dash.stderr


def test_log_rows_continue_cid_and_ara_logs(workspace: Path) -> None:
    script = ScriptedLLM(replies=["A1", "A2", "B1", "A3"])
    with serve(script) as url:
        env = {"ARA_LLM_BASE_URL": url, "ARA_LLM_MODEL": "m1", "ARA_WORKSPACE": str(workspace)}
        assert ara("chat", "Q1", "--system", "Be terse.", env=env)[0] == 0
        assert ara("chat", "-c", "Q2", env=env)[0] == 0
        first = rows(workspace)[0]["conversation_id"]
        assert ara("chat", "B-question", env=env)[0] == 0
        assert ara("chat", "--cid", str(first), "Q3", "--system", "Be kind.", env=env)[0] == 0
        code, _, err = ara("chat", "--cid", "01NOSUCHCONVERSATION", "Q?", env=env)
        assert code == 2
        assert "no conversation '01NOSUCHCONVERSATION' in" in err
    script.assert_done()
    assert [r["messages"] for r in script.requests] == [
        [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Q1"}],
        [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Q1"},
            {"role": "assistant", "content": "A1"},
            {"role": "user", "content": "Q2"},
        ],
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "B-question"}],
        [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "Q1"},
            {"role": "assistant", "content": "A1"},
            {"role": "user", "content": "Q2"},
            {"role": "assistant", "content": "A2"},
            {"role": "user", "content": "Q3"},
        ],
    ]
    logged = rows(workspace)
    assert [(r["prompt"], r["system"], r["response"], r["model"]) for r in logged] == [
        ("Q1", "Be terse.", "A1", "m1"),
        ("Q2", "Be terse.", "A2", "m1"),
        ("B-question", SYSTEM, "B1", "m1"),
        ("Q3", "Be kind.", "A3", "m1"),
    ]
    conversations = [r["conversation_id"] for r in logged]
    assert conversations[0] == conversations[1] == conversations[3] == logged[0]["id"] != conversations[2]
    assert all(r["base_url"] == url for r in logged)
    assert all(int(str(r["prompt_tokens"])) > 0 and int(str(r["completion_tokens"])) > 0 for r in logged)
    assert {r["tokens_estimated"] for r in logged} == {0}
    assert all(r["passages"] == "[]" and r["citations"] == "[]" for r in logged)

    code, out, _ = ara("logs", "--json", "-n", "0", env=env)
    assert code == 0
    assert [e["prompt"] for e in json.loads(out)] == ["Q1", "Q2", "B-question", "Q3"]
    code, out, _ = ara("logs", "--json", "-n", "2", env=env)
    assert [e["prompt"] for e in json.loads(out)] == ["B-question", "Q3"]
    code, out, _ = ara("logs", "-c", env=env)
    assert code == 0
    assert out.count("## ") == 3
    assert "\nPrompt:\nQ3\n\nSystem:\nBe kind.\n\nResponse:\nA3\n" in out
    code, out, _ = ara("logs", "--cid", str(conversations[2]), env=env)
    assert out.startswith(f"## {logged[2]['created']}  conversation {conversations[2]}  model m1\n")
    assert "\nPrompt:\nB-question\n" in out
    code, _, err = ara("logs", "--cid", "nope", env=env)
    assert code == 2
    assert "no conversation 'nope'" in err


def test_nothing_to_continue_and_empty_log(workspace: Path) -> None:
    env = {"ARA_LLM_BASE_URL": "http://127.0.0.1:9/v1", "ARA_WORKSPACE": str(workspace)}
    code, _, err = ara("chat", "-c", "Q", env=env)
    assert code == 2
    assert "there is no conversation to continue yet" in err
    code, out, _ = ara("logs", env=env)
    assert (code, out) == (
        0,
        f'no exchanges logged yet ({workspace / ".ara" / "logs.sqlite"}); ask with: ara chat "QUESTION"\n',
    )


def test_model_aliases_and_names(workspace: Path) -> None:
    (workspace / ".ara").mkdir()
    (workspace / ".ara" / "aliases.toml").write_text('fast = "gpt-4o-mini"\nsmall = "embedded:tiny"\n')
    script = ScriptedLLM(replies=["one", "two"])
    with serve(script) as url:
        env = {"ARA_LLM_BASE_URL": url, "ARA_WORKSPACE": str(workspace)}
        assert ara("chat", "-m", "fast", "Q", "--no-log", env=env)[0] == 0
        assert ara("chat", "--model", "qwen2.5-7b-instruct", "Q", "--no-log", env=env)[0] == 0
        code, out, _ = ara("chat", "--aliases", env=env)
    script.assert_done()
    assert [r["model"] for r in script.requests] == ["gpt-4o-mini", "qwen2.5-7b-instruct"]
    assert out.splitlines()[:5] == [
        "default      embedded:default",
        "embedded     embedded",
        "fast         gpt-4o-mini",
        "small        embedded:tiny",
        "tiny         embedded:tiny",
    ]
    assert not (workspace / ".ara" / "logs.sqlite").exists()

    no_endpoint = {"ARA_WORKSPACE": str(workspace)}
    code, _, err = ara("chat", "-m", "fast", "Q", env=no_endpoint)
    assert code == 2
    assert "model 'fast' (alias of 'gpt-4o-mini') is served by an endpoint, and none is configured" in err
    (workspace / ".ara" / "aliases.toml").write_text('fast = "gpt-4o-mini"\nbroken = 3\n')
    code, _, err = ara("chat", "-m", "fast", "Q", env=env)
    assert code == 2
    assert "aliases.toml line 2: alias 'broken' must be a model name in quotes" in err


def test_unreachable_endpoint_exits_2_without_logging(workspace: Path) -> None:
    env = {"ARA_LLM_BASE_URL": "http://127.0.0.1:9/v1", "ARA_WORKSPACE": str(workspace)}
    done = run_ara(["chat", "hi"], env, stdin=None)
    assert done.returncode == 2
    assert "http://127.0.0.1:9/v1" in done.stderr
    assert "Traceback" not in done.stderr
    assert rows(workspace) == []


def test_a_corrupt_log_stops_chat_before_the_model_is_called(workspace: Path) -> None:
    (workspace / ".ara").mkdir()
    log = workspace / ".ara" / "logs.sqlite"
    log.write_bytes(b"this is not a database" * 200)
    script = ScriptedLLM(replies=[])
    with serve(script) as url:
        env = {"ARA_LLM_BASE_URL": url, "ARA_WORKSPACE": str(workspace)}
        code, _, err = ara("chat", "Q", env=env)
        assert code == 2
        assert err.startswith(f"error: Corrupt chat log\n{log} (chat log) is corrupt: file is not a database. ")
        assert f"mv {log} {log}.corrupt" in err
        code, _, err = ara("logs", env=env)
        assert code == 2
        assert "error: Corrupt chat log" in err
    assert script.requests == []
    assert log.read_bytes() == b"this is not a database" * 200
