"""Results the experiment code wrote itself: checked and copied across to the host, labelled self-reported.

Free-mode cells (and recipes without host steps) write ``results.json`` in the kernel's directory. The research
loop never reads that file in place: ``adopt_results`` reads it through ``tools.runfiles`` (no link followed, size
and counts capped), validates it as ``ara.results/1``, replaces whatever ``verification`` the kernel claimed with
``Verification.self_reported`` ("self-reported by the experiment code, not verified by the host"), copies each
figure it names that is a real image of a sane size into the host's ``figures/`` under a name the host chooses,
and writes ``results.json`` and ``config.json`` into the host's run directory. A figure that cannot be copied (a
link, a FIFO, too large, not an image, a path out of the directory) is dropped with a red flag saying why.

Does not cover results a host step scored (``tools.research.scoring`` and the research tools' ``score_*``); those
are written on the host in the first place.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path, PurePosixPath

from tools.results import (
    MAX_CONFIG_BYTES,
    MAX_RESULTS_BYTES,
    RedFlag,
    ResultsDocument,
    ResultsFileError,
    Verification,
    parse_config,
    parse_results,
    write_document,
)
from tools.runfiles import RunFileError, RunFiles

log = logging.getLogger(__name__)

MAX_FIGURE_BYTES = 20 * 1024 * 1024
"""Largest figure copied from the kernel's directory."""
FIGURES_DIR = "figures"
"""Where adopted figures go in the host's run directory."""
_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def image_suffix(data: bytes) -> str | None:
    """``.png``/``.jpg``/``.gif``/``.webp`` by magic bytes, None when ``data`` is none of them."""
    for magic, suffix in _IMAGES:
        if data.startswith(magic):
            return suffix
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None


def _copy_figures(
    kernel: RunFiles, base: PurePosixPath, figures: dict[str, str], host: RunFiles
) -> tuple[dict[str, str], list[RedFlag]]:
    kept: dict[str, str] = {}
    flags: list[RedFlag] = []
    for index, (name, rel) in enumerate(figures.items()):
        source = base / rel
        try:
            data = kernel.read_bytes(str(source), limit=MAX_FIGURE_BYTES)
            suffix = image_suffix(data)
            if suffix is None:
                raise RunFileError(f"{kernel.root / source} is not a PNG, JPEG, GIF or WebP image")
        except (RunFileError, FileNotFoundError) as err:
            reason = f"{kernel.root / source} does not exist" if isinstance(err, FileNotFoundError) else str(err)
            flags.append(RedFlag(code="figure_not_copied", detail=f"figure {name!r} was not copied: {reason}"))
            continue
        dest = f"{FIGURES_DIR}/{index:02d}-{_UNSAFE.sub('_', name)[:60]}{suffix}"
        host.write_bytes(dest, data)
        kept[name] = dest
    return kept, flags


def adopt_results(kernel_dir: Path, out_dir: Path, rel: str = ".") -> ResultsDocument | None:
    """Bring the kernel's ``<kernel_dir>/<rel>/results.json`` across to ``out_dir`` as a self-reported document.

    Returns the document written into ``out_dir`` (with ``config.json`` and the copied figures), or None when the
    kernel wrote no ``results.json``.

    Raises:
        ResultsFileError: the file is a link or special file, too large, not JSON, breaks ``ara.results/1`` or
            holds more metrics/tables/figures than allowed (the message names the file; nothing is written).
    """
    base = PurePosixPath(rel)
    source = kernel_dir / rel / "results.json"
    try:
        with RunFiles(kernel_dir) as kernel:
            try:
                data = kernel.read_bytes(str(base / "results.json"), limit=MAX_RESULTS_BYTES)
            except FileNotFoundError:
                return None
            document = parse_results(data, str(source), kernel_written=True)
            try:
                config = parse_config(
                    kernel.read_bytes(str(base / "config.json"), limit=MAX_CONFIG_BYTES),
                    str(source.parent / "config.json"),
                )
            except FileNotFoundError:
                config = dict(document.config)
            with RunFiles(out_dir, create=True) as host:
                for stale in host.walk_files(FIGURES_DIR) if host.kind(FIGURES_DIR) == "dir" else []:
                    host.unlink(stale)
                figures, flags = _copy_figures(kernel, base, dict(document.figures), host)
    except RunFileError as err:
        raise ResultsFileError(str(err)) from None
    adopted = document.model_copy(update={"figures": figures, "verification": Verification.self_reported(flags)})
    write_document(out_dir, adopted, config)
    log.info("adopted self-reported results from %s into %s (%d red flags)", source, out_dir, len(flags))
    return adopted
