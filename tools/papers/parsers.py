"""Parsers: one file -> parsed documents (metadata + sections with anchors), one function per format.

Covers PDF (pypdf text layer, page anchors), HTML (bs4 + lxml, heading anchors; Distill pages and sources),
Markdown and LaTeX (heading anchors), BibTeX (bibtexparser 1.4), CSV exports (Zotero's columns, and similar
``title``/``authors``/``year`` tables), and arXiv id lists (``.txt`` lines or ``.jsonl`` records). Every failure
raises ``PaperFileError`` naming the file and what to do; in files of many entries (BibTeX, CSV, id lists) an
entry that cannot be read is skipped and reported (``SkippedEntry``: line and reason), never dropped silently. Does not cover chunking, dedupe or storage.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from tools.papers.ids import find_arxiv_id, normalise_arxiv_id, normalise_doi
from tools.papers.models import PaperFileError, SkippedEntry, SourceKind

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 100 * 1024 * 1024
"""Files larger than this are refused (a per-file error) rather than read into memory."""


@dataclass
class Section:
    """A run of text under one heading (or on one PDF page)."""

    title: str
    text: str
    page: int | None = None


@dataclass
class ParsedDoc:
    """What a parser found for one paper, before ids and chunks are assigned."""

    title: str
    source: str
    source_kind: SourceKind
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    arxiv_id: str | None = None
    doi: str | None = None
    url: str | None = None
    abstract: str = ""
    tags: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    line: int | None = None
    """Line of the entry in its file (BibTeX, CSV and id lists), for reports."""


class Parsed(NamedTuple):
    """A file's papers and the entries that were skipped."""

    docs: list[ParsedDoc]
    skipped: list[SkippedEntry]


def _reasons(skipped: list[SkippedEntry]) -> str:
    if not skipped:
        return ""
    return " (" + "; ".join(f"line {s.line}: {s.reason}" for s in skipped[:3]) + ")"


def read_text(path: Path) -> str:
    """Decode a text file: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252 with a warning."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        if b"\x00" in data[:4096]:
            raise PaperFileError(
                f"{path}: looks like a binary file, not text (NUL bytes; {err.reason} at byte {err.start}); "
                "check the file type or rename it to its real extension"
            ) from err
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as err2:
            raise PaperFileError(
                f"{path}: not UTF-8 and not Windows-1252 text (byte {err2.start}); re-save it as UTF-8"
            ) from err2
        log.warning("%s is not UTF-8; decoded as Windows-1252", path)
        return text


def _year(raw: str | None) -> int | None:
    match = re.search(r"(1[89]\d\d|20\d\d)", raw or "")
    return int(match.group(1)) if match else None


def _clean(text: str) -> str:
    return re.sub(r"[ \t\r\f\v]+", " ", re.sub(r"\n\s*\n+", "\n\n", text)).strip()


# --- PDF -----------------------------------------------------------------------------------------------------


_PDF_HEADING = re.compile(
    r"^(?:\d+(?:\.\d+)*\.?\s+)?(abstract|introduction|related work|background|methods?|"
    r"experiments?|results|discussion|conclusions?|references|appendix)\b",
    re.IGNORECASE,
)


def parse_pdf(path: Path) -> list[ParsedDoc]:
    """Text layer of a PDF, one section per page (anchored ``p. N``) with the last heading seen as section."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise PaperFileError(f"{path}: the PDF is encrypted with a password; save an unencrypted copy and add it")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except PaperFileError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as err:
        raise PaperFileError(
            f"{path}: not a readable PDF ({type(err).__name__}: {err}); re-download or re-export it"
        ) from err
    except NotImplementedError as err:
        raise PaperFileError(f"{path}: PDF uses an unsupported feature ({err}); re-export it as a plain PDF") from err
    if not any(p.strip() for p in pages):
        raise PaperFileError(
            f"{path}: the PDF has no text layer ({len(pages)} pages of images); run OCR on it "
            "(e.g. ocrmypdf) and add the result"
        )
    first_lines = [ln.strip() for ln in pages[0].splitlines() if ln.strip()]
    title = meta_title.strip() or (first_lines[0] if first_lines else path.stem)
    sections: list[Section] = []
    heading = ""
    for number, page_text in enumerate(pages, start=1):
        for line in page_text.splitlines():
            match = _PDF_HEADING.match(line.strip())
            if match and len(line.strip()) < 60:
                heading = line.strip()
                break
        if page_text.strip():
            sections.append(Section(title=heading, text=_clean(page_text), page=number))
    return [
        ParsedDoc(
            title=title,
            source=str(path),
            source_kind="pdf",
            arxiv_id=find_arxiv_id(path.name.replace("_", "."), pages[0]) or normalise_arxiv_id(path.stem),
            doi=normalise_doi(pages[0][:3000]),
            sections=sections,
        )
    ]


# --- HTML ----------------------------------------------------------------------------------------------------


def parse_html(path: Path) -> list[ParsedDoc]:
    """Article text of an HTML page (scripts, styles, navigation dropped), one section per h1-h3 heading."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(read_text(path), "lxml")
    for tag in soup(["script", "style", "nav", "header", "footer", "svg", "noscript", "d-appendix"]):
        tag.decompose()
    title = ""
    front = soup.find("d-front-matter")
    if front is not None:
        try:
            title = str(json.loads(front.get_text()).get("title", ""))
        except json.JSONDecodeError:
            title = ""
    d_title = soup.find("d-title")
    title_tag = (d_title.find("h1") if d_title is not None else None) or soup.find("title") or soup.find("h1")
    if not title and title_tag is not None:
        title = title_tag.get_text(" ", strip=True)
    meta = {m.get("name") or m.get("property"): m.get("content") for m in soup.find_all("meta")}
    title = title or str(meta.get("citation_title") or meta.get("og:title") or path.stem.replace("_", " "))
    body = soup.find("d-article") or soup.find("article") or soup.body or soup
    sections: list[Section] = []
    current, parts = "", list[str]()
    for element in body.find_all(["h1", "h2", "h3", "p", "li", "figcaption", "blockquote", "pre", "td"]):
        if element.name in ("h1", "h2", "h3"):
            if parts:
                sections.append(Section(title=current, text=_clean("\n".join(parts))))
            current, parts = element.get_text(" ", strip=True), []
        elif element.find(["p", "li"]) is None:
            text = element.get_text(" ", strip=True)
            if text:
                parts.append(text)
    if parts:
        sections.append(Section(title=current, text=_clean("\n".join(parts))))
    if not sections:
        raise PaperFileError(f"{path}: no article text found in the HTML (no paragraphs); check the file")
    authors = [str(m.get("content")) for m in soup.find_all("meta", attrs={"name": "citation_author"})]
    return [
        ParsedDoc(
            title=" ".join(title.split()),
            source=str(path),
            source_kind="html",
            authors=[a for a in authors if a and a != "None"],
            year=_year(str(meta.get("citation_publication_date") or meta.get("citation_date") or "")),
            doi=normalise_doi(str(meta.get("citation_doi") or "")),
            arxiv_id=find_arxiv_id(str(meta.get("citation_arxiv_id") or "")),
            sections=sections,
        )
    ]


# --- Markdown / LaTeX ----------------------------------------------------------------------------------------


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    match = re.match(r"^\s*---\n(.*?)\n---\s*\n", text, re.DOTALL)
    if not match:
        return {}, text
    fields = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith((" ", "-")):
            fields[key.strip()] = value.strip().strip("\"'")
    return fields, text[match.end() :]


def parse_markdown(path: Path) -> list[ParsedDoc]:
    """A Markdown document, one section per ``#`` heading; YAML front matter and HTML comments dropped."""
    text = re.sub(r"<!--.*?-->", "", read_text(path), flags=re.DOTALL)
    fields, text = _front_matter(text)
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    sections: list[Section] = []
    current, parts, title = "", list[str](), fields.get("title", "") or fields.get("page-title", "")
    for line in text.splitlines():
        match = re.match(r"^(#{1,4})\s+(.*)$", line)
        if match:
            if parts and "".join(parts).strip():
                sections.append(Section(title=current, text=_clean("\n".join(parts))))
            current, parts = match.group(2).strip(), []
            if not title and len(match.group(1)) == 1:
                title = current
        else:
            parts.append(line)
    if parts and "".join(parts).strip():
        sections.append(Section(title=current, text=_clean("\n".join(parts))))
    if not sections:
        raise PaperFileError(f"{path}: the Markdown file has no text; check the file")
    return [
        ParsedDoc(
            title=title or path.stem.replace("-", " ").replace("_", " "),
            source=str(path),
            source_kind="markdown",
            year=_year(fields.get("date")),
            arxiv_id=normalise_arxiv_id(fields.get("arxiv", "")) if fields.get("arxiv") else None,
            sections=sections,
        )
    ]


def _strip_latex(text: str) -> str:
    text = re.sub(r"(?<!\\)%.*", "", text)
    text = re.sub(r"\\(?:cite|ref|label|eqref|citep|citet)\{[^}]*\}", "", text)
    text = re.sub(
        r"\\begin\{(?:figure|table|equation|align)\*?\}.*?\\end\{(?:figure|table|equation|align)\*?\}",
        "",
        text,
        flags=re.DOTALL,
    )
    text = re.sub(r"\\[a-zA-Z]+\*?(?:\[[^\]]*\])?\{([^}]*)\}", r"\1", text)
    text = re.sub(r"\\[a-zA-Z]+\*?", " ", text)
    return _clean(text.replace("{", "").replace("}", "").replace("~", " "))


def parse_latex(path: Path) -> list[ParsedDoc]:
    """A LaTeX source, one section per ``\\section``/``\\subsection``; the abstract environment as abstract."""
    raw = read_text(path)
    title_match = re.search(r"\\title\{(.*?)\}\s*$", raw, re.MULTILINE | re.DOTALL)
    title = _strip_latex(title_match.group(1)) if title_match else path.stem
    abstract_match = re.search(r"\\begin\{abstract\}(.*?)\\end\{abstract\}", raw, re.DOTALL)
    abstract = _strip_latex(abstract_match.group(1)) if abstract_match else ""
    body_match = re.search(r"\\begin\{document\}(.*?)(?:\\end\{document\}|$)", raw, re.DOTALL)
    body = body_match.group(1) if body_match else raw
    if abstract_match:
        body = body.replace(abstract_match.group(0), "")
    pieces = re.split(r"\\(?:sub)*section\*?\{([^}]*)\}", body)
    sections = []
    if _strip_latex(pieces[0]):
        sections.append(Section(title="", text=_strip_latex(pieces[0])))
    for heading, text in zip(pieces[1::2], pieces[2::2], strict=False):
        if _strip_latex(text):
            sections.append(Section(title=_strip_latex(heading), text=_strip_latex(text)))
    if not sections and not abstract:
        raise PaperFileError(f"{path}: the LaTeX file has no text after stripping commands; check the file")
    return [ParsedDoc(title=title, source=str(path), source_kind="latex", abstract=abstract, sections=sections)]


# --- BibTeX --------------------------------------------------------------------------------------------------


def _split_authors(raw: str, sep: str) -> list[str]:
    return [a.strip() for a in raw.replace("\n", " ").split(sep) if a.strip()]


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
        title = _strip_latex(entry.get("title", ""))
        if not title:
            skipped.append(SkippedEntry(path=str(path), line=number, entry=key, reason=f"@{kind} entry has no title"))
            continue
        arxiv = None
        if entry.get("archiveprefix", "").lower() == "arxiv" or entry.get("eprinttype", "").lower() == "arxiv":
            arxiv = normalise_arxiv_id(entry.get("eprint", ""))
        arxiv = arxiv or find_arxiv_id(entry.get("journal"), entry.get("url"), entry.get("note"), entry.get("eprint"))
        arxiv = arxiv or find_arxiv_id("arXiv:" + entry.get("journal", "").removeprefix("arXiv preprint arXiv:"))
        abstract = _strip_latex(entry.get("abstract", ""))
        docs.append(
            ParsedDoc(
                title=title,
                source=f"{path}#{entry.get('ID', '')}",
                source_kind="bibtex",
                authors=_split_authors(_strip_latex(entry.get("author", "")), " and "),
                year=_year(entry.get("year")),
                arxiv_id=arxiv,
                doi=normalise_doi(entry.get("doi")),
                url=entry.get("url"),
                abstract=abstract,
                tags=[k.strip() for k in entry.get("keywords", "").split(",") if k.strip()],
                line=number,
            )
        )
    if not docs:
        raise PaperFileError(f"{path}: no BibTeX entries with a title{_reasons(skipped)}; check the file")
    return Parsed(docs, skipped)


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
        authors = _split_authors(authors_raw, ";" if ";" in authors_raw else ",") if authors_raw else []
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
                year=_year(get(row, "year")),
                arxiv_id=arxiv,
                doi=doi,
                url=get(row, "url") or None,
                abstract=get(row, "abstract"),
                tags=[t.strip() for t in re.split(r"[;,]", tags_raw) if t.strip()] if tags_raw else [],
                line=first_line,
            )
        )
    if not docs:
        raise PaperFileError(f"{path}: CSV has a title column but no row with a title{_reasons(skipped)}; check it")
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


PARSERS: dict[str, Callable[[Path], list[ParsedDoc]]] = {
    ".pdf": parse_pdf,
    ".html": parse_html,
    ".htm": parse_html,
    ".ejs": parse_html,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".tex": parse_latex,
    ".bib": parse_bibtex,
    ".csv": parse_csv,
    ".txt": parse_arxiv_list,
    ".jsonl": parse_arxiv_list,
}
"""File suffix -> parser. Files with other suffixes are skipped when a directory is walked."""


_WITH_SKIPS: dict[str, Callable[[Path], Parsed]] = {
    ".bib": bibtex_entries,
    ".csv": csv_entries,
    ".txt": arxiv_list_entries,
    ".jsonl": arxiv_list_entries,
}
"""Formats holding many entries, some of which may be skipped (each reported with its line and why)."""


def parse_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> list[ParsedDoc]:
    """Parse one file by its suffix; raises ``PaperFileError`` on any failure."""
    return parse_file_entries(path, max_bytes).docs


def parse_file_entries(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Parsed:
    """Parse one file by its suffix: its papers and the entries skipped (with line and reason).

    Raises:
        PaperFileError: the file cannot be read or holds no paper at all.
    """
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        raise PaperFileError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; supported: {', '.join(sorted(PARSERS))}"
        )
    try:
        size = path.stat().st_size
    except OSError as err:
        raise PaperFileError(f"{path}: cannot read the file ({err.strerror})") from err
    if size > max_bytes:
        raise PaperFileError(
            f"{path}: file is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit; split it or "
            "raise max_file_bytes"
        )
    if size == 0:
        raise PaperFileError(f"{path}: file is empty")
    multi = _WITH_SKIPS.get(path.suffix.lower())
    parsed = multi(path) if multi is not None else Parsed(parser(path), [])
    docs = parsed.docs
    for doc in docs:
        if doc.doi and doc.doi.startswith("10.48550/arxiv."):  # arXiv's own DOIs name the arXiv id
            doc.arxiv_id = doc.arxiv_id or normalise_arxiv_id(doc.doi.removeprefix("10.48550/arxiv."))
            doc.doi = None
    return parsed


def walk(paths: list[Path]) -> Iterator[Path]:
    """Files under ``paths`` (directories walked recursively, sorted) with a supported suffix; files as given."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in PARSERS and not child.name.startswith("."):
                    yield child
        else:
            yield path
