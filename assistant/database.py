"""The shared database setting (``ARA_DATABASE_URL``): masking its password and explaining connection failures.

Covers what the campaign queue (``assistant.campaign.postgres``) and the run checkpointer
(``assistant.graph.checkpoints``) say when PostgreSQL cannot be used: the setting's name, the URL with its
password masked, libpq's reason with any password removed, and what to check. Does not connect to anything.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

from assistant.errors import AssistantError

SETTING = "ARA_DATABASE_URL (database.url in ara.toml)"


class DatabaseError(AssistantError):
    """The campaign database cannot be used: unreachable, refused the credentials, or has another schema version."""


def masked(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for every message and log line)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _advice(text: str) -> tuple[str, str]:
    """(title, what to do) for a libpq connection failure."""
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return "Database refused the password", "check the user and password in the URL"
    if "does not exist" in lowered and "database" in lowered:
        return "Database does not exist", "create it first (createdb NAME, or CREATE DATABASE NAME)"
    if "invalid" in lowered and ("dsn" in lowered or "connection option" in lowered or "uri" in lowered):
        return "Invalid database URL", "write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    return (
        "Database unreachable",
        "check that the server runs and that this machine can reach HOST:PORT (pg_isready -h HOST -p PORT)",
    )


def connect_error(url: str, err: BaseException, what: str = "the campaign database") -> DatabaseError:
    """A ``DatabaseError`` for a failed connection to ``url``: the setting, the masked URL, the cause, the fix."""
    password = urlsplit(url).password
    text = " ".join(str(err).split())
    if password:
        text = text.replace(password, "***").replace(unquote(password), "***")
    title, fix = _advice(text)
    return DatabaseError(
        f"could not connect to {what} {SETTING} = {masked(url)}: {text}. To fix: {fix}, or unset "
        "ARA_DATABASE_URL to use this workspace's own SQLite files. Nothing was changed.",
        title=title,
    )
