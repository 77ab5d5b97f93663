"""Collect a run's provenance from its files: results.json, config.json, events.jsonl and the workspace git.

Covers reading what is there and saying what was odd (malformed event lines) in ``notes``; nothing is guessed.
The event log is read tolerantly: any event carrying ``model``/``base_url``, token counts (``prompt_tokens``/
``completion_tokens``, directly or under ``usage``), ``cost_usd``, a prompt ``template`` (or ``name`` in a
``prompt_loaded`` event) with ``sha256``, ``workspace_commit`` or ``sandbox`` contributes; this covers
``assistant.events`` (``RunStarted``, ``PromptLoaded``, ``LLMCalled``) and ``assistant.llm.LLMCall`` records; the
run's span comes from top-level ``ts`` and its cells from ``cell_executed`` events. Does not cover
writing events (the research loop does).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import git

from assistant.report.model import Provenance
from assistant.report.results import ResultsDocument
from tools.runfiles import RunFileError, RunFiles

logger = logging.getLogger(__name__)
_MAX_DEPTH = 4
MAX_RUN_LOG_BYTES = 1024 * 1024 * 1024
"""Largest run log read for provenance (it holds every LLM request and response)."""
_NOT_WALKED = ("usage", "messages", "response")
"""Read where found (usage) or never (model-visible text, which could carry look-alike keys)."""


def _walk(node: Any, depth: int = 0) -> Iterator[Mapping[str, Any]]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, Mapping):
        yield node
        for key, value in node.items():
            if key not in _NOT_WALKED:
                yield from _walk(value, depth + 1)
    elif isinstance(node, list):
        for value in node[:50]:
            yield from _walk(value, depth + 1)


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


class _EventSummary:
    def __init__(self) -> None:
        self.models: list[str] = []
        self.endpoints: list[str] = []
        self.prompts: dict[str, str] = {}
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.saw_usage = False
        self.cost = 0.0
        self.saw_cost = False
        self.commit: str | None = None
        self.dirty: bool | None = None
        self.sandbox: dict[str, str] = {}
        self.bad_lines = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.cells = 0
        self.cell_time = 0.0
        self.cells_failed = 0

    def _timing(self, event: Mapping[str, Any]) -> None:
        ts = _num(event.get("ts"))
        if ts is not None:
            self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
            self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)
        # a cell refused before it ran (``blocked``) or reused from a cache on resume did not run: the loop's own
        # ``cells_run`` counts the same way
        if (
            event.get("type") == "cell_executed"
            and event.get("reused") is not True
            and event.get("status") != "blocked"
        ):
            self.cells += 1
            self.cell_time += max(0.0, _num(event.get("duration_s")) or 0.0)
            self.cells_failed += event.get("status") != "ok"

    def add(self, event: Mapping[str, Any]) -> None:
        self._timing(event)
        for node in _walk(event):
            model, url = node.get("model"), node.get("base_url") or node.get("endpoint")
            if isinstance(model, str) and model not in self.models:
                self.models.append(model)
            if isinstance(url, str) and url not in self.endpoints:
                self.endpoints.append(url)
            usage = node.get("usage")
            counts = usage if isinstance(usage, Mapping) else node
            p, c = _num(counts.get("prompt_tokens")), _num(counts.get("completion_tokens"))
            if p is not None or c is not None:
                self.saw_usage = True
                self.prompt_tokens += int(p or 0)
                self.completion_tokens += int(c or 0)
            cost = _num(node.get("cost_usd"))
            if cost is not None:
                self.saw_cost, self.cost = True, self.cost + cost
            template = node.get("template") or node.get("prompt_template")
            if template is None and node.get("type") == "prompt_loaded":
                template = node.get("name")
            digest = node.get("sha256") or node.get("prompt_sha256")
            if isinstance(template, str) and isinstance(digest, str):
                self.prompts[template] = digest
            if isinstance(node.get("workspace_commit"), str):
                self.commit = node["workspace_commit"]
                if isinstance(node.get("workspace_dirty"), bool):
                    self.dirty = node["workspace_dirty"]
            sandbox = node.get("sandbox")
            if isinstance(sandbox, Mapping):
                self.sandbox.update({str(k): str(v) for k, v in sandbox.items()})


def _log_lines(path: Path) -> Iterator[str]:
    """The run log's lines through ``tools.runfiles`` (a link or FIFO named ``events.jsonl`` is not read)."""
    try:
        with RunFiles(path.parent) as files, files.open_read(path.name, limit=MAX_RUN_LOG_BYTES) as handle:
            for raw in handle:
                yield raw.decode("utf-8", errors="replace")
    except FileNotFoundError:
        return
    except RunFileError as err:
        logger.warning("provenance without the run log: %s", err)


def _read_events(path: Path) -> _EventSummary:
    summary = _EventSummary()
    for line in _log_lines(path):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            summary.bad_lines += 1
            continue
        if isinstance(event, Mapping):
            summary.add(event)
        else:
            summary.bad_lines += 1
    return summary


def _git_state(run_dir: Path) -> tuple[str | None, bool | None]:
    try:
        repo = git.Repo(run_dir, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None, None
    try:
        return repo.head.commit.hexsha, repo.is_dirty(untracked_files=False)
    except ValueError:
        return None, repo.is_dirty(untracked_files=False)


def collect_provenance(run_dir: Path, results: ResultsDocument, config: Mapping[str, Any]) -> Provenance:
    """Provenance of the run in ``run_dir`` from its files and the workspace repository (when there is one)."""
    events = _read_events(run_dir / "events.jsonl")
    prov = results.provenance
    notes: list[str] = []
    if events.bad_lines:
        notes.append(f"events.jsonl: {events.bad_lines} line(s) were not JSON objects and were skipped")
    commit, dirty = events.commit, events.dirty
    if commit is None:
        commit, dirty = _git_state(run_dir)
    seeds = prov.get("seeds") or config.get("seeds") or []
    packages = prov.get("packages") if isinstance(prov.get("packages"), Mapping) else {}
    model = config.get("model") if isinstance(config.get("model"), str) else None
    sandbox = dict(events.sandbox)
    if isinstance(prov.get("sandbox"), Mapping):
        sandbox.update({str(k): str(v) for k, v in prov["sandbox"].items()})
    return Provenance(
        run_id=run_dir.name,
        tool=results.tool,
        workspace_commit=commit,
        workspace_dirty=dirty,
        model=", ".join(events.models) or model,
        endpoint=", ".join(events.endpoints) or None,
        prompt_hashes=events.prompts,
        packages={str(k): str(v) for k, v in (packages or {}).items()},
        seeds=[int(s) for s in seeds if isinstance(s, int) and not isinstance(s, bool)],
        data_hash=str(prov["data_hash"]) if prov.get("data_hash") else None,
        wall_time_s=_num(prov.get("wall_time_s")),
        run_time_s=(
            None if events.first_ts is None or events.last_ts is None else round(events.last_ts - events.first_ts, 3)
        ),
        cells_run=events.cells,
        cell_time_s=round(events.cell_time, 3),
        cells_failed=events.cells_failed,
        prompt_tokens=events.prompt_tokens if events.saw_usage else None,
        completion_tokens=events.completion_tokens if events.saw_usage else None,
        cost_usd=events.cost if events.saw_cost else None,
        sandbox=sandbox,
        notes=notes,
    )
