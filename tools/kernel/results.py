"""Typed cell results and the collector that turns a kernel's iopub messages into one.

Covers ``CellResult``/``CellOutput`` and ``OutputCollector``: stream text capped per cell with an explicit
marker, rich outputs (text/plain, text/markdown, application/json inline; image/png written under the run
directory and referenced by path), errors. The kernel knows the message-signing key, so everything here is
untrusted data: sizes are capped, PNGs are checked for their signature, and file names are ours. Does not talk
to kernels (``tools.kernel.session``/``tools.kernel.gateway`` feed it messages).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CellStatus = Literal["ok", "error", "timeout", "died", "aborted"]
OutputKind = Literal["text/plain", "text/markdown", "image/png", "application/json"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_MAX_DROP_NOTES = 20
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class CellOutput(BaseModel):
    """One rich output of a cell (an ``execute_result`` or ``display_data`` bundle entry)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: OutputKind
    """MIME type of this output."""
    text: str | None = None
    """The text for text/plain and text/markdown (capped)."""
    data: Any = None
    """The parsed value for application/json."""
    path: Path | None = None
    """For image/png: the file written under the run directory."""


class CellResult(BaseModel):
    """What one cell did. Everything in it came from untrusted code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: CellStatus
    """ok; error (an exception); timeout (interrupted or the kernel was restarted); died (the kernel process
    ended: crash, os._exit, OOM kill); aborted (the kernel refused to run it)."""
    stdout: str = ""
    """Stream output on stdout (capped; see ``truncated``)."""
    stderr: str = ""
    """Stream output on stderr (capped)."""
    outputs: tuple[CellOutput, ...] = ()
    """Rich outputs in the order the kernel sent them."""
    error_name: str | None = None
    """Exception class name (``ename``) when status is error, or a short reason for timeout/died."""
    error_value: str | None = None
    """Exception message (``evalue``), or the detail of a timeout/death."""
    traceback: tuple[str, ...] = ()
    """Traceback lines with terminal colour codes removed."""
    wall_s: float = 0.0
    """Wall-clock seconds from sending the cell to its result."""
    peak_memory_mb: float | None = None
    """The kernel's peak resident memory during the cell, where known."""
    truncated: bool = False
    """True when output went over the cap and was cut (the text carries a marker saying so)."""
    restarted: bool = False
    """True when the kernel was replaced after this cell (timeout it ignored, or death)."""
    execution_count: int | None = Field(default=None)
    """The kernel's execution counter for this cell, where it sent one."""

    @property
    def text(self) -> str:
        """stdout, the text/plain outputs and the error, joined: what a person reads."""
        parts = [self.stdout] if self.stdout else []
        parts += [o.text for o in self.outputs if o.kind == "text/plain" and o.text]
        if self.stderr:
            parts.append(self.stderr)
        if self.error_name:
            parts.append(f"{self.error_name}: {self.error_value or ''}")
        return "\n".join(parts)


def strip_ansi(text: str) -> str:
    """Remove terminal escape sequences (kernels colour tracebacks)."""
    return _ANSI.sub("", text)


def printable(text: str) -> str:
    """Text safe to print on a terminal: escapes and control characters (except tab/newline) replaced."""
    return _CONTROL.sub("\N{REPLACEMENT CHARACTER}", strip_ansi(text))


class _CappedText:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def add(self, text: str) -> None:
        room = self.cap - self.kept
        if room <= 0:
            self.dropped += len(text.encode("utf-8", "replace"))
            return
        raw = text.encode("utf-8", "replace")
        if len(raw) <= room:
            self.parts.append(text)
            self.kept += len(raw)
            return
        self.parts.append(raw[:room].decode("utf-8", "ignore"))
        self.kept = self.cap
        self.dropped += len(raw) - room

    def value(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[ara: output truncated: {self.dropped} more bytes were dropped (cap {self.cap} bytes)]\n"
        return text


def _write_below(root: Path, subdir: str, name: str, blob: bytes) -> None:
    """Write ``root/subdir/name`` without following links the kernel may have planted in ``root``.

    The kernel can write into the run directory, so ``subdir`` might be a symlink to a host path: every step is
    opened relative to a directory descriptor with ``O_NOFOLLOW``, and the file must not exist yet.
    """
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(subdir, 0o755, dir_fd=root_fd)
        sub_fd = os.open(subdir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root_fd)
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=sub_fd)
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
        finally:
            os.close(sub_fd)
    finally:
        os.close(root_fd)


class OutputCollector:
    """Accumulates the iopub messages of one cell into a ``CellResult``."""

    def __init__(self, run_dir: Path, cap_bytes: int, cell_tag: str, figures_subdir: str = "outputs") -> None:
        self.run_dir = run_dir
        self.cap = cap_bytes
        self.cell_tag = cell_tag
        self.figures_subdir = figures_subdir
        self.stdout = _CappedText(cap_bytes)
        self.stderr = _CappedText(cap_bytes)
        self.outputs: list[CellOutput] = []
        self.rich_bytes = 0
        self.rich_dropped = 0
        self.dropped_messages = 0
        self.error: tuple[str, str, tuple[str, ...]] | None = None
        self.execution_count: int | None = None
        self.idle = False
        self.notes: list[str] = []

    def handle(self, msg: dict[str, Any]) -> None:
        """Take one iopub message already known to belong to this cell."""
        kind = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
        content = msg.get("content") or {}
        if not isinstance(content, dict):
            return
        if kind == "stream":
            target = self.stderr if content.get("name") == "stderr" else self.stdout
            target.add(str(content.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            if kind == "execute_result" and isinstance(content.get("execution_count"), int):
                self.execution_count = content["execution_count"]
            data = content.get("data")
            if isinstance(data, dict):
                self._rich(data)
        elif kind == "error":
            tb = content.get("traceback") or []
            self.error = (
                str(content.get("ename", "Error"))[:500],
                str(content.get("evalue", ""))[: self.cap],
                tuple(strip_ansi(str(line))[: self.cap] for line in tb[:200]),
            )
        elif kind == "execute_input" and isinstance(content.get("execution_count"), int):
            self.execution_count = content["execution_count"]
        elif kind == "ara_dropped":  # from the host's message relay (or forged by the kernel: only adds a note)
            self.dropped_messages += 1
            if self.dropped_messages <= _MAX_DROP_NOTES:
                self.notes.append(
                    f"[ara: {str(content.get('text', 'a kernel message over the cap was dropped'))[:300]}]"
                )
        elif kind == "status" and content.get("execution_state") == "idle":
            self.idle = True

    def _budget(self, size: int) -> bool:
        if self.rich_bytes + size > self.cap * 20:
            self.rich_dropped += 1
            return False
        self.rich_bytes += size
        return True

    def _rich(self, data: dict[str, Any]) -> None:
        png = data.get("image/png")
        if isinstance(png, str) and self._budget(len(png)):
            path = self._save_png(png)
            if path is not None:
                self.outputs.append(CellOutput(kind="image/png", path=path))
        for kind in ("text/markdown", "text/plain"):
            text = data.get(kind)
            if isinstance(text, str) and self._budget(len(text)):
                if len(text) > self.cap:
                    text = text[: self.cap] + f"\n[ara: output truncated to {self.cap} characters]\n"
                    self.rich_dropped += 1
                self.outputs.append(CellOutput(kind=kind, text=text))
        if "application/json" in data:
            raw = data["application/json"]
            size = len(json.dumps(raw, default=str))
            if self._budget(size):
                self.outputs.append(CellOutput(kind="application/json", data=raw))

    def _save_png(self, b64: str) -> Path | None:
        try:
            blob = base64.b64decode(b64, validate=False)
        except (binascii.Error, ValueError):
            return None
        if not blob.startswith(_PNG_MAGIC):
            return None
        n = sum(1 for o in self.outputs if o.kind == "image/png") + 1
        name = f"{self.cell_tag}-{n}.png"
        try:
            _write_below(self.run_dir, self.figures_subdir, name, blob)
        except OSError as err:
            self.notes.append(f"[ara: image not saved: {self.figures_subdir}/{name}: {err.strerror or err}]")
            return None
        return self.run_dir / self.figures_subdir / name

    @property
    def truncated(self) -> bool:
        """True when any output was cut or dropped."""
        return bool(self.stdout.dropped or self.stderr.dropped or self.rich_dropped or self.dropped_messages)

    def result(
        self,
        status: CellStatus,
        *,
        wall_s: float,
        peak_memory_mb: float | None = None,
        reason: tuple[str, str] | None = None,
        restarted: bool = False,
    ) -> CellResult:
        """The ``CellResult`` for what was collected; ``reason`` (name, detail) fills the error for timeout/died."""
        stderr = self.stderr.value() + "".join(f"\n{note}\n" for note in self.notes)
        if self.dropped_messages > _MAX_DROP_NOTES:
            stderr += f"\n[ara: {self.dropped_messages - _MAX_DROP_NOTES} more notes about dropped output left out]\n"
        if self.rich_dropped and not (self.stdout.dropped or self.stderr.dropped):
            stderr += f"\n[ara: {self.rich_dropped} rich output(s) dropped or cut over the output cap]\n"
        name, value, tb = self.error if self.error else (None, None, ())
        if reason is not None:
            name, value = reason
        return CellResult(
            status=status,
            stdout=self.stdout.value(),
            stderr=stderr,
            outputs=tuple(self.outputs),
            error_name=name,
            error_value=value,
            traceback=tb,
            wall_s=round(wall_s, 4),
            peak_memory_mb=peak_memory_mb,
            truncated=self.truncated,
            restarted=restarted,
            execution_count=self.execution_count,
        )
