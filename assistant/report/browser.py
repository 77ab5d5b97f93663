"""Headless Chromium for reports: PDF export and screenshots, only where a Chromium binary is installed.

Covers finding the browser and running it with a fresh profile, no sandbox (we run as root in containers),
no GPU and no background networking; the report's own Content-Security-Policy blocks every network load.
Does not cover rendering the HTML (``render_html``).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from assistant.report.errors import ConverterMissingError, ReportError

logger = logging.getLogger(__name__)
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """Path of an installed Chromium/Chrome, or None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(args: list[str], what: str, timeout_s: float) -> None:
    binary = find_chromium()
    if binary is None:
        raise ConverterMissingError(
            f"cannot {what}: no Chromium found (looked for {', '.join(CANDIDATES)}). "
            "Install it (Debian: apt-get install -y chromium) or use the HTML report."
        )
    with tempfile.TemporaryDirectory(prefix="ara-chromium-") as profile:
        cmd = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
        ]
        logger.debug("running %s", cmd)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as err:
            raise ReportError(f"Chromium did not {what} within {timeout_s:.0f} s ({binary}).") from err
    if proc.returncode != 0:
        raise ReportError(f"Chromium failed to {what} (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")


def html_to_pdf(html_path: Path, pdf_path: Path, timeout_s: float = 60.0) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium."""
    _run(
        [f"--print-to-pdf={pdf_path}", "--no-pdf-header-footer", html_path.resolve().as_uri()], "print a PDF", timeout_s
    )
    if not pdf_path.is_file():
        raise ReportError(f"Chromium ran but wrote no PDF at {pdf_path}.")
    return pdf_path


def screenshot(html_path: Path, png_path: Path, size: tuple[int, int] = (1200, 1600), timeout_s: float = 60.0) -> Path:
    """A PNG screenshot of ``html_path`` at ``size`` (width, height) with headless Chromium."""
    _run(
        [f"--screenshot={png_path}", f"--window-size={size[0]},{size[1]}", html_path.resolve().as_uri()],
        "take a screenshot",
        timeout_s,
    )
    if not png_path.is_file():
        raise ReportError(f"Chromium ran but wrote no screenshot at {png_path}.")
    return png_path


def dump_dom(html_path: Path, timeout_s: float = 60.0) -> str:
    """The DOM after Chromium loaded ``html_path`` (scripts, had any run, would show their effects here)."""
    binary = find_chromium()
    if binary is None:
        raise ConverterMissingError(
            "cannot load the page: no Chromium found. Install it (apt-get install -y chromium)."
        )
    with tempfile.TemporaryDirectory(prefix="ara-chromium-") as profile:
        proc = subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--dump-dom",
                html_path.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    if proc.returncode != 0:
        raise ReportError(f"Chromium failed to load {html_path} (exit {proc.returncode}): {proc.stderr[-500:]}")
    return proc.stdout
