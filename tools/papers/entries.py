"""Files of many entries: BibTeX (with Zotero ``file`` attachments), CSV exports and arXiv id lists.

Covers BibTeX (bibtexparser 1.4; every ``@type{key,`` line matched against what it parsed, so a lost entry is
reported; a ``file`` field's PDF or HTML attachment read when it exists, relative to the .bib), CSV exports
(Zotero's columns, and similar ``title``/``authors``/``year`` tables) and arXiv id lists (``.txt`` lines or
``.jsonl`` records). An entry that cannot be read is skipped and reported (``SkippedEntry``: line and reason),
never dropped silently; a file with no usable entry raises ``PaperFileError``. Does not cover single documents
(``documents``) or choosing a parser (``parsers``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from tools.papers.documents import (
    MAX_FILE_BYTES,
    Parsed,
    ParsedDoc,
    parse_html,
    parse_pdf,
    read_text,
    reasons,
    split_authors,
    strip_latex,
    year_of,
)
from tools.papers.ids import find_arxiv_id, normalise_arxiv_id, normalise_doi
from tools.papers.models import PaperFileError, SkippedEntry

# --- BibTeX --------------------------------------------------------------------------------------------------


_BIB_START = re.compile(r"^\s*@\s*([A-Za-z]+)\s*[{(]\s*([^,\s{}()]*)")
_BIB_NOT_ENTRIES = frozenset({"comment", "string", "preamble"})


def _bib_starts(text: str) -> list[tuple[int, str, str, str]]:
    """(line number, entry type, key, raw text up to the next entry) of every ``@type{key,`` in ``text``."""
    lines = text.splitlines(keepends=True)
    found = [(n, m) for n, line in enumerate(lines, start=1) if (m := _BIB_START.match(line))]
    starts = []
    for i, (number, match) in enumerate(found):
        end = found[i + 1][0] - 1 if i + 1 < len(found) else len(lines)
        if match.group(1).lower() not in _BIB_NOT_ENTRIES:
            starts.append((number, match.group(1).lower(), match.group(2), "".join(lines[number - 1 : end])))
    return starts


def _bib_failure(raw: str) -> str:
    depth = 0
    for ch in raw:
        depth += (ch == "{") - (ch == "}")
    if depth > 0:
        return f"unbalanced braces ({depth} '{{' left open: a truncated entry or a missing '}}')"
    if depth < 0:
        return f"unbalanced braces ({-depth} extra '}}')"
    return "the entry could not be parsed (check its syntax: fields as name = {value}, separated by commas)"


def bibtex_entries(path: Path) -> Parsed:
    """Each BibTeX entry with a title becomes a paper; every other entry is reported with its line and why."""
    import bibtexparser
    from bibtexparser.bparser import BibTexParser

    text = read_text(path)
    parser = BibTexParser(common_strings=True)
    parser.ignore_nonstandard_types = False
    try:
        database = bibtexparser.loads(text, parser=parser)
    except (ValueError, KeyError, IndexError) as err:
        raise PaperFileError(f"{path}: BibTeX could not be parsed ({err}); check the entry syntax") from err
    parsed: dict[str, list[dict[str, str]]] = {}
    for entry in database.entries:
        parsed.setdefault(entry.get("ID", ""), []).append(entry)
    docs: list[ParsedDoc] = []
    skipped: list[SkippedEntry] = []
    for number, kind, key, raw in _bib_starts(text):
        matches = parsed.get(key) or []
        if not matches:
            skipped.append(SkippedEntry(path=str(path), line=number, entry=key, reason=_bib_failure(raw)))
            continue
        entry = matches.pop(0)
        title = strip_latex(entry.get("title", ""))
        if not title:
            skipped.append(SkippedEntry(path=str(path), line=number, entry=key, reason=f"@{kind} entry has no title"))
            continue
        arxiv = None
        if entry.get("archiveprefix", "").lower() == "arxiv" or entry.get("eprinttype", "").lower() == "arxiv":
            arxiv = normalise_arxiv_id(entry.get("eprint", ""))
        arxiv = arxiv or find_arxiv_id(entry.get("journal"), entry.get("url"), entry.get("note"), entry.get("eprint"))
        arxiv = arxiv or find_arxiv_id("arXiv:" + entry.get("journal", "").removeprefix("arXiv preprint arXiv:"))
        abstract = strip_latex(entry.get("abstract", ""))
        doc = ParsedDoc(
            title=title,
            source=f"{path}#{entry.get('ID', '')}",
            source_kind="bibtex",
            authors=split_authors(strip_latex(entry.get("author", "")), " and "),
            year=year_of(entry.get("year")),
            arxiv_id=arxiv,
            doi=normalise_doi(entry.get("doi")),
            url=entry.get("url"),
            abstract=abstract,
            tags=[k.strip() for k in re.split(r"[,;]", entry.get("keywords", "")) if k.strip()],
            line=number,
        )
        if entry.get("file"):
            _read_attachment(doc, path, entry["file"])
        docs.append(doc)
    if not docs:
        raise PaperFileError(f"{path}: no BibTeX entries with a title{reasons(skipped)}; check the file")
    return Parsed(docs, skipped)


def attachment_paths(field_value: str) -> list[str]:
    """File paths of a BibTeX ``file`` field as Zotero, Better BibTeX and JabRef write it: ``;``-separated
    ``description:path:mime`` triples (or bare paths), with ``\\:`` and ``\\;`` escaping ``:`` and ``;``."""
    paths = []
    for item in re.split(r"(?<!\\);", field_value):
        parts = [p.replace("\\:", ":").replace("\\;", ";").replace("\\\\", "\\") for p in re.split(r"(?<!\\):", item)]
        if len(parts) >= 3:
            candidate = ":".join(parts[1:-1])
        elif len(parts) == 2 and re.fullmatch(r"[A-Za-z]", parts[0]):
            candidate = ":".join(parts)
        else:
            candidate = parts[-1] if len(parts) == 2 else parts[0]
        if candidate.strip():
            paths.append(candidate.strip())
    return paths


_ATTACHMENT_PARSERS = {".pdf": parse_pdf, ".html": parse_html, ".htm": parse_html}


def _read_attachment(doc: ParsedDoc, bib: Path, field_value: str) -> None:
    """Give ``doc`` the text of its first readable PDF (else HTML) attachment, paths relative to the .bib file;
    what was read, missing or unreadable goes to ``doc.notes``."""
    found: list[Path] = []
    for raw in attachment_paths(field_value):
        candidate = Path(raw).expanduser()
        candidate = candidate if candidate.is_absolute() else bib.parent / candidate
        if candidate.suffix.lower() not in _ATTACHMENT_PARSERS:
            continue
        if not candidate.is_file():
            doc.notes.append(f"attachment {raw} not found (looked at {candidate}); imported the entry's metadata")
            continue
        found.append(candidate)
    for candidate in sorted(found, key=lambda p: p.suffix.lower() != ".pdf"):
        if candidate.stat().st_size > MAX_FILE_BYTES:
            doc.notes.append(f"attachment {candidate} is over {MAX_FILE_BYTES // 2**20} MiB; not read")
            continue
        try:
            [attached] = _ATTACHMENT_PARSERS[candidate.suffix.lower()](candidate)
        except PaperFileError as err:
            doc.notes.append(f"attachment not read: {err}")
            continue
        doc.sections = attached.sections
        doc.arxiv_id = doc.arxiv_id or attached.arxiv_id
        doc.doi = doc.doi or attached.doi
        doc.notes.append(f"text from attachment {candidate}")
        return


def parse_bibtex(path: Path) -> list[ParsedDoc]:
    """The papers of a BibTeX file (``bibtex_entries`` without the skipped entries)."""
    return bibtex_entries(path).docs


# --- CSV (Zotero and similar) --------------------------------------------------------------------------------

_COLUMNS: dict[str, tuple[str, ...]] = {
    "title": ("title", "name", "link_text"),
    "authors": ("author", "authors"),
    "year": ("publication year", "year", "published_year", "date"),
    "abstract": ("abstract note", "abstract", "one_sentence_summary", "summary"),
    "doi": ("doi",),
    "url": ("url", "link_url", "link"),
    "extra": ("extra",),
    "arxiv": ("arxiv id", "arxiv_id", "arxiv"),
    "tags": ("manual tags", "tags", "agenda_name"),
}


def csv_entries(path: Path) -> Parsed:
    """Rows of a Zotero CSV export (or any CSV with a title column) as papers; every skipped row is reported with
    its line and why (no title, or more fields than the header, which shifts every column after the extra one)."""
    csv.field_size_limit(16 * 1024 * 1024)
    reader = csv.DictReader(io.StringIO(read_text(path)))
    header = {name.strip().lower(): name for name in reader.fieldnames or []}
    cols = {key: next((header[c] for c in names if c in header), None) for key, names in _COLUMNS.items()}
    if cols["title"] is None:
        raise PaperFileError(
            f"{path}: CSV has no title column (looked for {', '.join(_COLUMNS['title'])}; found "
            f"{', '.join(list(header)[:12]) or 'no header'}); export with a 'Title' column"
        )

    def get(row: dict[str, str], key: str) -> str:
        col = cols[key]
        return (row.get(col) or "").strip() if col else ""

    docs: list[ParsedDoc] = []
    skipped: list[SkippedEntry] = []
    line = reader.line_num
    for number, row in enumerate(reader, start=2):
        first_line, line = line + 1, reader.line_num
        extra = row.get(None)
        if extra:
            skipped.append(
                SkippedEntry(
                    path=str(path),
                    line=first_line,
                    entry=f"row {number}",
                    reason=f"{len(header) + len(extra)} fields where the header has {len(header)} (an unquoted comma?)",
                )
            )
            continue
        title = get(row, "title")
        if not title:
            skipped.append(SkippedEntry(path=str(path), line=first_line, entry=f"row {number}", reason="no title"))
            continue
        authors_raw = get(row, "authors")
        authors = split_authors(authors_raw, ";" if ";" in authors_raw else ",") if authors_raw else []
        if authors_raw and ";" not in authors_raw and authors_raw.count(",") == 1:
            authors = [authors_raw]
        doi = normalise_doi(get(row, "doi"))
        arxiv = normalise_arxiv_id(get(row, "arxiv")) if get(row, "arxiv") else None
        arxiv = arxiv or find_arxiv_id(get(row, "url"), get(row, "extra"))
        tags_raw = get(row, "tags")
        docs.append(
            ParsedDoc(
                title=title,
                source=f"{path}#row{number}",
                source_kind="csv",
                authors=authors,
                year=year_of(get(row, "year")),
                arxiv_id=arxiv,
                doi=doi,
                url=get(row, "url") or None,
                abstract=get(row, "abstract"),
                tags=[t.strip() for t in re.split(r"[;,]", tags_raw) if t.strip()] if tags_raw else [],
                line=first_line,
            )
        )
    if not docs:
        raise PaperFileError(f"{path}: CSV has a title column but no row with a title{reasons(skipped)}; check it")
    return Parsed(docs, skipped)


def parse_csv(path: Path) -> list[ParsedDoc]:
    """The papers of a CSV export (``csv_entries`` without the skipped rows)."""
    return csv_entries(path).docs


# --- arXiv id lists ------------------------------------------------------------------------------------------


def arxiv_list_entries(path: Path) -> Parsed:
    """arXiv ids with titles: ``.txt`` lines ``<id> <title>`` (tab or spaces) or ``.jsonl`` ``arxiv_id``/``title``;
    every skipped line is reported with why."""
    docs = []
    bad: list[str] = []
    skipped: list[SkippedEntry] = []
    lines = read_text(path).splitlines()
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if path.suffix == ".jsonl":
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                bad.append(f"line {number}: not JSON")
                skipped.append(SkippedEntry(path=str(path), line=number, entry=f"line {number}", reason="not JSON"))
                continue
            if not isinstance(record, dict):
                bad.append(f"line {number}: not a JSON object")
                skipped.append(
                    SkippedEntry(path=str(path), line=number, entry=f"line {number}", reason="not an object")
                )
                continue
            raw_id, title = str(record.get("arxiv_id", "")), str(record.get("title", ""))
            year = record.get("year") if isinstance(record.get("year"), int) else None
            tags = [str(record["topic"])] if record.get("topic") else []
        else:
            raw_id, _, title = line.partition(" ") if "\t" not in line else line.partition("\t")
            year, tags = None, []
        arxiv = normalise_arxiv_id(raw_id)
        if arxiv is None or not title.strip():
            why = "no title" if arxiv else f"not an arXiv id: {raw_id[:40]!r}"
            bad.append(f"line {number}: {why}")
            skipped.append(SkippedEntry(path=str(path), line=number, entry=f"line {number}", reason=why))
            continue
        docs.append(
            ParsedDoc(
                title=title.strip(),
                source=f"{path}#L{number}",
                source_kind="arxiv-list",
                arxiv_id=arxiv,
                year=year or (2000 + int(arxiv[:2]) if arxiv[:2].isdigit() and "." in arxiv else None),
                url=f"https://arxiv.org/abs/{arxiv}",
                tags=tags,
                line=number,
            )
        )
    if not docs:
        raise PaperFileError(
            f"{path}: no '<arXiv id> <title>' lines (or jsonl records with arxiv_id and title) found"
            + (f" ({'; '.join(bad[:3])})" if bad else "")
        )
    return Parsed(docs, skipped)


def parse_arxiv_list(path: Path) -> list[ParsedDoc]:
    """The papers of an arXiv id list (``arxiv_list_entries`` without the skipped lines)."""
    return arxiv_list_entries(path).docs
