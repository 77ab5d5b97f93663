"""A run's cells as a Jupyter notebook (``ara runs export ID --ipynb``), to open in JupyterLab.

Covers reading the host's cell records (``cells/NN.py`` and ``cells/NN.result.json``) through
``tools.runfiles.RunFiles`` (no link followed, sizes capped: images a cell displayed were written by the kernel and
are hostile input) and turning them into an nbformat v4 notebook: one code cell per executed cell, with its stdout
and stderr streams, what it displayed (text, Markdown, JSON, PNG/JPEG/SVG images embedded) and its error with the
traceback, headed by a Markdown cell naming the run and its question. A file that cannot be read safely is left out
with a note in the notebook saying why. Does not execute anything and writes no file into the run directory.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from tools.runfiles import MAX_TEXT_BYTES, RunFileError, RunFiles

MAX_IMAGE_BYTES = 8 * 1024 * 1024
"""Largest image embedded in an exported notebook."""
Output = dict[str, Any]
"""One output of a code cell, as nbformat v4 JSON."""
_CELL = re.compile(r"^(\d+)\.py$")
_IMAGES = {"image/png": True, "image/jpeg": True, "image/svg+xml": False}
"""Image kinds a cell may display, and whether their bytes are embedded as base64 (SVG is text)."""


def _stream(name: str, text: str) -> Output:
    return {"output_type": "stream", "name": name, "text": text}


def _display_data(data: dict[str, Any]) -> Output:
    return {"output_type": "display_data", "data": data, "metadata": {}}


def _note(text: str) -> Output:
    return _stream("stderr", f"[ara export: {text}]\n")


def _display(entry: dict[str, Any], files: RunFiles) -> Output:
    """One rich output of a cell record as a ``display_data`` output (or a note when it cannot be included)."""
    kind = str(entry.get("kind", "text/plain"))
    if kind in _IMAGES:
        rel = entry.get("path")
        if not isinstance(rel, str):
            return _note(f"an {kind} output without a file")
        try:
            data = files.read_bytes(rel, limit=MAX_IMAGE_BYTES)
        except (RunFileError, FileNotFoundError, ValueError) as err:
            return _note(f"image {rel} left out: {err}")
        value = base64.b64encode(data).decode("ascii") if _IMAGES[kind] else data.decode("utf-8", "replace")
        return _display_data({kind: value})
    if "data" in entry and kind == "application/json":
        return _display_data({kind: entry["data"], "text/plain": json.dumps(entry["data"])})
    text = entry.get("text")
    if not isinstance(text, str):
        return _note(f"a {kind} output without text")
    mime = kind if kind in ("text/markdown", "text/html", "text/latex") else "text/plain"
    return _display_data({mime: text, **({"text/plain": text} if mime != "text/plain" else {})})


def _outputs(record: Any, files: RunFiles) -> list[Output]:
    if not isinstance(record, dict):
        return [_note("the cell's result record is not an object; outputs left out")]
    outputs: list[Output] = []
    for name in ("stdout", "stderr"):
        text = record.get(name)
        if isinstance(text, str) and text:
            outputs.append(_stream(name, text))
    for entry in record.get("outputs") or []:
        if isinstance(entry, dict):
            outputs.append(_display(entry, files))
    status = record.get("status")
    if status != "ok":
        error = str(record.get("error") or status or "error")
        name, _, value = error.partition(": ")
        trace = record.get("traceback")
        lines = trace.splitlines() if isinstance(trace, str) and trace else [error]
        outputs.append({"output_type": "error", "ename": name, "evalue": value, "traceback": lines})
    return outputs


def _markdown(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def run_notebook(run_path: Path, run_id: str, question: str | None) -> dict[str, Any]:
    """The notebook (nbformat v4 JSON) of the run at ``run_path``: a heading, then each executed cell with outputs.

    Raises:
        RunFileError: the run directory (or its ``cells`` folder) is a link or not a directory.
    """
    heading = f"# Run {run_id}\n\n" + (question.strip() if question else "(no question on record)")
    cells: list[dict[str, Any]] = [_markdown(heading)]
    with RunFiles(run_path) as files:
        kind = files.kind("cells")
        if kind not in ("dir", "missing"):
            raise RunFileError(f"{run_path / 'cells'} is a {kind}, not a folder of cell records; nothing exported")
        names = files.listdir("cells") if kind == "dir" else []
        numbered = sorted((int(m.group(1)), name) for name in names if (m := _CELL.match(name)))
        for number, name in numbered:
            try:
                source = files.read_text(f"cells/{name}", limit=MAX_TEXT_BYTES)
            except (RunFileError, FileNotFoundError) as err:
                cells.append(_markdown(f"*cell {number}: code left out ({err})*"))
                continue
            result_rel = f"cells/{name.removesuffix('.py')}.result.json"
            if files.kind(result_rel) == "missing":
                outputs = [_note("this cell has no result record (it never finished)")]
            else:
                try:
                    outputs = _outputs(files.read_json(result_rel), files)
                except (RunFileError, FileNotFoundError) as err:
                    outputs = [_note(f"outputs left out: {err}")]
            cells.append(
                {
                    "cell_type": "code",
                    "execution_count": number + 1,
                    "metadata": {},
                    "source": source.rstrip("\n"),
                    "outputs": outputs,
                }
            )
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "ara": {"run_id": run_id},
        },
        "cells": [{**cell, "id": f"cell-{i}"} for i, cell in enumerate(cells)],
    }


def notebook_text(notebook: dict[str, Any]) -> str:
    """``notebook`` as ``.ipynb`` text, after nbformat's own schema check (a bug here raises, never writes)."""
    import nbformat

    nbformat.validate(notebook)
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
