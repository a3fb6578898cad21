"""DATABASE_URL: `sqlite:///path` (or a bare path) or `postgresql://user:password@host:port/db`."""

from __future__ import annotations


def sqlite_path(url: str) -> str | None:
    """The file an SQLite URL or bare path names; None for PostgreSQL."""
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return None
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///") or ":memory:"
    if url.startswith("sqlite://"):
        return ":memory:"
    if "://" in url:
        raise ValueError(
            f"DATABASE_URL must start with sqlite:/// or postgresql://, not {url.split('://')[0]}://"
        )
    return url


def is_postgres(url: str) -> bool:
    return sqlite_path(url) is None


def conninfo(url: str) -> str:
    """A libpq URL psycopg takes (SQLAlchemy's driver suffix dropped)."""
    return url.replace("postgresql+psycopg://", "postgresql://").replace(
        "postgres://", "postgresql://", 1
    )


def redacted(url: str) -> str:
    """The URL without its password, fit for logs and the doctor's table."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"
