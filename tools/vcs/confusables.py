"""Identity folding: the form two names are compared in, so a look-alike of ``ara-agent`` is still ara's name.

Covers ``skeleton``: Unicode NFKC, then invisible characters removed (format characters such as zero-width
joiners and bidi marks, combining marks, variation selectors), then each character mapped to the
representative of its Unicode confusables class (Unicode TR39 data, shipped by ``confusable-homoglyphs``;
an ASCII member is the representative where the class has one, so Cyrillic ``а``, fullwidth ``ａ`` and
``U+2010 HYPHEN`` become ``a``, ``a`` and ``-``), then case folding. ``reserved_identity`` says why a
reviewer name or e-mail is one only ara or a policy may carry. Does not cover who may review
(``assistant.review.identity``).
"""

from __future__ import annotations

import json
import unicodedata
from functools import cache
from importlib import resources

AGENT_NAME_SKELETON = "araagent"
"""``ara-agent`` folded, punctuation and spaces dropped: any name that folds to this is the agent's."""

ASCII_FOLDS = {"1": "l", "I": "l", "O": "0", "`": "'", "|": "l"}
"""The confusables classes restricted to printable ASCII (a test checks this against the data), so a plain
ASCII name is folded without loading the table."""

_ASCII_SEQUENCES = {"rn": "m", "vv": "w", "cl": "d"}
"""Multi-letter ASCII look-alikes folded to one letter (Unicode's confusables list ``rn`` with ``m``)."""


@cache
def _classes() -> dict[str, str]:
    """Character -> representative of its confusables class (single characters only)."""
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8")
    data: dict[str, list[dict[str, str]]] = json.loads(raw)
    parent: dict[str, str] = {}
    nodes: set[str] = set()

    def find(x: str) -> str:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    for key, entries in data.items():
        for entry in entries:
            nodes.update((key, entry["c"]))
            a, b = find(key), find(entry["c"])
            if a != b:
                parent[a] = b
    members: dict[str, list[str]] = {}
    for ch in nodes:
        members.setdefault(find(ch), []).append(ch)
    out: dict[str, str] = {}
    for group in members.values():
        singles = [c for c in group if len(c) == 1]
        ascii_letters = sorted(c for c in singles if c.isascii() and c.islower())
        ascii_any = sorted(c for c in singles if c.isascii() and c.isprintable())
        rep = (ascii_letters or ascii_any or sorted(singles) or [""])[0]
        if not rep:
            continue
        for ch in singles:
            out[ch] = rep
    return out


def _visible(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category not in ("Cf", "Mn", "Me", "Cc") and not 0xFE00 <= ord(ch) <= 0xFE0F


def skeleton(text: str) -> str:
    """``text`` folded for comparison: NFKC, invisibles dropped, confusables mapped, case folded."""
    if text.isascii() and text.isprintable():
        mapped = "".join(ASCII_FOLDS.get(ch, ch) for ch in text).casefold()
    else:
        folded = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text))
        visible = "".join(ch for ch in folded if _visible(ch))
        classes = _classes()
        mapped = "".join(classes.get(ch, ch) for ch in unicodedata.normalize("NFC", visible))
        mapped = unicodedata.normalize("NFKC", mapped).casefold()
    for seq, letter in _ASCII_SEQUENCES.items():
        mapped = mapped.replace(seq, letter)
    return mapped


def alnum_skeleton(text: str) -> str:
    """``skeleton`` with everything but letters and digits dropped (``ara agent`` and ``ara_agent`` alike)."""
    return "".join(ch for ch in skeleton(text) if ch.isalnum())


def reserved_identity(name: str, email: str) -> str | None:
    """Why ``name <email>`` impersonates ara or a policy (None when it does not).

    Refused: a name or e-mail local part that folds to ``ara-agent``, an e-mail that folds to
    ``ara-agent@localhost``, and names that fold to ``policy:...`` (the reviewers recorded for unattended plan
    approvals, which never decide on a proposal).
    """
    if alnum_skeleton(name) == _agent_skeleton() or alnum_skeleton(email.partition("@")[0]) == _agent_skeleton():
        return f"{name} <{email}> reads as ara's own identity (ara-agent) once look-alike characters are folded"
    if skeleton(email).strip() == skeleton("ara-agent@localhost"):
        return f"<{email}> reads as ara's own e-mail (ara-agent@localhost) once look-alike characters are folded"
    if skeleton(name).replace(" ", "").startswith("policy:"):
        return f"{name!r} reads as a policy's name (policy:...), which never decides on a proposal"
    return None


def _agent_skeleton() -> str:
    return alnum_skeleton("ara-agent")
