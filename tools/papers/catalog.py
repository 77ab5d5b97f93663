"""The library's catalogue: a SQLite file holding papers, chunks, dedupe keys and the embedding cache.

The catalogue is the source of truth (Chroma and the search snapshot are rebuilt from it). Embeddings are
cached by ``sha256(model id + embedded text)``, so re-ingesting, re-chunking an unchanged passage or rerunning a
benchmark never embeds the same text twice. The file is copied to ``library.sqlite.bak`` after a commit at most
every ten minutes, and a corrupt file raises ``StoreCorruptError`` (``tools.sqlitefile``). Does not cover
parsing, ranking or Chroma.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tools.papers.models import Chunk, Paper
from tools.sqlitefile import Store, backup_if_due, guard_methods, guarded

_SCHEMA = """
CREATE TABLE IF NOT EXISTS papers (
    paper_id TEXT PRIMARY KEY, record TEXT NOT NULL, source_file TEXT NOT NULL,
    content_hash TEXT NOT NULL, text_len INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, paper_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    paper_id TEXT NOT NULL, chunk_id TEXT NOT NULL, ordinal INTEGER NOT NULL, text TEXT NOT NULL,
    section TEXT NOT NULL, page INTEGER, vec_hash TEXT NOT NULL, PRIMARY KEY (paper_id, chunk_id));
CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, vec BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tag_edits (
    paper_id TEXT NOT NULL, tag_key TEXT NOT NULL, tag TEXT NOT NULL, op TEXT NOT NULL CHECK (op IN ('add', 'remove')),
    PRIMARY KEY (paper_id, tag_key));
CREATE INDEX IF NOT EXISTS papers_seq ON papers (seq);
"""


def vector_hash(model_id: str, text: str) -> str:
    """Cache key of an embedding: sha256 of the model id and the exact embedded text."""
    return hashlib.sha256(f"{model_id}\x00{text}".encode()).hexdigest()


def catalogue_store(path: Path) -> Store:
    """The catalogue file with its way back when corrupt (the backup, or adding the sources again)."""
    return Store(
        path,
        "paper catalogue",
        otherwise=f"move it aside (mv {path} {path}.corrupt) and add your papers again with 'ara papers add PATH'",
    )


@guard_methods(lambda catalog: catalog.store)
class Catalog:
    """SQLite-backed papers, chunks, dedupe keys and embedding cache under ``path``.

    Every method raises ``StoreCorruptError`` (naming the file, its backup and what to do) when SQLite finds the
    file corrupt; nothing is written to a corrupt file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = catalogue_store(path)
        with guarded(self.store):
            self.db = sqlite3.connect(str(path))
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    # --- papers ---------------------------------------------------------------------------------------------

    def find_paper(self, keys: Iterable[str]) -> str | None:
        """The paper id stored under any of ``keys`` (``arxiv:…``, ``doi:…``, ``title:…``), if any."""
        for key in keys:
            row = self.db.execute("SELECT paper_id FROM keys WHERE key = ?", (key,)).fetchone()
            if row:
                return str(row[0])
        return None

    def paper_row(self, paper_id: str) -> tuple[Paper, str, int] | None:
        """(paper, content hash, text length) of a stored paper."""
        row = self.db.execute(
            "SELECT record, content_hash, text_len FROM papers WHERE paper_id = ?", (paper_id,)
        ).fetchone()
        return (Paper.model_validate_json(row[0]), str(row[1]), int(row[2])) if row else None

    def get_paper(self, paper_id: str) -> Paper | None:
        """A stored paper or None."""
        found = self.paper_row(paper_id)
        return found[0] if found else None

    def put_paper(self, paper: Paper, chunks: Sequence[Chunk], vec_hashes: Sequence[str], text_len: int) -> None:
        """Insert or replace a paper with its chunks (in the transaction the caller commits)."""
        seq_row = self.db.execute("SELECT seq FROM papers WHERE paper_id = ?", (paper.paper_id,)).fetchone()
        seq = (
            int(seq_row[0])
            if seq_row
            else int(self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM papers").fetchone()[0])
        )
        self.db.execute(
            "INSERT OR REPLACE INTO papers VALUES (?, ?, ?, ?, ?, ?)",
            (paper.paper_id, paper.model_dump_json(), paper.source.split("#")[0], paper.content_hash, text_len, seq),
        )
        self.db.execute("DELETE FROM chunks WHERE paper_id = ?", (paper.paper_id,))
        self.db.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (c.paper_id, c.chunk_id, c.ordinal, c.text, c.section, c.page, h)
                for c, h in zip(chunks, vec_hashes, strict=True)
            ],
        )

    def put_record(self, paper: Paper) -> None:
        """Replace a stored paper's record (metadata only: chunks, hash and position unchanged; caller commits)."""
        self.db.execute("UPDATE papers SET record = ? WHERE paper_id = ?", (paper.model_dump_json(), paper.paper_id))

    def delete_paper(self, paper_id: str) -> None:
        """Remove a paper, its chunks, its dedupe keys and its tag edits (in the transaction the caller commits).
        Cached vectors stay: adding the paper again embeds nothing."""
        for table in ("papers", "chunks", "keys", "tag_edits"):
            self.db.execute(f"DELETE FROM {table} WHERE paper_id = ?", (paper_id,))

    def tag_edits(self, paper_id: str) -> list[tuple[str, str]]:
        """(tag, ``add``/``remove``) a person made on a paper, in the order made."""
        rows = self.db.execute("SELECT tag, op FROM tag_edits WHERE paper_id = ? ORDER BY rowid", (paper_id,))
        return [(str(tag), str(op)) for tag, op in rows]

    def put_tag_edit(self, paper_id: str, tag: str, op: str) -> None:
        """Record that a person added (``add``) or removed (``remove``) a tag (caller commits)."""
        self.db.execute("INSERT OR REPLACE INTO tag_edits VALUES (?, ?, ?, ?)", (paper_id, tag.lower(), tag, op))

    def put_keys(self, keys: Iterable[tuple[str, str]]) -> None:
        """Record dedupe keys (``src:``, ``arxiv:``, ``doi:``, ``title:``) -> paper id; existing keys are kept."""
        self.db.executemany("INSERT OR IGNORE INTO keys VALUES (?, ?)", list(keys))

    def commit(self) -> None:
        """Commit pending writes (and copy the file to ``library.sqlite.bak`` when the last copy is old)."""
        self.db.commit()
        backup_if_due(self.path)

    def rollback(self) -> None:
        """Drop pending writes."""
        self.db.rollback()

    def papers(self) -> Iterator[Paper]:
        """All papers in insertion order."""
        for (record,) in self.db.execute("SELECT record FROM papers ORDER BY seq"):
            yield Paper.model_validate_json(record)

    def chunks_of(self, paper_id: str) -> list[Chunk]:
        """A paper's chunks in order."""
        rows = self.db.execute(
            "SELECT paper_id, chunk_id, ordinal, text, section, page FROM chunks WHERE paper_id = ? ORDER BY ordinal",
            (paper_id,),
        )
        return [Chunk(paper_id=r[0], chunk_id=r[1], ordinal=r[2], text=r[3], section=r[4], page=r[5]) for r in rows]

    def get_chunk(self, paper_id: str, chunk_id: str) -> Chunk | None:
        """One chunk or None."""
        r = self.db.execute(
            "SELECT paper_id, chunk_id, ordinal, text, section, page FROM chunks WHERE paper_id = ? AND chunk_id = ?",
            (paper_id, chunk_id),
        ).fetchone()
        return Chunk(paper_id=r[0], chunk_id=r[1], ordinal=r[2], text=r[3], section=r[4], page=r[5]) if r else None

    def all_chunks(self) -> Iterator[tuple[str, str, str, str, str]]:
        """(paper_id, chunk_id, vec_hash, text, section) of every chunk, papers in insertion order."""
        yield from self.db.execute(
            "SELECT c.paper_id, c.chunk_id, c.vec_hash, c.text, c.section FROM chunks c "
            "JOIN papers p ON p.paper_id = c.paper_id ORDER BY p.seq, c.ordinal"
        )

    def counts(self) -> dict[str, int]:
        """Numbers of papers, chunks and cached vectors."""
        return {
            name: int(self.db.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0])
            for name in ("papers", "chunks", "vectors")
        }

    def source_files(self) -> dict[str, int]:
        """Source file -> number of papers from it."""
        return {str(f): int(n) for f, n in self.db.execute("SELECT source_file, COUNT(*) FROM papers GROUP BY 1")}

    # --- embedding cache ------------------------------------------------------------------------------------

    def cached_vectors(self, hashes: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """Cached vectors for the hashes that have one."""
        out: dict[str, npt.NDArray[np.float32]] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            for h, blob in self.db.execute(f"SELECT hash, vec FROM vectors WHERE hash IN ({marks})", part):
                out[str(h)] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_vectors(self, items: Iterable[tuple[str, npt.NDArray[np.float32]]]) -> None:
        """Cache vectors (committed at once so an interrupted ingest keeps its embeddings)."""
        self.db.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?, ?)", [(h, np.asarray(v, np.float32).tobytes()) for h, v in items]
        )
        self.db.commit()

    # --- meta -----------------------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A stored setting."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: object) -> None:
        """Store a setting (JSON-encoded when not a string)."""
        text = value if isinstance(value, str) else json.dumps(value)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, text))
