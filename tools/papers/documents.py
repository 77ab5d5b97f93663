"""Single-document formats: one file -> one parsed document (metadata + sections with anchors).

Covers the parsed shapes (``ParsedDoc``, ``Section``, ``Parsed``), decoding text files, PDF (pypdf text layer,
page anchors), HTML (bs4 + lxml, heading anchors; Distill pages and sources), Markdown (heading anchors; YAML front
matter: title, date, authors, tags or keywords, arXiv id, DOI, URL) and LaTeX (heading anchors; LaTeX escapes
undone). Every failure raises ``PaperFileError`` naming the file and what to do. Does not cover files of many
entries (``entries``), choosing a parser (``parsers``), chunking, dedupe or storage.
"""

from __future__ import annotations

import json
import logging
import re
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
    notes: list[str] = field(default_factory=list)
    """What the import report should say about this paper (an attachment read or missing)."""


class Parsed(NamedTuple):
    """A file's papers and the entries that were skipped."""

    docs: list[ParsedDoc]
    skipped: list[SkippedEntry]


def reasons(skipped: list[SkippedEntry]) -> str:
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


def year_of(raw: str | None) -> int | None:
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
            year=year_of(str(meta.get("citation_publication_date") or meta.get("citation_date") or "")),
            doi=normalise_doi(str(meta.get("citation_doi") or "")),
            arxiv_id=find_arxiv_id(str(meta.get("citation_arxiv_id") or "")),
            sections=sections,
        )
    ]


# --- Markdown / LaTeX ----------------------------------------------------------------------------------------


def _front_matter(text: str) -> tuple[dict[str, str], dict[str, list[str]], str]:
    """YAML front matter as (scalar fields, list fields, the rest of the text). Lists are ``[a, b]``,
    ``a, b`` (for ``tags``/``keywords``/``authors``) or block lists of ``- item`` lines."""
    match = re.match(r"^\s*---\n(.*?)\n---\s*\n", text, re.DOTALL)
    if not match:
        return {}, {}, text
    fields: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    current = ""
    for line in match.group(1).splitlines():
        item = re.match(r"^\s*-\s+(.*)$", line)
        if item and current:
            lists.setdefault(current, []).append(item.group(1).strip().strip("\"'"))
            continue
        key, sep, value = line.partition(":")
        if not sep or line.startswith((" ", "-")):
            continue
        current, value = key.strip().lower(), value.strip()
        if value.startswith("[") and value.endswith("]"):
            lists[current] = [v.strip().strip("\"'") for v in value[1:-1].split(",") if v.strip().strip("\"'")]
        elif value:
            fields[current] = value.strip("\"'")
    return fields, lists, text[match.end() :]


def _listed(fields: dict[str, str], lists: dict[str, list[str]], *names: str, sep: str = ",") -> list[str]:
    for name in names:
        if lists.get(name):
            return lists[name]
        if fields.get(name):
            return [v.strip() for v in fields[name].split(sep) if v.strip()]
    return []


def split_authors(raw: str, sep: str) -> list[str]:
    """Author names of ``raw`` separated by ``sep`` (line breaks folded)."""
    return [a.strip() for a in raw.replace("\n", " ").split(sep) if a.strip()]


def _front_authors(fields: dict[str, str], lists: dict[str, list[str]]) -> list[str]:
    listed = lists.get("authors") or lists.get("author")
    if listed:
        return listed
    raw = fields.get("authors") or fields.get("author") or ""
    return split_authors(raw, ";" if ";" in raw else " and ")


def parse_markdown(path: Path) -> list[ParsedDoc]:
    """A Markdown document, one section per ``#`` heading; YAML front matter read for title, date, authors, tags
    (or keywords), arXiv id, DOI and URL; HTML comments dropped."""
    text = re.sub(r"<!--.*?-->", "", read_text(path), flags=re.DOTALL)
    fields, lists, text = _front_matter(text)
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
            authors=_front_authors(fields, lists),
            year=year_of(fields.get("date") or fields.get("year")),
            arxiv_id=normalise_arxiv_id(fields.get("arxiv", "")) or find_arxiv_id(fields.get("url")),
            doi=normalise_doi(fields.get("doi")),
            url=fields.get("url") or None,
            tags=_listed(fields, lists, "tags", "keywords"),
            sections=sections,
        )
    ]


_ESCAPED = {"&": "&", "%": "%", "$": "$", "#": "#", "_": "_", "{": "\x01", "}": "\x02"}
_TEXT_SYMBOLS = {r"\textbackslash{}": "\x03", r"\textasciitilde{}": "\x04", r"\textasciicircum{}": "^"}
_RESTORE = str.maketrans({"\x01": "{", "\x02": "}", "\x03": "\\", "\x04": "~"})


def strip_latex(text: str) -> str:
    text = re.sub(r"(?<!\\)%.*", "", text)
    text = re.sub(r"\\(?:cite|ref|label|eqref|citep|citet)\{[^}]*\}", "", text)
    text = re.sub(
        r"\\begin\{(?:figure|table|equation|align)\*?\}.*?\\end\{(?:figure|table|equation|align)\*?\}",
        "",
        text,
        flags=re.DOTALL,
    )
    text = re.sub(r"\\text(?:backslash|asciitilde|asciicircum)\{\}", lambda m: _TEXT_SYMBOLS[m.group(0)], text)
    text = re.sub(r"\\([&%$#_{}])", lambda m: _ESCAPED[m.group(1)], text)
    text = re.sub(r"\\[a-zA-Z]+\*?(?:\[[^\]]*\])?\{([^}]*)\}", r"\1", text)
    text = re.sub(r"\\[a-zA-Z]+\*?", " ", text)
    text = text.replace("{", "").replace("}", "").replace("~", " ")
    return _clean(text.translate(_RESTORE))


def parse_latex(path: Path) -> list[ParsedDoc]:
    """A LaTeX source, one section per ``\\section``/``\\subsection``; the abstract environment as abstract."""
    raw = read_text(path)
    title_match = re.search(r"\\title\{(.*?)\}\s*$", raw, re.MULTILINE | re.DOTALL)
    title = strip_latex(title_match.group(1)) if title_match else path.stem
    abstract_match = re.search(r"\\begin\{abstract\}(.*?)\\end\{abstract\}", raw, re.DOTALL)
    abstract = strip_latex(abstract_match.group(1)) if abstract_match else ""
    body_match = re.search(r"\\begin\{document\}(.*?)(?:\\end\{document\}|$)", raw, re.DOTALL)
    body = body_match.group(1) if body_match else raw
    if abstract_match:
        body = body.replace(abstract_match.group(0), "")
    pieces = re.split(r"\\(?:sub)*section\*?\{([^}]*)\}", body)
    sections = []
    if strip_latex(pieces[0]):
        sections.append(Section(title="", text=strip_latex(pieces[0])))
    for heading, text in zip(pieces[1::2], pieces[2::2], strict=False):
        if strip_latex(text):
            sections.append(Section(title=strip_latex(heading), text=strip_latex(text)))
    if not sections and not abstract:
        raise PaperFileError(f"{path}: the LaTeX file has no text after stripping commands; check the file")
    return [ParsedDoc(title=title, source=str(path), source_kind="latex", abstract=abstract, sections=sections)]
