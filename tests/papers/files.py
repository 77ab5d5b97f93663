"""Small real files for the paper-library tests: PDFs with and without a text layer, an encrypted PDF."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def make_pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    """A real PDF with a text layer (matplotlib, TrueType fonts so the text is extractable)."""
    os.environ.setdefault("MPLCONFIGDIR", str(path.parent / ".mpl"))
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["pdf.fonttype"] = 42
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path, metadata={"Title": title} if title else {}) as pdf:
        for text in pages:
            fig = plt.figure(figsize=(8.5, 11))
            fig.text(0.08, 0.5, text, fontsize=9, wrap=True)
            pdf.savefig(fig)
            plt.close(fig)
    return path


def make_image_pdf(path: Path) -> Path:
    """A real PDF whose only page is an image (no text layer)."""
    os.environ.setdefault("MPLCONFIGDIR", str(path.parent / ".mpl"))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path) as pdf:
        fig = plt.figure()
        fig.figimage(np.random.default_rng(0).random((64, 64)))
        pdf.savefig(fig)
        plt.close(fig)
    return path


def make_encrypted_pdf(src: Path, dest: Path) -> Path:
    """``src`` encrypted with a user password."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(src))
    writer.encrypt(user_password="secret", owner_password="owner")
    writer.write(str(dest))
    return dest
